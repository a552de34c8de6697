# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Key mapping from the authors' released Shuffle Transformer code
(``models/shuffle_transformer.py``) to mmsepvit's ``ShuffleTransformer``."""
import re
from typing import Dict, List, Tuple

import torch

from mmsepvit.models.backbones.shuffle_transformer import \
    relative_position_index

StateDict = Dict[str, torch.Tensor]

# (pattern, replacement) on the released names, applied in order; every key
# must match exactly one rule. ``{block}`` stands for the flat block index
# 2k + p of ``layers.{k}.{p}`` (p = 0 regular, 1 shuffled windows).
_RULES: List[Tuple[str, str]] = [
    (r'^to_token\.conv1\.0\.', 'backbone.stem.conv1.'),
    (r'^to_token\.conv1\.1\.', 'backbone.stem.norm1.'),
    (r'^to_token\.conv2\.0\.', 'backbone.stem.conv2.'),
    (r'^to_token\.conv2\.1\.', 'backbone.stem.norm2.'),
    (r'^to_token\.conv3\.', 'backbone.stem.proj.'),
    (r'^stage(\d+)\.patch_partition\.(norm|reduction)\.',
     'backbone.stages.{stage}.downsample.\\2.'),
    (r'^stage(\d+)\.layers\.(\d+)\.([01])\.(norm[123]|local)\.',
     'backbone.stages.{stage}.blocks.{block}.\\4.'),
    (r'^stage(\d+)\.layers\.(\d+)\.([01])\.'
     r'(attn\.(relative_position_bias_table$|to_qkv\.|proj\.))',
     'backbone.stages.{stage}.blocks.{block}.\\4'),
    (r'^stage(\d+)\.layers\.(\d+)\.([01])\.mlp\.(fc[12])\.',
     'backbone.stages.{stage}.blocks.{block}.\\4.'),
    (r'^head\.', 'head.fc.'),
]  # yapf: disable

# 1x1 convolutions of the release that are linear layers here.
_POINTWISE = re.compile(r'\.(attn\.to_qkv|attn\.proj|fc1|fc2)\.weight$')
_INDEX = re.compile(r'^stage\d+\.layers\.\d+\.[01]\.attn\.'
                    r'relative_position_index$')


def _rename(key: str) -> str:
    for pattern, replacement in _RULES:
        match = re.match(pattern, key)
        if match is None:
            continue
        if '{' in replacement:
            groups = match.groups()
            replacement = replacement.format(
                stage=int(groups[0]) - 1,
                block=(2 * int(groups[1]) +
                       int(groups[2]) if len(groups) > 2 else None))
        return re.sub(pattern, replacement, key)
    return ''


def convert_official_shuffle(state_dict: StateDict) -> Tuple[StateDict, str]:
    """Convert a state dict of the released Shuffle Transformer code.

    The release's 1x1 convolutions (query/key/value, projection, MLP)
    become linear weights; its ``relative_position_index`` buffers, which
    this model derives from the window size, are checked to be Swin's index
    and dropped.

    Returns:
        tuple: The converted state dict, with backbone keys under
        ``backbone.`` and a classifier's head under ``head.fc.`` (the
        mmpretrain ``ImageClassifier`` of ``configs/shuffle_*_in1k.py``); and
        the layout, 'classifier' (with head) or 'backbone'.

    Raises:
        ValueError: Not a Shuffle Transformer checkpoint; a key the released
            code does not produce; a position index that is not Swin's.
    """
    if not any(k.startswith('to_token.') for k in state_dict):
        raise ValueError('not a checkpoint of the released Shuffle '
                         'Transformer code: no "to_token." keys')
    converted, unknown, indices = {}, [], {}
    for key, value in state_dict.items():
        if _INDEX.match(key):
            indices[key] = value
            continue
        new_key = _rename(key)
        if not new_key:
            unknown.append(key)
            continue
        if _POINTWISE.search(new_key):
            if value.dim() != 4 or value.shape[2:] != (1, 1):
                raise ValueError(f'{key}: expected a 1x1 convolution '
                                 f'weight, got shape {tuple(value.shape)}')
            value = value.flatten(1)
        converted[new_key] = value
    if unknown:
        raise ValueError('keys the released Shuffle Transformer code does '
                         f'not produce: {sorted(unknown)}')
    for key, index in indices.items():
        window_size = round(index.shape[0]**0.5)
        if not torch.equal(index.long(), relative_position_index(window_size)):
            raise ValueError(f'{key} is not the relative position index of '
                             f'{window_size}x{window_size} windows')
    layout = 'classifier' if 'head.fc.weight' in converted else 'backbone'
    return converted, layout
