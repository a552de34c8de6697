# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Convert a checkpoint of the authors' released Dual-ViT code to mmsepvit.

A classifier checkpoint loads strictly into the mmpretrain classifier of
configs/dualvit_*_300e_in1k.py (``DualViT(classifier=True)`` with
``DualViTClsHead``); with ``--dense``, or from a detection or segmentation
checkpoint, into the dense ``DualViT`` with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
"""
import argparse
import os
import os.path as osp

import torch

from mmsepvit.models.utils import convert_official_dualvit
from mmsepvit.utils import extract_state_dict, load_local_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint in the released layout')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    parser.add_argument(
        '--dense',
        action='store_true',
        help='convert a classifier to the dense backbone (detection, '
        'segmentation), leaving out the weights it has no counterpart for')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    state_dict = extract_state_dict(
        load_local_checkpoint(args.src, map_location='cpu'), args.src)
    converted, unused, layout = convert_official_dualvit(
        state_dict, dense=args.dense)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(
        dict(
            state_dict=converted,
            meta=dict(
                converted_from=osp.basename(args.src),
                layout=layout,
                unused_keys=unused)), args.dst)
    num_params = sum(v.numel() for v in converted.values())
    print(f'Converted {len(converted)} tensors ({num_params / 1e6:.3f} M '
          f'values) of a released Dual-ViT checkpoint to the {layout} '
          f'layout in {args.dst}')
    if unused:
        print(f'Left out {len(unused)} tensors with no counterpart in the '
              f'{layout} layout:')
        for key in unused:
            print(f'  {key}')


if __name__ == '__main__':
    main()
