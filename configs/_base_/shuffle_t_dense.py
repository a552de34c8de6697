# Shuffle-T as the backbone of the detection and segmentation configs: four
# NCHW stage outputs at strides 4-32 (no output norm, as released), from the
# released ImageNet-1K weights converted with
# tools/model_converters/shuffle2mmsepvit.py. BatchNorm is the backbone's only
# norm: with 2 images per GPU its statistics come from all GPUs (SyncBN). On
# one process PyTorch's SyncBatchNorm is plain BatchNorm, so these configs run
# unchanged on a single CPU or GPU. The S and B configs override arch, drop
# path and checkpoint.
_base_ = './mmsepvit_runtime.py'

# mmdet's and mmseg's Swin configs own the name `pretrained`.
shuffle_t_checkpoint = 'checkpoints/shuffle_t_in1k.pth'
shuffle_t = dict(
    _delete_=True,
    type='ShuffleTransformer',
    arch='tiny',
    drop_path_rate=0.2,
    norm_cfg=dict(type='SyncBN'),
    init_cfg=dict(
        type='Pretrained', checkpoint=shuffle_t_checkpoint,
        prefix='backbone.'))
# Swin's UperNet recipe trains every size with drop path 0.3.
shuffle_t_upernet = dict(shuffle_t, drop_path_rate=0.3)
shuffle_t_channels = [96, 192, 384, 768]
