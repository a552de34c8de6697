# The real Mask R-CNN Shuffle-T config (SyncBN backbone: plain BatchNorm in
# one process) on the bundled toy COCO data (see _base_/toy_coco.py), with a
# micro arch (_base_/shuffle_micro.py), trained from scratch.
_base_ = [
    '../mask_rcnn_shuffle_t_1x_coco.py', './_base_/toy_coco.py',
    './_base_/shuffle_micro.py'
]

model = dict(
    backbone={{_base_.toy_shuffle_backbone}},
    neck=dict(in_channels={{_base_.toy_shuffle_channels}}),
    roi_head=dict(
        bbox_head=dict(num_classes=3), mask_head=dict(num_classes=3)))

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

optim_wrapper = dict(optimizer=dict(lr=4e-4))
