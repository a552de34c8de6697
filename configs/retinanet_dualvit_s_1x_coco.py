# RetinaNet with Dual-ViT-S on COCO, 1x schedule (12 epochs), batch 16 in
# total (8 GPUs x 2). The release (object_detection/, mmdet 2.x): AdamW lr
# 1e-4, weight decay 1e-4, 500-iteration linear warm-up, lr x0.1 at epochs 8
# and 11, single-scale 1333x800 with flip, FPN from stage 2 with extra convs
# on its input (all as mmdet's ResNet-50 RetinaNet, which this inherits);
# drop path 0.15; stem BatchNorms with a frozen affine. The release trained in
# fp16; this config trains in fp32 (add type='AmpOptimWrapper' for fp16).
# Released box AP: 46.2.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    './_base_/dualvit_s_dense.py'
]

model = dict(
    backbone={{_base_.dualvit_s_det}},
    neck=dict(in_channels={{_base_.dualvit_s_channels}}))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4))
