# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""SepViT in timm: ``sepvit_lite``, ``sepvit_tiny``, ``sepvit_small`` and
``sepvit_base``.

The classifier is the mmpretrain model of ``configs/sepvit_*_300e_in1k.py``:
per-window tokens at a fixed ``img_size`` (224), only the last stage
normalised. ``features_only`` builds the dense model of the detection and
segmentation configs: zero window tokens, a LayerNorm after every stage, any
input of at least 32 pixels a side; classifier weights start it through
:meth:`SepViT.transfer_state_dict`, which logs what the layouts do not share.
"""
from mmsepvit.models.backbones import SepViT
from .base import TimmFamily, family_default_cfgs, register_family


def prune(backbone: SepViT, last: int) -> None:
    """Delete the stages after ``last`` with their norms."""
    for i in range(last + 1, len(backbone.stages)):
        if hasattr(backbone, f'norm{i}'):
            delattr(backbone, f'norm{i}')
    backbone.stages = backbone.stages[:last + 1]


FAMILY = TimmFamily(
    prefix='sepvit',
    name='SepViT',
    backbone=SepViT,
    variants=('lite', 'tiny', 'small', 'base'),
    classifier_kwargs=dict(
        window_token='per_window', stage_norm=False, out_indices=-1),
    dense_kwargs=dict(window_token='zero', stage_norm=True),
    fixed_input_size=True,
    prune=prune,
    # configs/sepvit_*_300e_in1k.py: 224 crops of a 256 short edge.
    default_cfg=dict(
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        crop_pct=224 / 256,
        interpolation='bicubic',
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv='backbone.stages.0.patch_embed.projection',
        license='apache-2.0',
        paper_ids='arXiv:2203.15380',
        paper_name='SepViT: Separable Vision Transformer'))

default_cfgs = family_default_cfgs(FAMILY)
# TimmSepViT and sepvit_lite, sepvit_tiny, sepvit_small, sepvit_base.
globals().update(register_family(FAMILY, __name__))
