# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Convert a checkpoint of the authors' released Shuffle Transformer code to
mmsepvit.

The result loads strictly into the mmpretrain classifier of
configs/shuffle_*_300e_in1k.py (``load_from``), and into
``ShuffleTransformer`` with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
"""
import argparse
import os
import os.path as osp

import torch

from mmsepvit.models.utils import convert_official_shuffle
from mmsepvit.utils import extract_state_dict, load_local_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint in the released layout')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    state_dict = extract_state_dict(
        load_local_checkpoint(args.src, map_location='cpu'), args.src)
    converted, layout = convert_official_shuffle(state_dict)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(converted_from=osp.basename(args.src), layout=layout)),
        args.dst)
    num_params = sum(v.numel() for v in converted.values())
    print(f'Converted {len(converted)} tensors ({num_params / 1e6:.3f} M '
          f'values) of a released Shuffle Transformer {layout} checkpoint '
          f'to {args.dst}')


if __name__ == '__main__':
    main()
