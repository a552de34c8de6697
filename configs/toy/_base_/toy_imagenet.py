# The bundled toy classification data (tools/misc/make_toy_data.py imagenet
# data/toy_imagenet): 64x64 images of five classes in folders per class, the
# ImageNet configs' augmentation at that size, and a CPU-sized schedule,
# shared by the toy classifiers. Names start with toy_imagenet_ because the
# mmpretrain bases own the plain ones (mmengine refuses a key in two bases).
toy_imagenet_root = 'data/toy_imagenet'
toy_imagenet_metainfo = dict(
    classes=('checks', 'circle', 'square', 'stripes', 'triangle'))
toy_imagenet_num_classes = 5
toy_imagenet_size = 64

toy_imagenet_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=toy_imagenet_size,
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
toy_imagenet_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=toy_imagenet_size * 8 // 7,  # 256 / 224, as for ImageNet
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=toy_imagenet_size),
    dict(type='PackInputs'),
]

toy_imagenet_warmup_epochs = 2
toy_imagenet_param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        end=toy_imagenet_warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=toy_imagenet_warmup_epochs)
]
toy_imagenet_train_cfg = dict(max_epochs=20, val_interval=10)
toy_imagenet_default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=2))
