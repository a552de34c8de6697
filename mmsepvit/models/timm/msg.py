# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""MSG-Transformer in timm: ``msg_tiny``, ``msg_small`` and ``msg_base``.

The classifier is the mmpretrain model of ``configs/msg_t_300e_in1k.py``:
the stage-4 MSG tokens after the final LayerNorm, averaged, and a Linear
(any input size; one token at 224). ``features_only`` builds the dense
backbone of the detection configs (pixel maps, no final norm); classifier
weights start it, dropping the final norm.
"""
from mmsepvit.models.backbones import MSGTransformer
from .base import TimmFamily, family_default_cfgs, register_family


def prune(backbone: MSGTransformer, last: int) -> None:
    """Delete the stages after ``last``, the merging after it and the final
    norm of the last stage."""
    if last < len(backbone.stages) - 1:
        backbone.stages = backbone.stages[:last + 1]
        backbone.stages[last].downsample = None
        if backbone.final_norm:
            del backbone.norm
            backbone.final_norm = False


FAMILY = TimmFamily(
    prefix='msg',
    name='MSGTransformer',
    backbone=MSGTransformer,
    variants=('tiny', 'small', 'base'),
    classifier_kwargs=dict(out_type='msg', final_norm=True, out_indices=(3, )),
    dense_kwargs=dict(out_type='pixels', final_norm=False),
    prune=prune,
    # Swin's recipe, which configs/msg_t_300e_in1k.py inherits: 224 crops
    # of a 256 short edge (bicubic), ImageNet's mean and std.
    default_cfg=dict(
        input_size=(3, 224, 224),
        pool_size=(1, 1),
        crop_pct=224 / 256,
        interpolation='bicubic',
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv='backbone.patch_embed.projection',
        license='apache-2.0',
        paper_ids='arXiv:2105.15168',
        paper_name='MSG-Transformer: Exchanging Local Spatial Information '
        'by Manipulating Messenger Tokens'))

default_cfgs = family_default_cfgs(FAMILY)
# TimmMSGTransformer and msg_tiny, msg_small, msg_base.
globals().update(register_family(FAMILY, __name__))
