# MSG-Transformer-B on ImageNet-1K: the T recipe (msg_t_300e_in1k.py), batch
# 1024 as 16 GPUs x 64, drop path 0.5, as released.
_base_ = './msg_t_300e_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5), head=dict(in_channels=768))
train_dataloader = dict(batch_size=64)
