# SepViT-Lite on ImageNet-1K. The paper gives no drop-path rate for Lite; 0.1
# is the usual choice for models of this size.
_base_ = './sepvit_t_300e_in1k.py'

model = dict(
    backbone=dict(arch='lite', drop_path_rate=0.1), head=dict(in_channels=256))
