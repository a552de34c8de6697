# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Reading a released checkpoint and writing its conversion: what the
converter tools (tools/model_converters/*2mmsepvit.py) share."""
import os
import os.path as osp
from typing import Dict, List, Optional

import torch

from mmsepvit.utils import extract_state_dict, load_local_checkpoint


def read_released(src: str) -> Dict[str, torch.Tensor]:
    """The tensors of a released checkpoint, read weights-only."""
    return extract_state_dict(
        load_local_checkpoint(src, map_location='cpu'), src)


def save_converted(dst: str,
                   converted: Dict[str, torch.Tensor],
                   src: str,
                   release: str,
                   layout: str,
                   unused: Optional[List[str]] = None) -> None:
    """Save ``{'state_dict': converted, 'meta': ...}`` at ``dst`` (folders
    made) and print what was converted, and every key left out."""
    meta = dict(converted_from=osp.basename(src), layout=layout)
    if unused is not None:
        meta['unused_keys'] = unused
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(state_dict=converted, meta=meta), dst)
    num_params = sum(v.numel() for v in converted.values())
    print(f'Converted {len(converted)} tensors ({num_params / 1e6:.3f} M '
          f'values) of a released {release} checkpoint to the {layout} '
          f'layout in {dst}')
    if unused:
        print(f'Left out {len(unused)} tensors with no counterpart in the '
              f'{layout} layout:')
        for key in unused:
            print(f'  {key}')
