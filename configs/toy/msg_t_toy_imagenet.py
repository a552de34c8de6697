# The real MSG-Transformer-T ImageNet config on the bundled toy
# classification data (generate it with tools/misc/make_toy_data.py imagenet
# data/toy_imagenet): 64x64 images of five classes in folders per class, the
# same augmentation and optimiser, a CPU-sized schedule, and a micro arch
# (16-128 channels, one block a stage, the real regions) so that an epoch
# takes seconds on 2 CPU cores. The backbone pads the 64x64 images to
# 224x224; stage 4 then has one MSG token, as at 224.
_base_ = ['../msg_t_300e_in1k.py', './_base_/toy_imagenet.py']

model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=[16, 32, 64, 128],
            num_heads=[1, 2, 4, 8],
            depths=[1, 1, 1, 1],
            region_sizes=[4, 4, 2, 1])),
    head=dict(
        in_channels=128, num_classes={{_base_.toy_imagenet_num_classes}}))
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
