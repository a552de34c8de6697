# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Train a detector, segmentor or classifier from an mmengine config."""
import argparse

import torch

import mmsepvit  # noqa: F401  (registers SepViT; allows mmengine checkpoints)
from mmsepvit.utils.allocator import keep_freed_memory
from mmsepvit.utils.tool_config import (apply_train_options, build_runner,
                                        load_tool_config, tool_argument_parser)


def parse_args() -> argparse.Namespace:
    parser = tool_argument_parser(__doc__)
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: fp16 with loss scaling on a GPU, bf16 on CPUs')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the real batch size over auto_scale_lr')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or without a path from the '
        'latest checkpoint in the work dir')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if not torch.cuda.is_available():
        # Before the first step: CPU steps otherwise fault their activations
        # in afresh each time (mmsepvit/utils/allocator.py).
        print(keep_freed_memory(), flush=True)
    cfg = load_tool_config(args)
    apply_train_options(cfg, args)
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
