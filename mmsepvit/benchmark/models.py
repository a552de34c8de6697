# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The benchmarked backbones: one table from a display name to a model
config, and how a backbone is built from either.

A row is a registry ``type`` with its scope (``'mmdet.SwinTransformer'``)
plus the arguments of the configs the backbone is published with, less its
weights and outputs: every backbone is built with random weights and its four
stage outputs (strides 4 to 32). Adding a backbone to the benchmark is adding
a row. A backbone outside the table is named by its registry type and
arguments, ``'mmsepvit.SepViT:arch=lite,drop_path_rate=0.1'``
(:func:`backbone_config`).
"""
import ast
import re
from typing import Dict

import torch.nn as nn
from mmengine.registry import MODELS, Registry, init_default_scope

# mmdet's swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py
_SWIN_T = dict(
    type='mmdet.SwinTransformer',
    embed_dims=96,
    depths=[2, 2, 6, 2],
    num_heads=[3, 6, 12, 24],
    window_size=7,
    mlp_ratio=4,
    qkv_bias=True,
    qk_scale=None,
    drop_rate=0.,
    attn_drop_rate=0.,
    drop_path_rate=0.2,
    patch_norm=True,
    with_cp=False)
# yapf: disable
BACKBONES: Dict[str, dict] = {
    # configs/retinanet_sepvit_{t,s}_1x_coco.py, upernet_sepvit_b_160k_ade20k
    'SepViT-T': dict(type='mmsepvit.SepViT', arch='tiny', drop_path_rate=0.2),
    'SepViT-S': dict(type='mmsepvit.SepViT', arch='small', drop_path_rate=0.3),
    'SepViT-B': dict(type='mmsepvit.SepViT', arch='base', drop_path_rate=0.5),
    # configs/retinanet_dualvit_s_1x_coco.py
    'DualViT-S': dict(
        type='mmsepvit.DualViT', arch='small', drop_path_rate=0.15,
        norm_cfg=dict(type='BN', requires_grad=False), norm_eval=False),
    # configs/mask_rcnn_shuffle_t_1x_coco.py (SyncBN: BatchNorm in one
    # process)
    'Shuffle-T': dict(
        type='mmsepvit.ShuffleTransformer', arch='tiny', drop_path_rate=0.2,
        norm_cfg=dict(type='SyncBN')),
    # configs/cascade_mask_rcnn_msg_t_3x_ms_coco.py
    'MSG-T': dict(
        type='mmsepvit.MSGTransformer', arch='tiny', drop_path_rate=0.2),
    'Swin-T': _SWIN_T,
    # mmdet's swin/mask-rcnn_swin-s-p4-w7_fpn_amp-ms-crop-3x_coco.py
    'Swin-S': dict(_SWIN_T, depths=[2, 2, 18, 2]),
    # mmdet's pvt/retinanet_pvtv2-b2_fpn_1x_coco.py
    'PVTv2-b2': dict(
        type='mmdet.PyramidVisionTransformerV2',
        embed_dims=64,
        num_layers=[3, 4, 6, 3]),
    # mmseg's twins/twins_svt-s_fpn_fpnhead_8xb4-80k_ade20k-512x512.py
    'Twins-SVT-S': dict(
        type='mmseg.SVT',
        in_channels=3,
        embed_dims=[64, 128, 256, 512],
        num_heads=[2, 4, 8, 16],
        patch_sizes=[4, 2, 2, 2],
        strides=[4, 2, 2, 2],
        mlp_ratios=[4, 4, 4, 4],
        qkv_bias=True,
        norm_cfg=dict(type='LN'),
        depths=[2, 2, 10, 4],
        sr_ratios=[8, 4, 2, 1],
        norm_after_stage=True,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.2,
        windiow_sizes=[7, 7, 7, 7]),  # sic: mmseg's spelling
}
# yapf: enable
# The row every table gives its ratios to.
REFERENCE = 'SepViT-T'
# Rows also timed in ONNX Runtime and OpenVINO, at 800x1280, batch 1.
RUNTIME_MODELS = ('SepViT-T', 'Swin-T')
# Rows of the sweep: SepViT-T and the efficient-attention peers.
SWEEP_MODELS = ('SepViT-T', 'Swin-T', 'PVTv2-b2', 'Twins-SVT-S', 'DualViT-S',
                'Shuffle-T', 'MSG-T')
# Rows of --allocators: training with and without freed memory kept.
ALLOCATOR_MODELS = ('SepViT-T', 'Swin-T')
# Every row's outputs: its four stages.
STAGE_OUTPUTS = (0, 1, 2, 3)
_SCOPED_TYPE = re.compile(r'[A-Za-z_]\w*\.[A-Za-z_]\w*')


def parse_backbone(spec: str) -> dict:
    """The model config of ``'scope.Type:key=value,...'``.

    Values are Python literals; a bare word is a string, so
    ``'mmdet.SwinTransformer:depths=(2,2,18,2),drop_path_rate=0.3'`` and
    ``'mmsepvit.SepViT:arch=lite'`` both read as meant.

    Raises:
        ValueError: ``spec`` is not of that form, naming what is wrong.
    """
    type_name, _, arguments = spec.partition(':')
    if not _SCOPED_TYPE.fullmatch(type_name):
        raise ValueError(
            f'unknown backbone {spec!r}: name one of {list(BACKBONES)} or a '
            "registry type with its scope and arguments, e.g. "
            "'mmsepvit.SepViT:arch=lite'")
    try:
        call = ast.parse(f'backbone({arguments})', mode='eval').body
        if call.args or any(kw.arg is None for kw in call.keywords):
            raise SyntaxError('every argument needs a name')
        return dict(
            type=type_name,
            **{
                keyword.arg: _literal(keyword.value)
                for keyword in call.keywords
            })
    except (SyntaxError, TypeError, ValueError) as error:
        raise ValueError(
            f'cannot read the arguments of backbone {spec!r} ({error}); '
            'write them as key=value,key=value with Python literals') from None


def _literal(node: ast.expr) -> object:
    return node.id if isinstance(node, ast.Name) else ast.literal_eval(node)


def backbone_config(name: str) -> dict:
    """The model config of row ``name`` of :data:`BACKBONES`, or of the
    registry type and arguments it spells (:func:`parse_backbone`)."""
    if name in BACKBONES:
        return dict(BACKBONES[name])
    return parse_backbone(name)


def build_backbone(name: str) -> nn.Module:
    """Backbone ``name`` (:func:`backbone_config`) with random weights and,
    unless its arguments say otherwise, its four stage outputs."""
    cfg = {'out_indices': STAGE_OUTPUTS, **backbone_config(name)}
    scope, _ = Registry.split_scope_key(cfg['type'])
    init_default_scope(scope)
    return MODELS.build(cfg)
