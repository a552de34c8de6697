# RetinaNet with SepViT-T on COCO, 1x schedule (12 epochs), batch 16 in total
# (8 GPUs x 2). Paper: AdamW lr 1e-4, weight decay 1e-3, 500-iteration linear
# warm-up, lr x0.1 at epochs 8 and 11, drop path 0.2; single-scale 1333x800
# with flip; FPN from stage 2 with extra convs on its input (all as in mmdet's
# ResNet-50 RetinaNet, which this inherits).
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    './_base_/sepvit_t_dense.py'
]

model = dict(
    backbone={{_base_.sepvit_t}},
    neck=dict(in_channels={{_base_.sepvit_t_channels}}))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-3))
