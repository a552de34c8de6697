# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Key mapping from the authors' released SepViT code to mmsepvit."""
import re
from typing import Dict, List, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

# (pattern, replacement) on the released names, applied in order; every key
# must match exactly one rule.
_RULES: List[Tuple[str, str]] = [
    (r'^patch_embeds\.(\d+)\.proj\.', r'backbone.stages.\1.patch_embed.projection.'),
    (r'^patch_embeds\.(\d+)\.norm\.', r'backbone.stages.\1.patch_embed.norm.'),
    (r'^pos_block\.(\d+)\.proj\.0\.', r'backbone.stages.\1.pos_embed.proj.'),
    (r'^blocks\.(\d+)\.(\d+)\.win_tokens$', r'backbone.stages.\1.blocks.\2.window_token'),
    (r'^blocks\.(\d+)\.(\d+)\.attn\.DSA_qkv\.', r'backbone.stages.\1.blocks.\2.attn.qkv.'),
    (r'^blocks\.(\d+)\.(\d+)\.attn\.win_tokens_norm\.', r'backbone.stages.\1.blocks.\2.attn.token_norm.'),
    (r'^blocks\.(\d+)\.(\d+)\.attn\.PSA_qk\.', r'backbone.stages.\1.blocks.\2.attn.token_qk.'),
    (r'^blocks\.(\d+)\.(\d+)\.(attn\.proj|norm1|norm2|mlp\.fc1|mlp\.fc2)\.', r'backbone.stages.\1.blocks.\2.\3.'),
    (r'^norm_list\.(\d+)\.', r'backbone.norm\1.'),
    (r'^head\.', 'head.fc.'),
]  # yapf: disable


def convert_official_sepvit(state_dict: StateDict) -> Tuple[StateDict, str]:
    """Convert a state dict of the released code to mmsepvit's names.

    Accepts the classifier (``classification/sepvit.py``) and the dense
    backbone (``detection/`` or ``segmentation/sepvit.py``), also inside a
    detector or segmentor state dict (its ``backbone.`` keys are used).

    Returns:
        tuple: The converted state dict, with backbone keys under
        ``backbone.`` and a classifier's head under ``head.fc.``; and the
        layout, 'classifier' or 'dense'.

    Raises:
        ValueError: A key the released code does not produce.
    """
    if any(k.startswith('backbone.') for k in state_dict):
        state_dict = {
            k[len('backbone.'):]: v
            for k, v in state_dict.items() if k.startswith('backbone.')
        }
    layout = 'classifier' if 'head.weight' in state_dict else 'dense'
    num_stages = 1 + max(
        (int(m.group(1))
         for k in state_dict if (m := re.match(r'patch_embeds\.(\d+)\.', k))),
        default=-1)
    if num_stages == 0:
        raise ValueError('not a checkpoint of the released SepViT code: no '
                         '"patch_embeds." keys')
    # The classifier's final norm is the last stage's output norm.
    rules = _RULES + [(r'^norm\.', f'backbone.norm{num_stages - 1}.')]

    converted, unknown = {}, []
    for key, value in state_dict.items():
        for pattern, replacement in rules:
            new_key, count = re.subn(pattern, replacement, key)
            if count:
                converted[new_key] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError('keys the released SepViT code does not produce: '
                         f'{sorted(unknown)}')
    return converted, layout
