# Dual-ViT-L on ImageNet-1K: the recipe of ./dualvit_s_300e_in1k.py (the
# release's, without token labeling: head(cls) only, no aux_head; 310
# epochs) with the L model; drop path 0.3 and gradient clipping at norm 1.0.
# Published (with token labeling): 85.7 top-1 at 224.
_base_ = './dualvit_s_300e_in1k.py'

model = dict(
    backbone=dict(arch='large', drop_path_rate=0.3),
    head=dict(in_channels=512, num_heads=16))
optim_wrapper = dict(clip_grad=dict(_delete_=True, max_norm=1.0))
