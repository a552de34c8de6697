# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The default run: every backbone measured on each device in worker
processes, printed as a table that gives each figure's ratio to SepViT-T."""
import dataclasses
import importlib.util
import sys
from typing import Dict, Sequence

from mmsepvit.deploy import INSTALL_HINT, RUNTIME_NAMES, RUNTIMES
from .measure import BATCHES, describe, matmul_rates
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
    ('peak_share_800x1280', 'of peak 800x1280', '{:.0%}'),
    ('train_ms', 'train 512 (ms)', '{:.0f}'),
    ('train_peak_mib', 'train peak (MiB)', '{:.0f}'),
    ('train_gmacs', 'train GMAC', '{:.1f}'),
    ('train_gmacs_per_s', 'train GMAC/s', '{:.0f}'),
    ('train_peak_share', 'train of peak', '{:.0%}'),
    ('train_page_faults', 'train page faults', '{:.0f}'),
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


def format_peak(rates: Dict[str, float]) -> str:
    """The line naming the matmul peak the shares are taken of."""
    best = max(rates, key=rates.get)
    others = ', '.join(f'{name} {rate:.0f}' for name, rate in rates.items()
                       if name != best)
    return (f'float32 matmul peak (2048x2048 by 2048x2048): '
            f'{rates[best]:.0f} G multiply-adds/s ({best}'
            f"{'; ' + others if others else ''})")


def add_peak_shares(figures: dict, peak: float) -> None:
    """Add each multiply-add rate of a row as a share of the matmul peak
    (G multiply-adds/s): how close the model comes to what the device's
    matrix unit can do."""
    for rate, share in (('gmacs_per_s_800x1280', 'peak_share_800x1280'),
                        ('train_gmacs_per_s', 'train_peak_share')):
        if rate in figures:
            figures[share] = figures[rate] / peak


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


def with_multiply_adds(rows: Dict[str, dict], gmacs: float) -> None:
    """Give runtime rows the multiply-adds of the PyTorch forward they
    export (the same graph), and so their rate."""
    for figures in rows.values():
        figures['gmacs_800x1280'] = gmacs
        figures['gmacs_per_s_800x1280'] = (
            gmacs / figures['latency_800x1280'] * 1e3)


def run_benchmark(models: Sequence[str],
                  devices: Sequence[str],
                  settings: Settings,
                  runtimes: bool = True) -> Dict[str, dict]:
    """Measure ``models`` on each of ``devices`` and print a table per
    device.

    Returns:
        dict: Per device, ``matmul_peak_gmacs_per_s`` (the fastest of
        ``matmul_gmacs_per_s``, per kernel library) and ``models``, each
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
        rates = matmul_rates(device)
        peak = max(rates.values())
        print(format_peak(rates), flush=True)
        results = {}
        for name in models:
            results[name] = {
                **run_worker(name, device, 'inference', settings),
                **run_worker(name, device, 'training', settings)
            }
            if runtimes:
                rows = runtime_rows(name, device, settings)
                with_multiply_adds(rows, results[name]['gmacs_800x1280'])
                results.update(rows)
            print(f'  measured {name}', file=sys.stderr, flush=True)
        for figures in results.values():
            add_peak_shares(figures, peak)
        print(format_table(results), flush=True)
        report[device] = dict(
            matmul_peak_gmacs_per_s=peak,
            matmul_gmacs_per_s=rates,
            models=results)
    return report


def run_allocator_comparison(models: Sequence[str],
                             settings: Settings) -> Dict[str, dict]:
    """The CPU training step of each model with glibc as it comes and with
    freed memory kept (``tools/train.py``'s setting), workers interleaved,
    as a table.

    Returns:
        dict: Per row ('NAME (glibc default)', 'NAME (keep freed)'), its
        training figures.
    """
    print(
        f'\n## cpu: {describe("cpu", settings.threads)}; training step '
        f"at 512x512, batch {BATCHES['cpu']['train']}, median of "
        f'{settings.runs} runs',
        flush=True)
    keys = ('train_ms', 'train_page_faults', 'train_peak_mib')
    lines = [
        '| row | train 512 (ms) | page faults per step | peak (MiB) |',
        '|---|---|---|---|'
    ]
    results = {}
    for name in models:
        default = None
        for label, keep in (('glibc default', False), ('keep freed', True)):
            figures = run_worker(
                name, 'cpu', 'training',
                dataclasses.replace(settings, keep_freed_memory=keep))
            default = default or figures
            results[f'{name} ({label})'] = figures
            cells = [
                f'{figures[k]:.0f} ({figures[k] / default[k]:.2f}x)'
                for k in keys
            ]
            lines.append(f'| {name} ({label}) | ' + ' | '.join(cells) + ' |')
    print('\n'.join(lines), flush=True)
    return results
