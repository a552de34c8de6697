# Mask R-CNN with Shuffle-S on COCO, 1x: the T recipe (Swin's Mask R-CNN 1x;
# mmdet has no Swin-S 1x config) with drop path 0.3, Swin-S's value.
_base_ = './mask_rcnn_shuffle_t_1x_coco.py'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/shuffle_s_in1k.pth')))
