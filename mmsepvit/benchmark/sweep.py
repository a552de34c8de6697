# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The sweep: batch-1 time and peak memory of the forward (and the training
step, up to a size) from 224x224 to 1600x2560, plotted against the pixel
count beside SepViT-T's share of multiply-adds in attention."""
import json
import os
import sys
from typing import Dict, Iterable, Sequence

import torch

from mmsepvit.utils.complexity import flop_analyzer
from .measure import SWEEP_SIZES, describe
from .models import REFERENCE, build_backbone
from .worker import Settings, run_worker


def _pixels(size: str) -> int:
    height, width = map(int, size.split('x'))
    return height * width


def sepvit_flop_shares(sizes: Iterable[str]) -> Dict[str, dict]:
    """SepViT-T's multiply-adds at each size, split into the pointwise
    attention (the matmuls across windows, quadratic in their number), the
    in-window attention and the rest (linear layers, convolutions, norms)."""
    model = build_backbone(REFERENCE).eval()
    shares = {}
    for size in sizes:
        height, width = map(int, size.split('x'))
        counted = flop_analyzer(model, torch.randn(1, 3, height,
                                                   width)).by_operator()
        total = sum(counted.values())
        pointwise = counted.get('matmul', 0)
        depthwise = counted.get('scaled_dot_product_attention', 0)
        shares[size] = dict(
            gmacs=total / 1e9,
            pointwise=pointwise / total,
            depthwise=depthwise / total)
    return shares


def plot_sweep(report: dict, path: str) -> None:
    """Time, peak memory and SepViT-T's attention share against the input's
    pixel count, log-log, as a PNG at ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    for name, parts in report['models'].items():
        for part, style in (('forward', '-o'), ('training', '--s')):
            figures = parts[part]
            if not figures:
                continue
            xs = [_pixels(size) for size in figures]
            line, = axes[0].plot(
                xs, [f['ms'] / 1e3 for f in figures.values()],
                style,
                label=f'{name} {part}')
            axes[1].plot(
                xs, [f['peak_mib'] for f in figures.values()],
                style,
                color=line.get_color(),
                label=f'{name} {part}')
    shares = report['sepvit_t_flops']
    xs = [_pixels(size) for size in shares]
    axes[2].plot(
        xs, [s['pointwise'] * 100 for s in shares.values()],
        '-o',
        label='pointwise attention (across windows)')
    axes[2].plot(
        xs, [s['depthwise'] * 100 for s in shares.values()],
        '-s',
        label='depthwise attention (in windows)')
    # The two benchmark inputs have nearly the same pixel count.
    for size, label, height in (('800x1333', 'COCO 800x1333', 1.),
                                ('512x2048', 'ADE20K 512x2048', .55)):
        for ax in axes:
            ax.axvline(_pixels(size), color='grey', lw=0.8, ls=':')
        axes[0].annotate(
            label, (_pixels(size), height),
            rotation=90,
            color='grey',
            xycoords=('data', 'axes fraction'),
            va='top',
            ha='right')
    titles = ('batch-1 time (s)', 'peak memory (MiB)',
              'SepViT-T multiply-adds in attention (%)')
    for ax, title in zip(axes, titles):
        ax.set_xscale('log')
        ax.set_xlabel('input pixels (height x width)')
        ax.set_title(title)
        ax.grid(True, which='both', lw=0.3)
    axes[0].set_yscale('log')
    axes[1].set_yscale('log')
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=8)
    fig.suptitle(report['device'])
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def format_sweep(report: dict) -> str:
    """Batch-1 forward time (ms) and peak memory (MiB) per size."""
    models = report['models']
    rows = [['size'] + [f'{name} ms / MiB'
                        for name in models] + ['SepViT-T pointwise share']]
    for size in report['sizes']:
        row = [size]
        for parts in models.values():
            figures = parts['forward'].get(size)
            row.append(f"{figures['ms']:.0f} / {figures['peak_mib']:.0f}"
                       if figures else '-')
        share = report['sepvit_t_flops'][size]['pointwise']
        rows.append(row + [f'{share:.0%}'])
    return '\n'.join('| ' + ' | '.join(row) + ' |' for row in rows)


def run_sweep(models: Sequence[str], device: str, settings: Settings,
              out: str) -> dict:
    """Sweep ``models`` on ``device`` (each part in a worker process), print
    the table and write ``OUT.json`` and ``OUT.png``."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    report = dict(
        device=f'{device}: {describe(device, settings.threads)}',
        sizes=[f'{h}x{w}' for h, w in SWEEP_SIZES],
        models={})
    for name in models:
        report['models'][name] = dict(
            forward=run_worker(name, device, 'sweep-forward', settings),
            training=run_worker(name, device, 'sweep-training', settings))
        print(f'  measured {name}', file=sys.stderr, flush=True)
    report['sepvit_t_flops'] = sepvit_flop_shares(report['sizes'])
    with open(f'{out}.json', 'w') as f:
        json.dump(report, f, indent=2)
    plot_sweep(report, f'{out}.png')
    print(format_sweep(report))
    print(f'wrote {out}.png and {out}.json')
    return report
