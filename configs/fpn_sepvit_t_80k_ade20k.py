# Semantic FPN with SepViT-T on ADE20K, 80K iterations, 512x512 crops, batch
# 16 in total (4 GPUs x 4). Paper: AdamW lr 1e-4, weight decay 1e-4, poly
# decay power 0.9, drop path 0.2, FPN on all four stages. The released code's
# mmseg 0.x schedule set the minimum lr equal to the base lr, which keeps the
# lr constant; here the decay is real (to 0).
_base_ = [
    'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py',
    './_base_/sepvit_t_dense.py'
]

model = dict(
    pretrained=None,
    backbone={{_base_.sepvit_t}},
    neck=dict(in_channels={{_base_.sepvit_t_channels}}))

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))
max_iters = 80000
param_scheduler = [
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=8000)
default_hooks = dict(checkpoint=dict(interval=8000))
