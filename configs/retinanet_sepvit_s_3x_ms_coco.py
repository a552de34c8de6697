# RetinaNet with SepViT-S on COCO, 3x multi-scale: weight decay 0.1.
_base_ = './retinanet_sepvit_t_3x_ms_coco.py'

pretrained = 'checkpoints/sepvit_s_in1k.pth'
model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint=pretrained)))
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))
