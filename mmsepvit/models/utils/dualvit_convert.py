# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Key mapping from the authors' released Dual-ViT code to mmsepvit."""
import re
from typing import Dict, List, Tuple

import torch

StateDict = Dict[str, torch.Tensor]


def _stage(match: 're.Match') -> str:
    return str(int(match.group(1)) - 1)


# (pattern, replacement) on the released names, applied in order; every key
# must match one rule. Released stages count from 1, ours from 0.
_BACKBONE_RULES: List[Tuple[str, object]] = [
    (r'^patch_embed1\.conv\.', 'stages.0.patch_embed.convs.'),
    (r'^patch_embed(\d)\.(proj|norm)\.',
     lambda m: f'stages.{_stage(m)}.patch_embed.{m.group(2)}.'),
    (r'^(q|q_embed\.[01]\.\w+|kv\.\w+|se\.[02]\.\w+|proxy_ln\.\w+)$',
     r'stages.0.semantic_embed.\1'),
    (r'^proxy_embed(\d)\.proj_proxy\.0\.',
     lambda m: f'stages.{_stage(m)}.semantic_embed.proj.'),
    (r'^proxy_embed(\d)\.proj_proxy\.1\.',
     lambda m: f'stages.{_stage(m)}.semantic_embed.norm.'),
    (r'^block(\d)\.(\d+)\.mlp\.dwconv\.dwconv\.',
     lambda m: f'stages.{_stage(m)}.blocks.{m.group(2)}.mlp.dwconv.'),
    (r'^block(\d)\.(\d+)\.',
     lambda m: f'stages.{_stage(m)}.blocks.{m.group(2)}.'),
    (r'^norm_proxy(\d)\.', lambda m: f'norm_proxy{_stage(m)}.'),
    (r'^norm(\d)\.', lambda m: f'norm{_stage(m)}.'),
]
# The classifier's head: its class-attention block, final norm (``norm4``,
# the dense backbone's ``norm3``), head and token-label head.
_HEAD_RULES: List[Tuple[str, str]] = [
    (r'^post_network\.0\.', 'head.cls_block.'),
    (r'^norm4\.', 'head.norm.'),
    (r'^head\.', 'head.fc.'),
    (r'^aux_head\.', 'head.aux_fc.'),
]


def _rename(key: str, rules: list) -> str:
    for pattern, replacement in rules:
        new_key, count = re.subn(pattern, replacement, key)
        if count:
            return new_key
    return None


def convert_official_dualvit(
        state_dict: StateDict,
        dense: bool = False) -> Tuple[StateDict, List[str], str]:
    """Convert a state dict of the released Dual-ViT code to mmsepvit.

    Accepts the classifier (``classification/dualvit.py``) and the dense
    backbone (``object_detection/`` or ``semantic_segmentation/.../
    dualvit.py``), also inside a detector or segmentor state dict (its
    ``backbone.`` keys are used).

    Args:
        state_dict (dict): The released weights.
        dense (bool): Convert a classifier's weights to the dense backbone
            (``DualViT()``): its final ``norm4`` becomes ``norm3``, and the
            weights with no counterpart there (the class-attention block,
            ``head``, ``aux_head``, the last block's semantic FFN) are left
            out and returned. A dense checkpoint is always converted to the
            dense backbone.

    Returns:
        tuple: The converted state dict, with keys under ``backbone.`` and a
        classifier's head under ``head.`` (the mmpretrain classifier of
        ``DualViT(classifier=True)`` and ``DualViTClsHead``); the released
        keys left out (sorted); and the layout converted to, 'classifier'
        or 'dense'.

    Raises:
        ValueError: A key the released code does not produce.
    """
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = {
            k[len('backbone.'):]: v
            for k, v in state_dict.items() if k.startswith('backbone.')
        }
    if not any(k.startswith('block1.') for k in state_dict):
        raise ValueError('not a checkpoint of the released Dual-ViT code: '
                         'no "block1." keys')
    is_classifier = 'head.weight' in state_dict or any(
        k.startswith('post_network.') for k in state_dict)
    to_classifier = is_classifier and not dense
    last_stage = max(
        int(m.group(1)) for k in state_dict
        if (m := re.match(r'block(\d)\.', k)))
    last_block = max(
        int(m.group(1)) for k in state_dict
        if (m := re.match(rf'block{last_stage}\.(\d+)\.', k)))
    last_semantic_ffn = f'block{last_stage}.{last_block}.mlp.fc_proxy.'

    converted, unused, unknown = {}, [], []
    for key, value in state_dict.items():
        if is_classifier and not to_classifier and (
                key.startswith(last_semantic_ffn)
                or _rename(key, _HEAD_RULES[:1] + _HEAD_RULES[2:])):
            unused.append(key)
            continue
        new_key = _rename(key, _HEAD_RULES) if to_classifier else None
        if new_key is None:
            new_key = _rename(key, _BACKBONE_RULES)
            new_key = new_key and 'backbone.' + new_key
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = value
    if unknown:
        raise ValueError('keys the released Dual-ViT code does not produce: '
                         f'{sorted(unknown)}')
    return converted, sorted(unused), ('classifier'
                                       if to_classifier else 'dense')
