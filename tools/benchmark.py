# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Benchmark SepViT-T/S/B beside Swin-T/S (mmdet), PVTv2-b2 (mmdet) and
Twins-SVT-S (mmseg) backbones, as their configs publish them, or any
registered backbone named by its type and arguments
('mmsepvit.SepViT:arch=lite').

For each backbone and device: parameters; forward latency at batch 1 and
throughput at a larger batch, at 224x224 and 800x1280 (no grad); training
step time (forward, backward, AdamW), its page faults and peak memory at
512x512; the multiply-adds of the 800x1280 forward and of the training step,
and their rate, also as a share of the device's float32 matmul peak. Every
time is the median of --runs runs after warm-up; every model is measured in a
fresh process.
SepViT-T and Swin-T are also exported to ONNX and timed at 800x1280 in ONNX
Runtime and OpenVINO (the [deploy] extra). The table gives ratios to SepViT-T
in PyTorch. On CUDA the models run under bf16 autocast (--amp does the same
on the CPU).

    .venv/bin/python tools/benchmark.py [--models SepViT-T Swin-T] [--runs 5]

--sweep times the batch-1 forward and its peak memory (and the training step
up to --sweep-train-max pixels) from 224x224 to 1600x2560 and plots them
against the pixel count, log-log, beside a JSON of the figures:

    .venv/bin/python tools/benchmark.py --sweep --out work_dirs/sweep

--allocators times the CPU training step of SepViT-T and Swin-T with glibc as
it comes and with freed memory kept (as tools/train.py runs on the CPU), with
the page faults of each step.

--profile MODEL breaks one 800x1280 forward and one 512x512 training step
down by kind of operation (torch.profiler, self time), with their minor page
faults. --runtime-profile MODEL breaks MODEL's exported 800x1280 forward down
by the runtimes' own counters (OpenVINO's PERF_COUNT by executed node type,
ONNX Runtime's profiler by op).
"""
import argparse
import json

import torch

from mmsepvit.benchmark.models import (ALLOCATOR_MODELS, BACKBONES,
                                       SWEEP_MODELS, backbone_config)
from mmsepvit.benchmark.profile import run_profile
from mmsepvit.benchmark.report import run_allocator_comparison, run_benchmark
from mmsepvit.benchmark.runtime_profile import run_runtime_profile
from mmsepvit.benchmark.sweep import run_sweep
from mmsepvit.benchmark.worker import Settings


def backbone(name: str) -> str:
    """A row of the table or a ``scope.Type:key=value,...`` backbone."""
    try:
        backbone_config(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        '--models',
        nargs='+',
        type=backbone,
        metavar='MODEL',
        help=f'backbones to measure: {", ".join(BACKBONES)}, or '
        "'scope.Type:key=value,...' (default: all; with --sweep: "
        f'{", ".join(SWEEP_MODELS)})')
    parser.add_argument(
        '--devices',
        nargs='+',
        choices=['cpu', 'cuda'],
        help='default: cpu, and cuda when present')
    parser.add_argument('--runs', type=int, default=5, help='timed runs')
    parser.add_argument(
        '--threads', type=int, help='CPU threads (default: torch default)')
    parser.add_argument(
        '--json', help='also write the raw figures to this file')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='bf16 autocast on the CPU too (always on for CUDA)')
    parser.add_argument(
        '--no-runtimes',
        action='store_true',
        help='skip the ONNX Runtime and OpenVINO rows of SepViT-T and '
        'Swin-T')
    parser.add_argument(
        '--sweep',
        action='store_true',
        help='time forward (and training) over input sizes; plot them')
    parser.add_argument(
        '--sweep-train-max',
        type=int,
        default=800 * 1333,
        metavar='PIXELS',
        help='largest input (pixels) of the sweep\'s training step '
        '(default: 800x1333)')
    parser.add_argument(
        '--out',
        default='work_dirs/benchmark_sweep',
        help='--sweep: the PNG and JSON are written as OUT.png, OUT.json')
    parser.add_argument(
        '--allocators',
        action='store_true',
        help='time the CPU training step with glibc as it comes and with '
        'freed memory kept, as tools/train.py sets it (default models: '
        'SepViT-T, Swin-T)')
    parser.add_argument(
        '--profile',
        type=backbone,
        metavar='MODEL',
        help='break one forward and one training step of MODEL down')
    parser.add_argument(
        '--runtime-profile',
        type=backbone,
        metavar='MODEL',
        help="break MODEL's exported forward down in OpenVINO and ONNX "
        'Runtime')
    args = parser.parse_args()
    modes = (args.sweep, args.profile, args.allocators, args.runtime_profile)
    if sum(map(bool, modes)) > 1:
        parser.error('--sweep, --profile, --runtime-profile and --allocators '
                     'are separate runs')
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.profile:
        run_profile(args.profile, args.threads, args.amp)
        return
    if args.runtime_profile:
        run_runtime_profile(args.runtime_profile, args.threads, runs=args.runs)
        return
    settings = Settings(args.runs, args.threads, args.amp,
                        args.sweep_train_max)
    devices = args.devices or (['cpu', 'cuda']
                               if torch.cuda.is_available() else ['cpu'])
    if args.sweep:
        for device in devices:
            run_sweep(args.models or SWEEP_MODELS, device, settings, args.out)
        return
    if args.allocators:
        report = run_allocator_comparison(args.models or ALLOCATOR_MODELS,
                                          settings)
    else:
        report = run_benchmark(
            args.models or list(BACKBONES), devices, settings,
            not args.no_runtimes)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
