# Cascade Mask R-CNN with MSG-Transformer-B on COCO, 3x multi-scale: the T
# recipe (see cascade_mask_rcnn_msg_t_3x_ms_coco.py), drop path 0.3 as
# Swin-B's row.
_base_ = './cascade_mask_rcnn_msg_t_3x_ms_coco.py'

msg_checkpoint = 'checkpoints/msg_b_in1k.pth'
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=msg_checkpoint)),
    neck=dict(in_channels=[96, 192, 384, 768]))
