# Cascade Mask R-CNN with MSG-Transformer-S on COCO, 3x multi-scale: the T
# recipe (see cascade_mask_rcnn_msg_t_3x_ms_coco.py), drop path 0.2 as
# Swin-S's row.
_base_ = './cascade_mask_rcnn_msg_t_3x_ms_coco.py'

msg_checkpoint = 'checkpoints/msg_s_in1k.pth'
model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint=msg_checkpoint)),
    neck=dict(in_channels=[96, 192, 384, 768]))
