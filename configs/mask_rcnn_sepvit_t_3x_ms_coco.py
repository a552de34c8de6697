# Mask R-CNN with SepViT-T on COCO, 3x (36 epochs) multi-scale, inheriting
# mmdet's Swin-T 3x recipe (AdamW lr 1e-4, Swin's multi-scale + crop pipeline,
# steps at 27 and 33). Paper: weight decay 0.05 with none on position-encoding
# and norm parameters, drop path 0.3 (the released T config ships 0.2), and a
# 500-iteration warm-up.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py',
    './_base_/sepvit_t_dense.py'
]

model = dict(
    backbone={{_base_.sepvit_t_3x}},
    neck=dict(in_channels={{_base_.sepvit_t_channels}}))

max_epochs = 36
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[27, 33],
        gamma=0.1)
]
optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, custom_keys={{_base_.no_decay_keys}}))
