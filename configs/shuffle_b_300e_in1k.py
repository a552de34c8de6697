# Shuffle-B on ImageNet-1K, 300 epochs: the T recipe, drop path 0.5.
_base_ = './shuffle_t_300e_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5),
    head=dict(in_channels=1024))
