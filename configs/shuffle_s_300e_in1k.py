# Shuffle-S on ImageNet-1K, 300 epochs: the T recipe, drop path 0.3.
_base_ = './shuffle_t_300e_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.3))
