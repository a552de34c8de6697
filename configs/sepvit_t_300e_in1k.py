# SepViT-T on ImageNet-1K, 300 epochs, batch 1024 (16 GPUs x 64), as the paper.
# mmpretrain's Swin-T recipe already has the paper's AdamW lr 1e-3, cosine to
# 1e-5, RandAugment m9 mstd0.5 inc1, Mixup 0.8 / CutMix 1.0 (one of the two per
# batch), random erasing 0.25, label smoothing 0.1 and gradient clipping at 5.
_base_ = [
    'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
    './_base_/mmsepvit_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='SepViT',
        arch='tiny',
        # The released classifier: a learnable token per window at 224x224,
        # only the last stage normalised.
        window_token='per_window',
        img_size=224,
        stage_norm=False,
        out_indices=(3, ),
        drop_path_rate=0.2),
    head=dict(in_channels=768))

# No decay on norms and biases; window tokens are decayed, as released.
optim_wrapper = dict(
    optimizer=dict(weight_decay=0.05),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        flat_decay_mult=0.))

warmup_epochs = 5
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,  # from 1e-6
        by_epoch=True,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=1e-5,
        by_epoch=True,
        begin=warmup_epochs)
]
