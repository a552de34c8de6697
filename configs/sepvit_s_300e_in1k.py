# SepViT-S on ImageNet-1K: as SepViT-T with drop path 0.3.
_base_ = './sepvit_t_300e_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.3))
