# Semantic FPN with SepViT-B on ADE20K, 80K: drop path 0.4 (paper; the
# released config ships 0.5).
_base_ = './fpn_sepvit_t_80k_ade20k.py'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint='checkpoints/sepvit_b_in1k.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
