# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Benchmark SepViT-T/S/B beside Swin-T/S (mmdet), PVTv2-b2 (mmdet) and
Twins-SVT-S (mmseg) backbones, all built from the installed packages' configs.

For each backbone and device: parameters; forward latency at batch 1 and
throughput at a larger batch, at 224x224 and 800x1280 (no grad); training
step time (forward, backward, AdamW) and its peak memory at 512x512. Every
figure is the median of --runs runs after warm-up; every model is measured in
a fresh process. The table gives ratios to SepViT-T.

    .venv/bin/python tools/benchmark.py [--models SepViT-T Swin-T] [--runs 5]
"""
import argparse
import importlib
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional

import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope

import mmsepvit  # noqa: F401  (registers SepViT)

# name: the config whose backbone is measured.
BACKBONES = {
    'SepViT-T':
    'configs/retinanet_sepvit_t_1x_coco.py',
    'SepViT-S':
    'configs/retinanet_sepvit_s_1x_coco.py',
    'SepViT-B':
    'configs/upernet_sepvit_b_160k_ade20k.py',
    'Swin-T':
    'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
    'Swin-S':
    'mmdet::swin/mask-rcnn_swin-s-p4-w7_fpn_amp-ms-crop-3x_coco.py',
    'PVTv2-b2':
    'mmdet::pvt/retinanet_pvtv2-b2_fpn_1x_coco.py',
    'Twins-SVT-S':
    'mmseg::twins/twins_svt-s_fpn_fpnhead_8xb4-80k_ade20k-512x512.py',
}
REFERENCE = 'SepViT-T'
# Batch sizes of the throughput and training measurements, per device.
BATCHES = dict(
    cpu=dict(small=16, large=2, train=2),
    cuda=dict(small=64, large=8, train=8))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(BACKBONES),
        default=list(BACKBONES),
        help='backbones to measure (default: all)')
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
        '--measure',
        nargs=3,
        metavar=('MODEL', 'DEVICE', 'PART'),
        help=argparse.SUPPRESS)  # the per-process worker
    return parser.parse_args()


def build_backbone(name: str) -> torch.nn.Module:
    path = BACKBONES[name]
    cfg = get_config(path) if '::' in path else Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    registry = importlib.import_module(f'{cfg.default_scope}.registry')
    backbone = cfg.model.backbone
    backbone.init_cfg = None  # random weights: no download
    backbone.pop('pretrained', None)
    backbone.out_indices = (0, 1, 2, 3)  # the same outputs from every model
    return registry.MODELS.build(backbone)


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def median_seconds(step: Callable[[], None],
                   device: str,
                   runs: int,
                   warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    synchronize(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_inference(model: torch.nn.Module, device: str,
                      runs: int) -> Dict[str, float]:
    model.eval()
    batches = BATCHES[device]
    results = {}
    for key, shape in (('224', (224, 224)), ('800x1280', (800, 1280))):
        for mode, batch in (('latency', 1),
                            ('throughput',
                             batches['small' if key == '224' else 'large'])):
            x = torch.randn(batch, 3, *shape, device=device)

            def step():
                with torch.no_grad():
                    model(x)

            seconds = median_seconds(
                step, device, runs, warmup=1 if key != '224' else 2)
            results[f'{mode}_{key}'] = (
                seconds * 1e3 if mode == 'latency' else batch / seconds)
    return results


def current_rss_bytes() -> int:
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def measure_training(model: torch.nn.Module, device: str,
                     runs: int) -> Dict[str, float]:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(BATCHES[device]['train'], 3, 512, 512, device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = sum(out.float().mean() for out in model(x))
        loss.backward()
        optimizer.step()

    if device == 'cuda':
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        base = current_rss_bytes()
    seconds = median_seconds(step, device, runs, warmup=1)
    if device == 'cuda':
        peak = torch.cuda.max_memory_allocated() - base
    else:  # ru_maxrss is in KiB on Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return dict(train_ms=seconds * 1e3, train_peak_mib=peak / 2**20)


def worker(name: str, device: str, part: str, runs: int) -> None:
    """Measure one backbone in this (fresh) process; print JSON."""
    torch.manual_seed(0)
    model = build_backbone(name).to(device)
    if part == 'inference':
        result = measure_inference(model, device, runs)
        result['params_m'] = sum(p.numel() for p in model.parameters()) / 1e6
    else:
        result = measure_training(model, device, runs)
    print('RESULT ' + json.dumps(result))


def run_worker(name: str, device: str, part: str,
               args: argparse.Namespace) -> Dict[str, float]:
    command = [
        sys.executable, __file__, '--measure', name, device, part, '--runs',
        str(args.runs)
    ]
    if args.threads:
        command += ['--threads', str(args.threads)]
    result = subprocess.run(command, capture_output=True, text=True)
    lines = [
        line for line in result.stdout.splitlines()
        if line.startswith('RESULT ')
    ]
    if result.returncode or not lines:
        raise RuntimeError(f'measuring {name} ({part}, {device}) failed:\n'
                           f'{result.stderr[-2000:]}')
    return json.loads(lines[-1][len('RESULT '):])


COLUMNS = [  # key, header, format, lower is better
    ('params_m', 'params (M)', '{:.1f}', True),
    ('latency_224', 'lat 224 (ms)', '{:.1f}', True),
    ('throughput_224', 'thr 224 (img/s)', '{:.1f}', False),
    ('latency_800x1280', 'lat 800x1280 (ms)', '{:.0f}', True),
    ('throughput_800x1280', 'thr 800x1280 (img/s)', '{:.2f}', False),
    ('train_ms', 'train 512 (ms)', '{:.0f}', True),
    ('train_peak_mib', 'train peak (MiB)', '{:.0f}', True),
]


def format_table(results: Dict[str, dict]) -> str:
    """A markdown table; each cell has its ratio to SepViT-T."""
    reference = results.get(REFERENCE)
    rows = [['model'] + [c[1] for c in COLUMNS]]
    for name, figures in results.items():
        row = [name]
        for key, _, fmt, _ in COLUMNS:
            cell = fmt.format(figures[key])
            if reference is not None:
                cell += f' ({figures[key] / reference[key]:.2f}x)'
            row.append(cell)
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        '| ' + ' | '.join(c.ljust(w) for c, w in zip(row, widths)) + ' |'
        for row in rows
    ]
    lines.insert(1, '|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(lines)


def describe(device: str, threads: Optional[int] = None) -> str:
    if device == 'cuda':
        return torch.cuda.get_device_name()
    return f'{threads or torch.get_num_threads()} threads, torch ' \
           f'{torch.__version__}'


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.measure:
        name, device, part = args.measure
        worker(name, device, part, args.runs)
        return
    devices: List[str] = args.devices or (
        ['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    report = {}
    for device in devices:
        print(
            f'\n## {device}: {describe(device, args.threads)}; batch '
            f"1 and {BATCHES[device]['small']} at 224, 1 and "
            f"{BATCHES[device]['large']} at 800x1280, "
            f"{BATCHES[device]['train']} for training; median of "
            f'{args.runs} runs',
            flush=True)
        results = {}
        for name in args.models:
            results[name] = {
                **run_worker(name, device, 'inference', args),
                **run_worker(name, device, 'training', args)
            }
            print(f'  measured {name}', file=sys.stderr, flush=True)
        print(format_table(results), flush=True)
        report[device] = results
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
