# UperNet with SepViT-T on ADE20K, 160K iterations, 512x512 crops, batch 16 in
# total (8 GPUs x 2), inheriting mmseg's Swin-T UperNet recipe: AdamW lr 6e-5,
# betas 0.9/0.999, weight decay 0.01, 1500-iteration linear warm-up from
# 1e-6 then poly power 1.0 to 0, auxiliary FCN head on stage 3. Paper: drop
# path 0.2, no weight decay on position-encoding and norm parameters.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa
    './_base_/sepvit_t_dense.py'
]

model = dict(
    pretrained=None,
    backbone={{_base_.sepvit_t}},
    decode_head=dict(in_channels={{_base_.sepvit_t_channels}}),
    auxiliary_head=dict(in_channels=384))

optim_wrapper = dict(
    paramwise_cfg=dict(_delete_=True, custom_keys={{_base_.no_decay_keys}}))
