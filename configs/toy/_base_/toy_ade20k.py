# The bundled toy ADE20K data (generate it with tools/misc/make_toy_data.py
# ade20k data/toy_ade20k): 128x128 scenes of five classes, label 0 "other"
# reduced away as in ADE20K, and a CPU-sized schedule, shared by the toy
# Semantic FPN and UperNet configs. The names start with toy_ because the
# mmseg bases those configs inherit own the plain ones (mmengine refuses a
# key in two bases).
toy_crop_size = (128, 128)
toy_dataset = dict(
    _delete_=True,
    type='BaseSegDataset',
    data_root='data/toy_ade20k',
    metainfo=dict(classes=('wall', 'floor', 'square', 'circle', 'triangle')),
    img_suffix='.jpg',
    seg_map_suffix='.png',
    reduce_zero_label=True)
toy_train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        toy_dataset,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(
                type='RandomResize',
                scale=toy_crop_size,
                ratio_range=(0.75, 1.5),
                keep_ratio=True),
            dict(
                type='RandomCrop', crop_size=toy_crop_size,
                cat_max_ratio=0.75),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs')
        ]))
toy_val_dataloader = dict(
    num_workers=1,
    dataset=dict(
        toy_dataset,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=toy_crop_size, keep_ratio=True),
            dict(type='LoadAnnotations', reduce_zero_label=True),
            dict(type='PackSegInputs')
        ]))

toy_max_iters = 400
toy_train_cfg = dict(max_iters=toy_max_iters, val_interval=toy_max_iters)
toy_default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=100, max_keep_ckpts=2))
