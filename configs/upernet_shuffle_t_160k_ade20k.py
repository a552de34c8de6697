# UperNet with Shuffle-T on ADE20K, 160K iterations, 512x512 crops, batch 16
# in total (8 GPUs x 2). The paper reports mIoU 47.6 (T), 49.6 (S), 50.5 (B)
# but no schedule, and the release has no segmentation code; it compares with
# Swin's UperNet, so this follows that recipe as mmseg ships it
# (mmseg::swin/...upernet_8xb2-160k_ade20k): AdamW lr 6e-5, betas
# 0.9/0.999, weight decay 0.01 (none on norms and relative position tables),
# 1500-iteration linear warm-up from 1e-6 then poly power 1.0 to 0, auxiliary
# FCN head on stage 3, drop path 0.3 for every size (Swin's UperNet value).
# Backbone BatchNorms: SyncBN, trained (norm_eval False), as mmseg's heads.
_base_ = [
    'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py',  # noqa
    './_base_/shuffle_t_dense.py'
]

model = dict(
    pretrained=None,
    backbone={{_base_.shuffle_t_upernet}},
    decode_head=dict(in_channels={{_base_.shuffle_t_channels}}),
    auxiliary_head=dict(in_channels=384))
