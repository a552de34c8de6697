# UperNet with SepViT-T on ADE20K, 160K iterations, 512x512 crops, batch 16 in
# total (8 GPUs x 2), inheriting mmseg's Swin-T UperNet recipe: AdamW lr 6e-5,
# betas 0.9/0.999, weight decay 0.01, 1500-iteration linear warm-up from
# 1e-6 then poly power 1.0 to 0, auxiliary FCN head on stage 3. Paper: drop
# path 0.2, no weight decay on position-encoding and norm parameters.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa
    './_base_/mmsepvit_runtime.py'
]

# ImageNet-1K weights of SepViT-T (see README: "Pretrained weights").
pretrained = 'checkpoints/sepvit_t_in1k.pth'
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='SepViT',
        arch='tiny',
        drop_path_rate=0.2,
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(
    paramwise_cfg=dict(
        _delete_=True,
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.),
            'window_token': dict(decay_mult=0.)
        }))
