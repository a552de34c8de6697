# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Convert a checkpoint of the authors' released Dual-ViT code to mmsepvit.

A classifier checkpoint loads strictly into the mmpretrain classifier of
configs/dualvit_*_300e_in1k.py (``DualViT(classifier=True)`` with
``DualViTClsHead``); with ``--dense``, or from a detection or segmentation
checkpoint, into the dense ``DualViT`` with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``.
"""
import argparse

from mmsepvit.models.utils import convert_official_dualvit
from mmsepvit.models.utils.converted_file import read_released, save_converted


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
    state_dict = read_released(args.src)
    converted, unused, layout = convert_official_dualvit(
        state_dict, dense=args.dense)
    save_converted(
        args.dst, converted, args.src, 'Dual-ViT', layout, unused=unused)


if __name__ == '__main__':
    main()
