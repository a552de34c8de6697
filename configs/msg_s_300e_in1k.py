# MSG-Transformer-S on ImageNet-1K: the T recipe (msg_t_300e_in1k.py), batch
# 1024 as 8 GPUs x 128, drop path 0.3, as released.
_base_ = './msg_t_300e_in1k.py'

model = dict(
    backbone=dict(arch='small', drop_path_rate=0.3),
    head=dict(in_channels=768))
