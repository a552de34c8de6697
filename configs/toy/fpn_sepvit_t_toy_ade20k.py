# The real Semantic FPN SepViT-T config on the bundled toy ADE20K data (see
# _base_/toy_ade20k.py), trained from scratch (no ImageNet weights).
_base_ = ['../fpn_sepvit_t_80k_ade20k.py', './_base_/toy_ade20k.py']

model = dict(
    data_preprocessor=dict(size={{_base_.toy_crop_size}}),
    backbone=dict(init_cfg=None),
    decode_head=dict(num_classes=5))

train_dataloader = {{_base_.toy_train_dataloader}}
val_dataloader = {{_base_.toy_val_dataloader}}
test_dataloader = val_dataloader
train_cfg = {{_base_.toy_train_cfg}}
default_hooks = {{_base_.toy_default_hooks}}

optim_wrapper = dict(optimizer=dict(lr=4e-4))
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end={{_base_.toy_max_iters}},
        by_epoch=False)
]
