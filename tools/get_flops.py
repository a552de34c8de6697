# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Print the parameters and FLOPs of a classifier, detector or segmentor
config at the paper's input shape (224x224, 800x1280 or 512x2048) unless
--shape is given, counted by mmengine's counter as mmdet's and mmseg's
get_flops count them (SepViT's attention included). No dataset and no
checkpoint are needed."""
import argparse

import mmsepvit  # noqa: F401  (registers SepViT)
from mmsepvit.utils.complexity import model_complexity
from mmsepvit.utils.tool_config import config_argument_parser, read_config


def parse_args() -> argparse.Namespace:
    parser = config_argument_parser(__doc__)
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = read_config(args)
    result = model_complexity(cfg, args.shape)
    height, width = result['shape']
    print(f'Config:   {args.config}')
    print(f'Input:    1x3x{height}x{width}')
    print(f"Model:    {result['params'] / 1e6:.2f} M parameters, "
          f"{result['flops'] / 1e9:.2f} GFLOPs")
    print(f"Backbone: {result['backbone_params'] / 1e6:.2f} M parameters, "
          f"{result['backbone_flops'] / 1e9:.2f} GFLOPs")
    print("FLOPs are mmengine's count: multiply-adds of convolutions and "
          'matrix products (attention included) and its estimates for '
          'norms, upsampling and pooling.')


if __name__ == '__main__':
    main()
