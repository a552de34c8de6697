# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Shuffle Transformer in timm: ``shuffle_tiny``, ``shuffle_small`` and
``shuffle_base``.

The classifier is the mmpretrain model of ``configs/shuffle_t_300e_in1k.py``
(the release's): the stage-4 map, averaged, and a Linear. ``features_only``
builds the same backbone with its four stage maps, any input of at least 32
pixels.
"""
from mmsepvit.models.backbones import ShuffleTransformer
from .base import TimmFamily, family_default_cfgs, register_family


def prune(backbone: ShuffleTransformer, last: int) -> None:
    """Delete the stages after ``last``."""
    backbone.stages = backbone.stages[:last + 1]


FAMILY = TimmFamily(
    prefix='shuffle',
    name='ShuffleTransformer',
    backbone=ShuffleTransformer,
    variants=('tiny', 'small', 'base'),
    classifier_kwargs=dict(out_indices=(3, )),
    dense_kwargs={},
    prune=prune,
    # The released recipe: 224 crops of a 256 short edge (bicubic),
    # ImageNet's mean and std.
    default_cfg=dict(
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        crop_pct=224 / 256,
        interpolation='bicubic',
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv='backbone.stem.conv1',
        license='mit',
        paper_ids='arXiv:2106.03650',
        paper_name='Shuffle Transformer: Rethinking Spatial Shuffle for '
        'Vision Transformer'))

default_cfgs = family_default_cfgs(FAMILY)
# TimmShuffleTransformer and shuffle_tiny, shuffle_small, shuffle_base.
globals().update(register_family(FAMILY, __name__))
