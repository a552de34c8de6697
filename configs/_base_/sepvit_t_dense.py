# SepViT-T as the backbone of the detection and segmentation configs: the
# released dense model (zero window tokens, a LayerNorm after every stage,
# four NCHW outputs at strides 4-32), from ImageNet-1K weights
# (docs/training.md, "Pretrained weights"). The S and B configs override arch,
# drop path and checkpoint.
_base_ = './mmsepvit_runtime.py'

# mmdet's and mmseg's Swin configs own the name `pretrained`.
sepvit_t_checkpoint = 'checkpoints/sepvit_t_in1k.pth'
sepvit_t = dict(
    _delete_=True,
    type='SepViT',
    arch='tiny',
    drop_path_rate=0.2,
    init_cfg=dict(
        type='Pretrained', checkpoint=sepvit_t_checkpoint, prefix='backbone.'))
# The paper's 3x schedules train with more stochastic depth.
sepvit_t_3x = dict(sepvit_t, drop_path_rate=0.3)
sepvit_t_channels = [96, 192, 384, 768]
# The paper's 3x and UperNet recipes: no weight decay on position encodings,
# norms and window tokens.
no_decay_keys = {
    'pos_embed': dict(decay_mult=0.),
    'norm': dict(decay_mult=0.),
    'window_token': dict(decay_mult=0.)
}
