# A micro Dual-ViT for the toy configs, so that a toy run takes seconds on two
# CPU cores: the real S model's structure (two Dual stages, two Merge
# stages, stage 3 alternating FFN ratios 4 and 3) at a fraction of its width
# and depth. The names start with dualvit_micro_ because the toy configs
# inherit bases that own the plain ones (mmengine refuses a key in two bases);
# _delete_ replaces the real config's arch name.
dualvit_micro_arch = dict(
    _delete_=True,
    stem_width=16,
    embed_dims=[32, 64, 96, 128],
    num_heads=[1, 2, 3, 4],
    depths=[1, 1, 2, 1],
    mlp_ratios=[4, 4, [4, 3], 3])
dualvit_micro_channels = [32, 64, 96, 128]
