# Mask R-CNN with SepViT-T on COCO, 1x schedule, batch 16 in total (8 x 2).
# Paper: as RetinaNet 1x (AdamW lr 1e-4, weight decay 1e-3, 500-iteration
# warm-up, steps at 8 and 11, drop path 0.2); FPN on all four stages. The
# released config uses lr 2e-4; we follow the paper.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
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
