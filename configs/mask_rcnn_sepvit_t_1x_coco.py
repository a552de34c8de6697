# Mask R-CNN with SepViT-T on COCO, 1x schedule, batch 16 in total (8 x 2).
# Paper: as RetinaNet 1x (AdamW lr 1e-4, weight decay 1e-3, 500-iteration
# warm-up, steps at 8 and 11, drop path 0.2); FPN on all four stages. The
# released config uses lr 2e-4; we follow the paper.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
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
