# Semantic FPN with SepViT-S on ADE20K, 80K: drop path 0.3.
_base_ = './fpn_sepvit_t_80k_ade20k.py'

model = dict(
    backbone=dict(
        arch='small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/sepvit_s_in1k.pth')))
