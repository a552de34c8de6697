# Mask R-CNN with SepViT-S on COCO, 1x: weight decay 1e-4, drop path 0.3.
_base_ = './mask_rcnn_sepvit_t_1x_coco.py'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/sepvit_s_in1k.pth')))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
