# UperNet with Shuffle-B on ADE20K, 160K: the T recipe (Swin's UperNet) at
# Shuffle-B's widths.
_base_ = './upernet_shuffle_t_160k_ade20k.py'

model = dict(
    backbone=dict(
        arch='base',
        init_cfg=dict(checkpoint='checkpoints/shuffle_b_in1k.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
