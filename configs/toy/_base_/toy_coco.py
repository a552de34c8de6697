# The bundled toy COCO data (generate it with tools/misc/make_toy_data.py coco
# data/toy_coco): 128x128 images of three shape classes with boxes and
# masks, and a CPU-sized schedule, shared by the toy RetinaNet and Mask R-CNN
# configs. The names start with toy_ because the mmdet bases those configs
# inherit own the plain ones (mmengine refuses a key in two bases).
toy_data_root = 'data/toy_coco/'
toy_metainfo = dict(classes=('square', 'circle', 'triangle'))
toy_image_size = (128, 128)

# Masks for Mask R-CNN; RetinaNet ignores them.
toy_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=toy_image_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
toy_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=toy_image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
toy_train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        data_root=toy_data_root,
        metainfo=toy_metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img=''),
        pipeline=toy_train_pipeline))
toy_val_dataloader = dict(
    toy_train_dataloader,
    dataset=dict(
        toy_train_dataloader['dataset'],
        ann_file='annotations/instances_val.json',
        pipeline=toy_test_pipeline))
toy_evaluator = dict(ann_file=toy_data_root + 'annotations/instances_val.json')

toy_max_epochs = 8
toy_train_cfg = dict(max_epochs=toy_max_epochs, val_interval=toy_max_epochs)
toy_param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=toy_max_epochs,
        by_epoch=True,
        milestones=[6, 7],
        gamma=0.1)
]
toy_default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=2, max_keep_ckpts=2))
