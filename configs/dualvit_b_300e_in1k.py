# Dual-ViT-B on ImageNet-1K: the recipe of ./dualvit_s_300e_in1k.py (the
# release's, without token labeling: head(cls) only, no aux_head; 310
# epochs) with the B model; drop path 0.15, no gradient clipping.
# Published (with token labeling): 85.2 top-1 at 224.
_base_ = './dualvit_s_300e_in1k.py'

model = dict(
    backbone=dict(arch='base', drop_path_rate=0.15),
    head=dict(in_channels=512, num_heads=16))
