# Mask R-CNN with Dual-ViT-S on COCO, 1x schedule (12 epochs), batch 16 in
# total (8 GPUs x 2). The release (object_detection/, mmdet 2.x): AdamW lr
# 2e-4, weight decay 1e-4, 500-iteration linear warm-up, lr x0.1 at epochs 8
# and 11, single-scale 1333x800 with flip, FPN on all four stages (mmdet's
# ResNet-50 Mask R-CNN, which this inherits); drop path 0.15; stem
# BatchNorms with a frozen affine; fp16 in the release, fp32 here.
# Released box/mask AP: 46.5 / 42.2.
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    './_base_/dualvit_s_dense.py'
]

model = dict(
    backbone={{_base_.dualvit_s_det}},
    neck=dict(in_channels={{_base_.dualvit_s_channels}}))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=1e-4))
