# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Evaluate a checkpoint: COCO mAP, ADE20K mIoU or ImageNet accuracy, as the
config's evaluator says."""
import argparse

import mmsepvit  # noqa: F401  (registers SepViT; allows mmengine checkpoints)
from mmsepvit.utils.tool_config import (apply_test_options, build_runner,
                                        load_tool_config, tool_argument_parser)


def parse_args() -> argparse.Namespace:
    parser = tool_argument_parser(__doc__)
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='draw predictions into images under the work dir')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    apply_test_options(cfg, args)
    build_runner(cfg).test()


if __name__ == '__main__':
    main()
