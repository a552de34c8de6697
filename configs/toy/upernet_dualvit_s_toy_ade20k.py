# The real UperNet Dual-ViT-S config on the bundled toy ADE20K data (see
# _base_/toy_ade20k.py), with a micro Dual-ViT (_base_/dualvit_micro.py),
# trained from scratch (no ImageNet weights), its warm-up and poly decay
# shortened to the toy schedule. The release's tiled test stays on; at 128 px
# it never triggers.
_base_ = [
    '../upernet_dualvit_s_160k_ade20k.py', './_base_/toy_ade20k.py',
    './_base_/dualvit_micro.py'
]

model = dict(
    data_preprocessor=dict(size={{_base_.toy_crop_size}}),
    backbone=dict(arch={{_base_.dualvit_micro_arch}}, init_cfg=None),
    decode_head=dict(
        in_channels={{_base_.dualvit_micro_channels}}, num_classes=5),
    auxiliary_head=dict(in_channels=96, num_classes=5))

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
