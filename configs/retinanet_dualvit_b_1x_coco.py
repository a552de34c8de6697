# RetinaNet with Dual-ViT-B on COCO, 1x: the recipe of
# ./retinanet_dualvit_s_1x_coco.py (the release's object_detection/ config)
# with the B backbone. Released box AP: 47.4.
_base_ = [
    'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py',
    './_base_/dualvit_b_dense.py'
]

model = dict(
    backbone={{_base_.dualvit_b_det}},
    neck=dict(in_channels={{_base_.dualvit_b_channels}}))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=1e-4))
