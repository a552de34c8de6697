# Shuffle-T on ImageNet-1K, 300 epochs, batch 1024 (8 GPUs x 128), the
# released recipe (config.py, output/*/config.json): AdamW lr 1e-3 (5e-4 per
# 512), weight decay 0.05 with none on 1-D parameters, biases and relative
# position tables, 20 warm-up epochs from 1e-6, cosine to 1e-5, gradient
# clipping at 5, label smoothing 0.1, RandAugment m9-mstd0.5-inc1, Mixup 0.8
# / CutMix 1.0, random erasing 0.25, test resize 256 and crop 224. mmpretrain's
# Swin-T recipe has all of these; the release's colour jitter 0.4 is not
# applied by its timm pipeline when RandAugment is on, so none here either.
# BatchNorm per GPU, as released (no SyncBN).
_base_ = [
    'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
    './_base_/mmsepvit_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='ShuffleTransformer',
        arch='tiny',
        out_indices=(3, ),
        drop_path_rate=0.1),
    head=dict(in_channels=768))

train_dataloader = dict(batch_size=128)
