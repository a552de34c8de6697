# UperNet with SepViT-B on ADE20K, 160K: drop path 0.5, weight decay 0.03.
_base_ = './upernet_sepvit_t_160k_ade20k.py'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint='checkpoints/sepvit_b_in1k.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
optim_wrapper = dict(optimizer=dict(weight_decay=0.03))
