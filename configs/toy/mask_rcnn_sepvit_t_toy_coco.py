# The real Mask R-CNN SepViT-T config on the bundled toy COCO data (see
# _base_/toy_coco.py), trained from scratch (no ImageNet weights).
_base_ = ['../mask_rcnn_sepvit_t_1x_coco.py', './_base_/toy_coco.py']

model = dict(
    backbone=dict(init_cfg=None),
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
