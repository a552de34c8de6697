# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Quantize a detector, segmentor or classifier config to INT8 with NNCF
(post-training, transformer preset) for CPU deployment in OpenVINO, and
report the INT8 model's accuracy and latency against the float one's.

The model is exported at one shape (--shape, default the first val image's
preprocessed size; smaller images are padded), calibrated on --calib-size
images of the config's training set (through the val pipeline) and
evaluated with the config's val dataloader and evaluator, float and INT8
image by image in the same run. The float and INT8 OpenVINO models go to
the work dir. Needs the [deploy] extra: pip install 'mmsepvit[deploy]'.
"""
import argparse

import mmsepvit  # noqa: F401  (registers SepViT; allows mmengine checkpoints)
from mmsepvit.deploy import (DEFAULT_CALIB_SIZE, PRESETS, format_report,
                             quantize_config)
from mmsepvit.utils.tool_config import config_argument_parser, read_config


def parse_args() -> argparse.Namespace:
    parser = config_argument_parser(__doc__)
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='weights, loaded strictly (default: initialised weights)')
    parser.add_argument(
        '--work-dir',
        help='where the ONNX file and the float and INT8 OpenVINO models '
        'go (default: work_dirs/CONFIG_NAME)')
    parser.add_argument(
        '--calib-size',
        type=int,
        default=DEFAULT_CALIB_SIZE,
        help='calibration images from the training set (capped at its '
        'size)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='export height and width (default: the first val image, '
        'preprocessed)')
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='OpenVINO CPU threads of both models')
    parser.add_argument(
        '--runs', type=int, default=20, help='timed runs (median)')
    parser.add_argument(
        '--preset',
        choices=PRESETS,
        default='mixed',
        help='NNCF preset (mixed: the transformer default)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = read_config(args)
    report = quantize_config(
        cfg,
        args.checkpoint,
        work_dir=args.work_dir,
        calib_size=args.calib_size,
        shape=args.shape,
        threads=args.threads,
        runs=args.runs,
        preset=args.preset,
        log=print)
    print(format_report(report))


if __name__ == '__main__':
    main()
