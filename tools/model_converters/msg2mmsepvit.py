# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Convert a checkpoint of the authors' released MSG-Transformer to mmsepvit.

A classifier checkpoint ({'model': ...}, keys ``msg_tokens``,
``patch_embed.*``, ``layers.*``, ``norm.*``, ``head.*``) loads strictly into
the mmpretrain classifier of configs/msg_*_300e_in1k.py, and its trunk into
``MSGTransformer`` with
``init_cfg=dict(type='Pretrained', checkpoint=DST, prefix='backbone.')``
(with ``final_norm=True``; without it, drop the ``backbone.norm.`` keys).
"""
import argparse

from mmsepvit.models.utils import convert_official_msg
from mmsepvit.models.utils.converted_file import read_released, save_converted


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='checkpoint in the released layout')
    parser.add_argument('dst', help='where to save the converted checkpoint')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    state_dict = read_released(args.src)
    converted, layout = convert_official_msg(state_dict)
    save_converted(args.dst, converted, args.src, 'MSG-Transformer', layout)


if __name__ == '__main__':
    main()
