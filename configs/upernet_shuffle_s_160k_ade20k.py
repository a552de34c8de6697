# UperNet with Shuffle-S on ADE20K, 160K: the T recipe (Swin's UperNet).
_base_ = './upernet_shuffle_t_160k_ade20k.py'

model = dict(
    backbone=dict(
        arch='small',
        init_cfg=dict(checkpoint='checkpoints/shuffle_s_in1k.pth')))
