# The real Dual-ViT-S ImageNet config on the bundled toy classification data
# (generate it with tools/misc/make_toy_data.py imagenet data/toy_imagenet):
# 64x64 images of five classes in folders per class, the same augmentation
# and optimiser, a micro Dual-ViT (_base_/dualvit_micro.py) and a CPU-sized
# schedule. At 64x64 the semantic grid is 2x2 (the 8x8 queries resized).
_base_ = [
    '../dualvit_s_300e_in1k.py', './_base_/dualvit_micro.py',
    './_base_/toy_imagenet.py'
]

model = dict(
    backbone=dict(arch={{_base_.dualvit_micro_arch}}),
    head=dict(
        in_channels=128,
        num_heads=4,
        num_classes={{_base_.toy_imagenet_num_classes}}))
data_preprocessor = dict(num_classes={{_base_.toy_imagenet_num_classes}})
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root={{_base_.toy_imagenet_root}},
        metainfo={{_base_.toy_imagenet_metainfo}},
        data_prefix='train',
        pipeline={{_base_.toy_imagenet_train_pipeline}}))
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(
        _delete_=True,
        type='CustomDataset',
        data_root={{_base_.toy_imagenet_root}},
        metainfo={{_base_.toy_imagenet_metainfo}},
        data_prefix='val',
        pipeline={{_base_.toy_imagenet_test_pipeline}}))
test_dataloader = val_dataloader
param_scheduler = {{_base_.toy_imagenet_param_scheduler}}
train_cfg = {{_base_.toy_imagenet_train_cfg}}
default_hooks = {{_base_.toy_imagenet_default_hooks}}
auto_scale_lr = dict(base_batch_size=32)
