# MSG-Transformer-T on ImageNet-1K, 300 epochs, batch 1024 (8 GPUs x 128):
# the released recipe (hustvl/MSG-Transformer, Swin's trainer, configs/
# config.py). mmpretrain's Swin-T recipe already has it: AdamW lr 5e-4 per
# 512 images (1e-3), 20 warm-up epochs from 1e-6, cosine to 1e-5, weight
# decay 0.05, gradient clipping at 5, RandAugment m9 mstd0.5 inc1, Mixup 0.8
# / CutMix 1.0, random erasing 0.25, label smoothing 0.1, 224 crops.
_base_ = [
    'mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
    './_base_/mmsepvit_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='MSGTransformer',
        arch='tiny',
        # The released classifier: the final LayerNorm, then the stage-4
        # MSG token (one at 224; averaged at other sizes) and a Linear.
        out_type='msg',
        final_norm=True,
        out_indices=(3, ),
        drop_path_rate=0.1),
    head=dict(in_channels=512))

train_dataloader = dict(batch_size=128)

# No decay on 1-D parameters (norms, biases), position tables and
# rel_pos_msg; msg_tokens are decayed, as released (its no-decay list names
# `msg_token`, which matches no parameter).
optim_wrapper = dict(
    optimizer=dict(weight_decay=0.05),
    paramwise_cfg=dict(
        _delete_=True,
        norm_decay_mult=0.,
        bias_decay_mult=0.,
        flat_decay_mult=0.,
        custom_keys={
            'relative_position_bias_table': dict(decay_mult=0.),
            'rel_pos_msg': dict(decay_mult=0.)
        }))
