# SepViT-B on ImageNet-1K: drop path 0.5, weight decay 0.1, 20 warm-up epochs.
_base_ = './sepvit_t_300e_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.5),
    head=dict(in_channels=1024))
optim_wrapper = dict(optimizer=dict(weight_decay=0.1))

warmup_epochs = 20
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=warmup_epochs)
]
