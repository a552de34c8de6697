# The real RetinaNet Dual-ViT-S config on the bundled toy COCO data (see
# _base_/toy_coco.py), with a micro Dual-ViT (_base_/dualvit_micro.py) so it
# runs in seconds on a CPU, trained from scratch (no ImageNet weights).
_base_ = [
    '../retinanet_dualvit_s_1x_coco.py', './_base_/toy_coco.py',
    './_base_/dualvit_micro.py'
]

model = dict(
    backbone=dict(arch={{_base_.dualvit_micro_arch}}, init_cfg=None),
    neck=dict(in_channels={{_base_.dualvit_micro_channels}}),
    bbox_head=dict(num_classes=3))

train_dataloader = {{_base_.toy_train_dataloader}}
val_dataloader = {{_base_.toy_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.toy_evaluator}}
test_evaluator = val_evaluator
train_cfg = {{_base_.toy_train_cfg}}
param_scheduler = {{_base_.toy_param_scheduler}}
default_hooks = {{_base_.toy_default_hooks}}
log_processor = dict(window_size=10)
auto_scale_lr = dict(base_batch_size=4)

# As the SepViT toy RetinaNet: a higher lr from scratch, clipped, seeded.
optim_wrapper = dict(optimizer=dict(lr=4e-4), clip_grad=dict(max_norm=5.0))
randomness = dict(seed=0)
