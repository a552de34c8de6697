# RetinaNet with SepViT-S on COCO, 1x: as SepViT-T with weight decay 1e-4 and
# drop path 0.3.
_base_ = './retinanet_sepvit_t_1x_coco.py'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/sepvit_s_in1k.pth')))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
