# The real Dual-ViT-S ImageNet config on the bundled toy classification data
# (generate it with tools/misc/make_toy_data.py imagenet data/toy_imagenet):
# 64x64 images of five classes in folders per class, the same augmentation
# and optimiser, a micro Dual-ViT (_base_/dualvit_micro.py) and a CPU-sized
# schedule. At 64x64 the semantic grid is 2x2 (the 8x8 queries resized).
_base_ = ['../dualvit_s_300e_in1k.py', './_base_/dualvit_micro.py']

data_root = 'data/toy_imagenet'
classes = ('checks', 'circle', 'square', 'stripes', 'triangle')
img_size = 64

model = dict(
    backbone=dict(arch={{_base_.dualvit_micro_arch}}),
    head=dict(in_channels=128, num_heads=4, num_classes=len(classes)))
data_preprocessor = dict(num_classes=len(classes))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=img_size,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies='timm_increasing',
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=[103.53, 116.28, 123.675],
        fill_std=[57.375, 57.12, 58.395]),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=img_size * 8 // 7,  # 256 / 224, as for ImageNet
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
dataset = dict(
    type='CustomDataset', data_root=data_root, metainfo=dict(classes=classes))
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(
        dataset, _delete_=True, data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    dataset=dict(
        dataset, _delete_=True, data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(base_batch_size=32)

max_epochs = 20
warmup_epochs = 2
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
        begin=warmup_epochs,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=2))
