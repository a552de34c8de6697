# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Dual-ViT in timm: ``dualvit_small``, ``dualvit_base`` and
``dualvit_large``.

The classifier is the mmpretrain model of ``configs/dualvit_s_300e_in1k.py``:
the trunk's un-normed stage-4 pixels and semantic tokens, and
:class:`DualViTClsHead` (class attention, ``head.fc``) without the
token-labeling head, whose label maps are not public. ``features_only``
builds the dense backbone of the detection configs.
"""
import torch.nn as nn

from mmsepvit.models.backbones import DualViT, DualViTClsHead
from .base import TimmFamily, family_default_cfgs, register_family


def prune(backbone: DualViT, last: int) -> None:
    """Delete the stages after ``last`` with their output norms, and the
    semantic-token norm that fed the next stage."""
    for i in range(last, len(backbone.stages)):
        names = [f'norm_proxy{i}'] + ([f'norm{i}'] if i > last else [])
        for name in names:
            if hasattr(backbone, name):
                delattr(backbone, name)
    backbone.stages = backbone.stages[:last + 1]


def class_attention_head(in_channels: int, num_classes: int,
                         drop_rate: float) -> nn.Module:
    """The released head: heads of 32 channels, as stage 4's."""
    return DualViTClsHead(
        num_classes=num_classes,
        in_channels=in_channels,
        num_heads=in_channels // 32,
        token_label=False)


FAMILY = TimmFamily(
    prefix='dualvit',
    name='DualViT',
    backbone=DualViT,
    variants=('small', 'base', 'large'),
    classifier_kwargs=dict(classifier=True, out_indices=(3, )),
    dense_kwargs={},
    prune=prune,
    head=class_attention_head,
    # The released recipe: 224 crops of a 256 short edge (bicubic),
    # ImageNet's mean and std.
    default_cfg=dict(
        input_size=(3, 224, 224),
        crop_pct=224 / 256,
        interpolation='bicubic',
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv='backbone.stages.0.patch_embed.convs.0',
        license='apache-2.0',
        paper_ids='arXiv:2207.04976',
        paper_name='Dual Vision Transformer'))

default_cfgs = family_default_cfgs(FAMILY)
# TimmDualViT and dualvit_small, dualvit_base, dualvit_large.
globals().update(register_family(FAMILY, __name__))
