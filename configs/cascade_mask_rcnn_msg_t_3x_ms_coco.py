# Cascade Mask R-CNN with MSG-Transformer-T on COCO, 3x (36 epochs)
# multi-scale: the protocol of the Swin rows the MSG-Transformer README
# compares with (its imgs/coco.png; the release ships no detection config).
# mmdet 3.3 has no Swin Cascade Mask R-CNN 3x config; its ConvNeXt one is
# Swin's recipe but for the optimiser: Cascade Mask R-CNN with 4conv1fc box
# heads (SyncBN, GIoU loss), the DETR-style multi-scale + crop pipeline,
# 36 epochs with steps at 27 and 33, AMP (Swin trained in mixed precision).
# Changed here: the backbone; AdamW lr 1e-4 and weight decay 0.05 with
# Swin's no-decay keys (norms, position tables, here also rel_pos_msg) in
# place of ConvNeXt's lr 2e-4 with layer-wise decay; Swin's 500-iteration
# warm-up; drop path 0.2 as Swin-T's row (S 0.2, B 0.3).
_base_ = ('mmdet::convnext/cascade-mask-rcnn_convnext-t-p4-w7_fpn_4conv1fc-'
          'giou_amp-ms-crop-3x_coco.py')

# The ConvNeXt base imports mmpretrain; mmsepvit's runtime
# (_base_/mmsepvit_runtime.py) cannot be a second base, as both set
# custom_imports.
custom_imports = dict(imports=['mmsepvit'], allow_failed_imports=False)
runner_type = 'SafeRunner'

# ImageNet-1K weights of configs/msg_t_300e_in1k.py (or the release's,
# converted by tools/model_converters/msg2mmsepvit.py); the classifier's
# final norm is dropped on loading.
msg_checkpoint = 'checkpoints/msg_t_in1k.pth'
model = dict(
    backbone=dict(
        _delete_=True,
        type='MSGTransformer',
        arch='tiny',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=msg_checkpoint, prefix='backbone.')),
    neck=dict(in_channels=[64, 128, 256, 512]))

max_epochs = 36
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[27, 33],
        gamma=0.1)
]
optim_wrapper = dict(
    constructor='DefaultOptimWrapperConstructor',
    paramwise_cfg=dict(
        _delete_=True,
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.),
            'rel_pos_msg': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }),
    optimizer=dict(lr=1e-4, weight_decay=0.05))
