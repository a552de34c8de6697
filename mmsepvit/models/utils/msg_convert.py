# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Key mapping from the authors' released MSG-Transformer code to mmsepvit.
"""
import re
from typing import Dict, List, Optional, Tuple

import torch

StateDict = Dict[str, torch.Tensor]

# (pattern, replacement) on the released names, applied in order; every key
# must match exactly one rule. ``relative_position_index`` is a constant of
# the window size, rebuilt by the model and not saved.
_BLOCK = r'^layers\.(\d+)\.blocks\.(\d+)\.'
_RULES: List[Tuple[str, Optional[str]]] = [
    (r'^msg_tokens$', 'backbone.msg_tokens'),
    (r'^patch_embed\.proj\.', 'backbone.patch_embed.projection.'),
    (r'^patch_embed\.norm\.', 'backbone.patch_embed.norm.'),
    (_BLOCK + r'attn\.relative_position_index$', None),
    (_BLOCK + r'(norm[12]|mlp\.fc[12]|attn\.qkv|attn\.proj)\.(weight|bias)$',
     r'backbone.stages.\1.blocks.\2.\3.\4'),
    (_BLOCK + r'attn\.(relative_position_bias_table|rel_pos_msg)$',
     r'backbone.stages.\1.blocks.\2.attn.\3'),
    (r'^layers\.(\d+)\.downsample\.(reduction|norm)\.(weight|bias)$',
     r'backbone.stages.\1.downsample.\2.\3'),
    (r'^norm\.(weight|bias)$', r'backbone.norm.\1'),
    (r'^head\.(weight|bias)$', r'head.fc.\1'),
]  # yapf: disable


def convert_official_msg(state_dict: StateDict) -> Tuple[StateDict, str]:
    """Convert a state dict of the released MSG-Transformer to mmsepvit's
    names.

    The release saves its classifier (``models/msg_transformer.py``); its
    trunk goes under ``backbone.`` (``norm`` is ``MSGTransformer``'s
    ``final_norm``) and its head under ``head.fc.``, which loads strictly
    into the mmpretrain classifier of ``configs/msg_*_300e_in1k.py``. A
    state dict without the head (a trunk) is converted as well.

    Returns:
        tuple: The converted state dict and the layout, 'classifier' or
        'backbone'.

    Raises:
        ValueError: Not a checkpoint of the released code, or a key it does
            not produce.
    """
    if 'msg_tokens' not in state_dict:
        raise ValueError('not a checkpoint of the released MSG-Transformer '
                         'code: no "msg_tokens" key')
    layout = 'classifier' if 'head.weight' in state_dict else 'backbone'
    converted, unknown = {}, []
    for key, value in state_dict.items():
        for pattern, replacement in _RULES:
            if re.match(pattern, key):
                if replacement is not None:
                    converted[re.sub(pattern, replacement, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError('keys the released MSG-Transformer code does not '
                         f'produce: {sorted(unknown)}')
    return converted, layout
