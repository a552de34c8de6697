# Dual-ViT-S as the backbone of the detection and segmentation configs: the
# released dense backbone (four normed NCHW maps at strides 4-32), from
# ImageNet-1K weights converted with
#   tools/model_converters/dualvit2mmsepvit.py SRC DST --dense
# Detection (object_detection/ of the release): the stem BatchNorms have a
# frozen affine (their statistics still update in train mode), drop path
# 0.15. Segmentation (semantic_segmentation/): trainable SyncBN in the stem,
# drop path 0.15 (S) / 0.3 (B), and the release's test-time tiling of inputs
# over 768 px on a side (eval_tile_size=768).
_base_ = './mmsepvit_runtime.py'

dualvit_s_checkpoint = 'checkpoints/dualvit_s_in1k.pth'
dualvit_s = dict(
    _delete_=True,
    type='DualViT',
    arch='small',
    drop_path_rate=0.15,
    init_cfg=dict(
        type='Pretrained', checkpoint=dualvit_s_checkpoint,
        prefix='backbone.'))
dualvit_s_det = dict(
    dualvit_s, norm_cfg=dict(type='BN', requires_grad=False), norm_eval=False)
dualvit_s_seg = dict(
    dualvit_s,
    norm_cfg=dict(type='SyncBN', requires_grad=True),
    eval_tile_size=768)
dualvit_s_channels = [64, 128, 320, 448]
# The release's "no weight decay on keys containing 'norm'" (3x detection,
# UperNet); it misses the stem BNs, q, the layer scales and the other
# *_ln / q_embed / qkv_proxy / semantic-embedding norms, as released.
no_decay_keys = {'norm': dict(decay_mult=0.)}
