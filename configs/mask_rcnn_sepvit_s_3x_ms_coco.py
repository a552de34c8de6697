# Mask R-CNN with SepViT-S on COCO, 3x multi-scale: weight decay 0.1.
_base_ = './mask_rcnn_sepvit_t_3x_ms_coco.py'

model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='checkpoints/sepvit_s_in1k.pth')))
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
