# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Export a classifier, detector or segmentor config to ONNX, check ONNX
Runtime's (and OpenVINO's) outputs against PyTorch on the same input, and
print the latencies.

The graph is the model's tensor forward on preprocessed (normalised) inputs:
a detector's backbone, neck and head outputs before box decoding and NMS, a
segmentor's logits, a classifier's scores. With --dynamic, height and width
are symbolic (any input of at least the backbone's least size, 32 pixels for
SepViT) and the check runs at a second size too. A relative error
(max|a-b| / max|b|) above --rtol in any output is an error naming it. Needs
the [deploy] extra: pip install 'mmsepvit[deploy]'.
"""
import argparse
import os.path as osp

import torch

import mmsepvit  # noqa: F401  (registers SepViT; allows mmengine checkpoints)
from mmsepvit.deploy import (RUNTIME_NAMES, RUNTIMES, build_model_for_export,
                             export_and_check, load_config, min_input_size)
from mmsepvit.utils.tool_config import config_argument_parser, read_config


def parse_args() -> argparse.Namespace:
    parser = config_argument_parser(__doc__)
    parser.add_argument(
        'checkpoint',
        nargs='?',
        help='weights, loaded strictly (default: initialised weights)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        required=True,
        metavar=('H', 'W'),
        help='input height and width (at least 32 each for SepViT)')
    parser.add_argument(
        '--dynamic',
        action='store_true',
        help='symbolic height and width: one file for any input size')
    parser.add_argument(
        '--check-shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='with --dynamic, the second size checked (default: about 3/4 '
        'of --shape)')
    parser.add_argument(
        '--out',
        help='the .onnx file (default: work_dirs/CONFIG_NAME/CONFIG_NAME'
        '.onnx)')
    parser.add_argument(
        '--runtimes',
        nargs='+',
        choices=RUNTIMES,
        default=list(RUNTIMES),
        help='runtimes to check and time (default: both)')
    parser.add_argument(
        '--runs', type=int, default=5, help='timed runs (median)')
    parser.add_argument(
        '--threads',
        type=int,
        help='CPU threads of every runtime (default: torch default)')
    parser.add_argument(
        '--rtol',
        type=float,
        default=1e-4,
        help='largest relative error allowed per output')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    cfg = read_config(args)
    load_config(cfg)  # a config without a model fails before building
    name = osp.splitext(osp.basename(args.config))[0]
    out = args.out or osp.join('work_dirs', name, f'{name}.onnx')
    if args.threads:
        torch.set_num_threads(args.threads)

    model = build_model_for_export(cfg, args.checkpoint)
    report = export_and_check(
        model,
        args.shape,
        out,
        dynamic=args.dynamic,
        second=args.check_shape,
        runtimes=args.runtimes,
        runs=args.runs,
        threads=args.threads,
        rtol=args.rtol)

    info = report['export']
    height, width = args.shape
    if args.dynamic:
        trace_h, trace_w = info['trace_shape']
        kind = (f'dynamic height and width (1x3xHxW, H, W >= '
                f'{min_input_size(model)}; traced at {trace_h}x{trace_w})')
    else:
        kind = f'static 1x3x{height}x{width}'
    print(f'Exported {args.config} ({model.task}) to {out}: {kind}, '
          f"{len(info['output_names'])} outputs, in {info['seconds']:.1f} s")
    print(f"Outputs: {', '.join(info['output_names'])}")
    for check in report['checks']:
        errors = check['errors']
        worst = max(errors, key=errors.get)
        size = '{}x{}'.format(*check['shape'])
        runtime = RUNTIME_NAMES[check['runtime']]
        print(f'Parity {runtime} at {size}: max relative error '
              f'{errors[worst]:.2e} ({worst}), within {args.rtol:g}')
    threads = report['threads']
    latency = ', '.join(f'{RUNTIME_NAMES[k]} {v * 1e3:.1f} ms'
                        for k, v in report['latency_s'].items())
    print(f'Latency at {height}x{width}, batch 1, median of {args.runs}, '
          f"{threads} thread{'s' if threads > 1 else ''}: {latency}")


if __name__ == '__main__':
    main()
