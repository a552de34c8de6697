# RetinaNet with SepViT-T on COCO, 1x schedule (12 epochs), batch 16 in total
# (8 GPUs x 2). Paper: AdamW lr 1e-4, weight decay 1e-3, 500-iteration linear
# warm-up, lr x0.1 at epochs 8 and 11, drop path 0.2; single-scale 1333x800
# with flip; FPN from stage 2 with extra convs on its input (all as in mmdet's
# ResNet-50 RetinaNet, which this inherits).
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    './_base_/mmsepvit_runtime.py'
]

# ImageNet-1K weights of SepViT-T (see README: "Pretrained weights").
pretrained = 'checkpoints/sepvit_t_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='SepViT',
        arch='tiny',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[96, 192, 384, 768]))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-3))
