# Mask R-CNN with Shuffle-T on COCO, 1x schedule, batch 16 in total (8 x 2).
# The paper gives no detection recipe and the release no detection code;
# this follows Swin's Mask R-CNN 1x as mmdet ships it
# (mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py): AdamW lr 1e-4,
# weight decay 0.05 (none on norms and relative position tables),
# 1000-iteration linear warm-up, steps at epochs 8 and 11, drop path 0.2, FPN
# on all four stages. Backbone BatchNorms: SyncBN, trained.
_base_ = [
    'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py',
    './_base_/shuffle_t_dense.py'
]

model = dict(
    backbone={{_base_.shuffle_t}},
    neck=dict(in_channels={{_base_.shuffle_t_channels}}))
