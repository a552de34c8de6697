# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The default run: every backbone measured on each device in worker
processes, printed as a table that gives each figure's ratio to SepViT-T."""
import importlib.util
import sys
from typing import Dict, Sequence

from mmsepvit.deploy import INSTALL_HINT, RUNTIME_NAMES, RUNTIMES
from .measure import BATCHES, describe, matmul_peak
from .models import REFERENCE, RUNTIME_MODELS
from .worker import Settings, run_worker

COLUMNS = [  # key, header, format
    ('params_m', 'params (M)', '{:.1f}'),
    ('latency_224', 'lat 224 (ms)', '{:.1f}'),
    ('throughput_224', 'thr 224 (img/s)', '{:.1f}'),
    ('latency_800x1280', 'lat 800x1280 (ms)', '{:.0f}'),
    ('throughput_800x1280', 'thr 800x1280 (img/s)', '{:.2f}'),
    ('gmacs_800x1280', 'GMAC 800x1280', '{:.1f}'),
    ('gmacs_per_s_800x1280', 'GMAC/s 800x1280', '{:.0f}'),
    ('train_ms', 'train 512 (ms)', '{:.0f}'),
    ('train_peak_mib', 'train peak (MiB)', '{:.0f}'),
    ('train_gmacs', 'train GMAC', '{:.1f}'),
    ('train_gmacs_per_s', 'train GMAC/s', '{:.0f}'),
    ('init_grad_norm', 'grad norm at init', '{:.2f}'),
    ('init_grad_norm_padded', 'same, padded', '{:.2f}'),
]


def format_table(results: Dict[str, dict]) -> str:
    """A markdown table; each cell has its ratio to SepViT-T."""
    reference = results.get(REFERENCE)
    rows = [['model'] + [c[1] for c in COLUMNS]]
    for name, figures in results.items():
        row = [name]
        for key, _, fmt in COLUMNS:
            if key not in figures:  # e.g. no training in a runtime's row
                row.append('-')
                continue
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


def runtime_rows(name: str, device: str,
                 settings: Settings) -> Dict[str, dict]:
    """The rows of backbone ``name`` exported to ONNX and timed in each
    runtime: on the CPU, for :data:`~.models.RUNTIME_MODELS`, when every
    runtime is installed."""
    if device != 'cpu' or name not in RUNTIME_MODELS:
        return {}
    missing = [
        package for package in RUNTIMES
        if importlib.util.find_spec(package) is None
    ]
    if missing:
        print(
            f'  no {", ".join(missing)}: no runtime rows (install with '
            f'{INSTALL_HINT}, or pass --no-runtimes)',
            file=sys.stderr)
        return {}
    return {
        f'{name} ({RUNTIME_NAMES[runtime]})': figures
        for runtime, figures in run_worker(name, device, 'runtimes',
                                           settings).items()
    }


def run_benchmark(models: Sequence[str],
                  devices: Sequence[str],
                  settings: Settings,
                  runtimes: bool = True) -> Dict[str, dict]:
    """Measure ``models`` on each of ``devices`` and print a table per
    device.

    Returns:
        dict: Per device, ``matmul_peak_gmacs_per_s`` and ``models``, each
        row's figures.
    """
    report = {}
    for device in devices:
        batches = BATCHES[device]
        print(
            f'\n## {device}: {describe(device, settings.threads)}; batch '
            f"1 and {batches['small']} at 224, 1 and {batches['large']} at "
            f"800x1280, {batches['train']} for training; median of "
            f'{settings.runs} runs',
            flush=True)
        peak = matmul_peak(device)
        print(
            f'float32 matmul peak (2048x2048 by 2048x2048): {peak:.0f} '
            'G multiply-adds/s',
            flush=True)
        results = {}
        for name in models:
            results[name] = {
                **run_worker(name, device, 'inference', settings),
                **run_worker(name, device, 'training', settings)
            }
            if runtimes:
                results.update(runtime_rows(name, device, settings))
            print(f'  measured {name}', file=sys.stderr, flush=True)
        print(format_table(results), flush=True)
        report[device] = dict(matmul_peak_gmacs_per_s=peak, models=results)
    return report
