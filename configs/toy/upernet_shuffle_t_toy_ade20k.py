# The real UperNet Shuffle-T config (SyncBN backbone: plain BatchNorm in one
# process) on the bundled toy ADE20K data (see _base_/toy_ade20k.py), with a
# micro arch (_base_/shuffle_micro.py), trained from scratch, its warm-up and
# poly decay shortened to the toy schedule.
_base_ = [
    '../upernet_shuffle_t_160k_ade20k.py', './_base_/toy_ade20k.py',
    './_base_/shuffle_micro.py'
]

model = dict(
    data_preprocessor=dict(size={{_base_.toy_crop_size}}),
    backbone={{_base_.toy_shuffle_backbone}},
    decode_head=dict(
        in_channels={{_base_.toy_shuffle_channels}},
        channels=64,
        num_classes=5),
    auxiliary_head=dict(in_channels=128, channels=32, num_classes=5))

train_dataloader = {{_base_.toy_train_dataloader}}
val_dataloader = {{_base_.toy_val_dataloader}}
test_dataloader = val_dataloader
train_cfg = {{_base_.toy_train_cfg}}
default_hooks = {{_base_.toy_default_hooks}}

optim_wrapper = dict(optimizer=dict(lr=4e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=50),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=50,
        end={{_base_.toy_max_iters}},
        by_epoch=False)
]
