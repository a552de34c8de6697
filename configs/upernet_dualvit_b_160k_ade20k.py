# UperNet with Dual-ViT-B on ADE20K, 160K: the recipe of
# ./upernet_dualvit_s_160k_ade20k.py (the release's semantic_segmentation/
# config, tiled test included) with the B backbone and drop path 0.3.
# Released mIoU: 51.7.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa
    './_base_/dualvit_b_dense.py'
]

model = dict(
    pretrained=None,
    backbone={{_base_.dualvit_b_seg}},
    decode_head=dict(in_channels={{_base_.dualvit_b_channels}}),
    auxiliary_head=dict(in_channels=320))

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=16),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, custom_keys={{_base_.no_decay_keys}}))
