# A micro Shuffle Transformer for the toy configs (the fixture's layout,
# widths up to 256): every stage merges, 1-2-4-8 heads of 32
# channels, one regular/shuffled pair per stage, a 16-channel stem. One toy
# run takes seconds on 2 CPU cores where Shuffle-T takes minutes.
toy_shuffle_arch = dict(
    _delete_=True,
    embed_dims=[32, 64, 128, 256],
    num_heads=[1, 2, 4, 8],
    depths=[2, 2, 2, 2])
toy_shuffle_channels = [32, 64, 128, 256]
toy_shuffle_backbone = dict(
    arch=toy_shuffle_arch, stem_channels=16, mlp_ratio=2., init_cfg=None)
