# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Benchmark SepViT-T/S/B beside Swin-T/S (mmdet), PVTv2-b2 (mmdet) and
Twins-SVT-S (mmseg) backbones, all built from the installed packages' configs.

For each backbone and device: parameters; forward latency at batch 1 and
throughput at a larger batch, at 224x224 and 800x1280 (no grad); training
step time (forward, backward, AdamW) and its peak memory at 512x512; the
multiply-adds of the 800x1280 forward and of the training step, and their
rate, beside the device's float32 matmul peak. Every time is the median of
--runs runs after warm-up; every model is measured in a fresh process.
SepViT-T and Swin-T are also exported to ONNX and timed at 800x1280 in ONNX
Runtime and OpenVINO (the [deploy] extra). The table gives ratios to SepViT-T
in PyTorch. On CUDA the models run under bf16 autocast (--amp does the same
on the CPU).

    .venv/bin/python tools/benchmark.py [--models SepViT-T Swin-T] [--runs 5]

--sweep times the batch-1 forward and its peak memory (and the training step
up to --sweep-train-max pixels) from 224x224 to 1600x2560 and plots them
against the pixel count, log-log, beside a JSON of the figures:

    .venv/bin/python tools/benchmark.py --sweep --out work_dirs/sweep

--profile MODEL breaks one 800x1280 forward and one 512x512 training step
down by kind of operation (torch.profiler, self time), with their minor page
faults.
"""
import argparse
import importlib
import importlib.util
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope

import mmsepvit  # noqa: F401  (registers SepViT)
from mmsepvit import deployment

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
        help='backbones to measure (default: all; with --sweep: SepViT-T, '
        'Swin-T, PVTv2-b2 and Twins-SVT-S)')
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
        '--profile',
        choices=list(BACKBONES),
        help='break one forward and one training step of MODEL down')
    parser.add_argument(
        '--measure',
        nargs=3,
        metavar=('MODEL', 'DEVICE', 'PART'),
        help=argparse.SUPPRESS)  # the per-process worker
    args = parser.parse_args()
    if args.sweep and args.profile:
        parser.error('--sweep and --profile are separate runs')
    return args


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


def autocast(device: str, amp: bool):
    """bf16 autocast on CUDA (and on the CPU with --amp): the dtype whose
    SDPA kernels (flash, cuDNN) take SepViT's head dim of 32."""
    return torch.autocast(
        device, dtype=torch.bfloat16, enabled=amp or device == 'cuda')


def median_seconds(step: Callable[[], None],
                   device: str,
                   runs: int,
                   warmup: int = 2) -> float:
    """:func:`mmsepvit.deployment.median_seconds`, each call waiting for
    the device."""

    def synchronized_step():
        step()
        synchronize(device)

    return deployment.median_seconds(synchronized_step, runs, warmup)


def forward_step(model: torch.nn.Module, x: torch.Tensor,
                 amp: bool) -> Callable[[], None]:

    def step():
        model.eval()
        with torch.no_grad(), autocast(x.device.type, amp):
            model(x)

    return step


def training_step(model: torch.nn.Module, x: torch.Tensor,
                  amp: bool) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with autocast(x.device.type, amp):
            loss = sum(out.float().mean() for out in model(x))
        loss.backward()
        optimizer.step()

    return step


def _flop_formulas() -> Dict[object, Callable[..., int]]:
    """FlopCounterMode formulas for what it does not count, or miscounts:
    the CPU flash attention (forward and backward), oneDNN's fused linear
    layer (SepViT's inference path), and the convolution backward, whose
    weight gradient PyTorch 2.14 counts as if the convolution had one group
    (a depthwise 3x3 over C channels C times over)."""
    from torch.utils.flop_counter import (conv_flop_count,
                                          sdpa_backward_flop_count,
                                          sdpa_flop_count)

    def attention(q, k, v, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(q, k, v)

    def attention_backward(grad, q, k, v, *args, out_shape=None, **kwargs):
        return sdpa_backward_flop_count(grad, q, k, v)

    def linear(x, weight, *args, out_shape=None, **kwargs):
        return 2 * math.prod(x) * weight[0]  # (..., K) by (N, K)

    def convolution_backward(grad_out,
                             x,
                             weight,
                             bias,
                             stride,
                             padding,
                             dilation,
                             transposed,
                             output_padding,
                             groups,
                             output_mask,
                             out_shape=None,
                             **kwargs):
        # The input and the weight gradient each cost one forward.
        forward = conv_flop_count(x, weight, grad_out, transposed)
        return forward * (int(output_mask[0]) + int(output_mask[1]))

    aten = torch.ops.aten
    formulas = {
        aten._scaled_dot_product_flash_attention_for_cpu: attention,
        aten._scaled_dot_product_flash_attention_for_cpu_backward:
        attention_backward,
        aten.convolution_backward: convolution_backward,
    }
    if hasattr(torch.ops.mkldnn, '_linear_pointwise'):
        formulas[torch.ops.mkldnn._linear_pointwise] = linear
    return formulas


def multiply_adds_by_op(step: Callable[[], None]) -> Dict[str, float]:
    """Giga multiply-adds of one step by operator, counted as it runs (every
    matmul, convolution and attention kernel, forward and backward,
    whichever module calls it)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(
            display=False, custom_mapping=_flop_formulas()) as counter:
        step()
    return {
        str(op): flops / 2e9
        for op, flops in counter.get_flop_counts()['Global'].items()
    }


def multiply_adds(step: Callable[[], None]) -> float:
    """Giga multiply-adds of one step (:func:`multiply_adds_by_op`)."""
    return sum(multiply_adds_by_op(step).values())


def matmul_peak(device: str, runs: int = 20, size: int = 2048) -> float:
    """This device's float32 matmul rate (G multiply-adds/s): the fastest
    of ``runs`` large square products, the ceiling for models made of
    matrix products."""
    a, b = torch.randn(2, size, size, device=device).unbind(0)
    median_seconds(lambda: a @ b, device, runs=1)  # and two warm-up runs
    seconds = min(
        median_seconds(lambda: a @ b, device, runs=1, warmup=0)
        for _ in range(runs))
    return size**3 / seconds / 1e9


def measure_inference(model: torch.nn.Module, device: str, runs: int,
                      amp: bool) -> Dict[str, float]:
    batches = BATCHES[device]
    results = {}
    for key, shape in (('224', (224, 224)), ('800x1280', (800, 1280))):
        for mode, batch in (('latency', 1),
                            ('throughput',
                             batches['small' if key == '224' else 'large'])):
            x = torch.randn(batch, 3, *shape, device=device)
            seconds = median_seconds(
                forward_step(model, x, amp),
                device,
                runs,
                warmup=1 if key != '224' else 2)
            results[f'{mode}_{key}'] = (
                seconds * 1e3 if mode == 'latency' else batch / seconds)
    gmacs = multiply_adds(
        forward_step(model, torch.randn(1, 3, 800, 1280, device=device), amp))
    results['gmacs_800x1280'] = gmacs
    results['gmacs_per_s_800x1280'] = gmacs / results['latency_800x1280'] * 1e3
    return results


def resident_peak_bytes() -> int:
    """The process's peak resident memory (Linux's VmHWM)."""
    with open('/proc/self/status') as f:
        kib = next(line for line in f if line.startswith('VmHWM:')).split()[1]
    return int(kib) * 1024


def peak_memory_mib(device: str, base: int) -> float:
    """Peak memory since :func:`memory_base` returned ``base``."""
    if device == 'cuda':
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resident_peak_bytes() - base
    return peak / 2**20


def memory_base(device: str) -> int:
    """Reset the device's peak memory to what is in use now, and return it.

    On the CPU the peak is the resident size's high-water mark, reset
    through /proc/self/clear_refs (Linux 4.0 and later); reading the same
    counter before and after keeps a small step from reading below zero.
    """
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return resident_peak_bytes()


def measure_training(model: torch.nn.Module, device: str, runs: int,
                     amp: bool) -> Dict[str, float]:
    x = torch.randn(BATCHES[device]['train'], 3, 512, 512, device=device)
    step = training_step(model, x, amp)
    base = memory_base(device)
    seconds = median_seconds(step, device, runs, warmup=1)
    peak_mib = peak_memory_mib(device, base)
    gmacs = multiply_adds(step)
    return dict(
        train_ms=seconds * 1e3,
        train_peak_mib=peak_mib,
        train_gmacs=gmacs,
        train_gmacs_per_s=gmacs / seconds)


# Backbones also timed in ONNX Runtime and OpenVINO, at 800x1280, batch 1.
RUNTIME_MODELS = ['SepViT-T', 'Swin-T']


def measure_runtimes(
    model: torch.nn.Module,
    runs: int,
    threads: Optional[int],
    shape: Tuple[int, int] = (800, 1280)
) -> Dict[str, dict]:
    """The backbone exported to ONNX (checked against PyTorch within 1e-4)
    and timed in each runtime with the same thread count."""
    with tempfile.TemporaryDirectory() as tmp:
        report = deployment.export_and_check(
            model,
            shape,
            os.path.join(tmp, 'backbone.onnx'),
            runs=runs,
            warmup=1,
            threads=threads)
    latency = f'latency_{shape[0]}x{shape[1]}'
    return {
        check['runtime']: {
            latency: report['latency_s'][check['runtime']] * 1e3,
            'max_rel_error': max(check['errors'].values())
        }
        for check in report['checks']
    }


def runtime_rows(name: str, device: str,
                 args: argparse.Namespace) -> Dict[str, dict]:
    if device != 'cpu' or args.no_runtimes or name not in RUNTIME_MODELS:
        return {}
    missing = [
        package for package in deployment.RUNTIMES
        if importlib.util.find_spec(package) is None
    ]
    if missing:
        print(
            f'  no {", ".join(missing)}: no runtime rows (install with '
            f'{deployment.INSTALL_HINT}, or pass --no-runtimes)',
            file=sys.stderr)
        return {}
    return {
        f'{name} ({deployment.RUNTIME_NAMES[runtime]})': figures
        for runtime, figures in run_worker(name, device, 'runtimes',
                                           args).items()
    }


# Input sizes of --sweep, (height, width): squares, then the 5:8 frames of
# detection inputs, up to twice 800x1280 in each side.
SWEEP_SIZES = [(224, 224), (384, 384), (512, 512), (512, 2048), (800, 1333),
               (1024, 1600), (1280, 2048), (1600, 2560)]


def measure_sweep(model: torch.nn.Module, device: str, runs: int, amp: bool,
                  training: bool, max_pixels: int) -> Dict[str, dict]:
    """Sizes ascending in one process, so the peak so far is the current
    size's peak. A size that does not fit in memory ends the sweep."""
    results = {}
    base = memory_base(device)
    for height, width in SWEEP_SIZES:
        if height * width > max_pixels:
            break
        x = torch.randn(1, 3, height, width, device=device)
        step = (training_step if training else forward_step)(model, x, amp)
        try:
            seconds = median_seconds(step, device, runs, warmup=1)
        except (RuntimeError, MemoryError) as error:  # out of memory
            print(f'{height}x{width}: {error}', file=sys.stderr)
            break
        results[f'{height}x{width}'] = dict(
            ms=seconds * 1e3, peak_mib=peak_memory_mib(device, base))
    return results


def worker(name: str, device: str, part: str,
           args: argparse.Namespace) -> None:
    """Measure one backbone in this (fresh) process; print JSON."""
    torch.manual_seed(0)
    model = build_backbone(name).to(device)
    if part == 'inference':
        result = measure_inference(model, device, args.runs, args.amp)
        result['params_m'] = sum(p.numel() for p in model.parameters()) / 1e6
    elif part == 'training':
        result = measure_training(model, device, args.runs, args.amp)
    elif part == 'runtimes':
        result = measure_runtimes(model, args.runs, args.threads)
    else:
        training = part == 'sweep-training'
        result = measure_sweep(
            model,
            device,
            args.runs,
            args.amp,
            training,
            max_pixels=args.sweep_train_max if training else float('inf'))
    print('RESULT ' + json.dumps(result))


def run_worker(name: str, device: str, part: str,
               args: argparse.Namespace) -> Dict[str, float]:
    command = [
        sys.executable, __file__, '--measure', name, device, part, '--runs',
        str(args.runs), '--sweep-train-max',
        str(args.sweep_train_max)
    ]
    if args.threads:
        command += ['--threads', str(args.threads)]
    if args.amp:
        command.append('--amp')
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
    ('gmacs_800x1280', 'GMAC 800x1280', '{:.1f}', True),
    ('gmacs_per_s_800x1280', 'GMAC/s 800x1280', '{:.0f}', False),
    ('train_ms', 'train 512 (ms)', '{:.0f}', True),
    ('train_peak_mib', 'train peak (MiB)', '{:.0f}', True),
    ('train_gmacs', 'train GMAC', '{:.1f}', True),
    ('train_gmacs_per_s', 'train GMAC/s', '{:.0f}', False),
]


def format_table(results: Dict[str, dict]) -> str:
    """A markdown table; each cell has its ratio to SepViT-T."""
    reference = results.get(REFERENCE)
    rows = [['model'] + [c[1] for c in COLUMNS]]
    for name, figures in results.items():
        row = [name]
        for key, _, fmt, _ in COLUMNS:
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


def describe(device: str, threads: Optional[int] = None) -> str:
    if device == 'cuda':
        return torch.cuda.get_device_name()
    return f'{threads or torch.get_num_threads()} threads, torch ' \
           f'{torch.__version__}'


# The models of --sweep: SepViT-T and the efficient-attention peers.
SWEEP_MODELS = ['SepViT-T', 'Swin-T', 'PVTv2-b2', 'Twins-SVT-S']


def sepvit_flop_shares(sizes: List[str]) -> Dict[str, dict]:
    """SepViT-T's multiply-adds at each size, split into the pointwise
    attention (the matmuls across windows, quadratic in their number), the
    in-window attention and the rest (linear layers, convolutions, norms)."""
    from mmsepvit.utils.complexity import flop_analyzer
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
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    def pixels(size: str) -> int:
        height, width = map(int, size.split('x'))
        return height * width

    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    for name, parts in report['models'].items():
        for part, style in (('forward', '-o'), ('training', '--s')):
            figures = parts[part]
            if not figures:
                continue
            xs = [pixels(size) for size in figures]
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
    xs = [pixels(size) for size in shares]
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
            ax.axvline(pixels(size), color='grey', lw=0.8, ls=':')
        axes[0].annotate(
            label, (pixels(size), height),
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


def run_sweep(args: argparse.Namespace, device: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    report = dict(
        device=f'{device}: {describe(device, args.threads)}',
        sizes=[f'{h}x{w}' for h, w in SWEEP_SIZES],
        models={})
    for name in args.models or SWEEP_MODELS:
        report['models'][name] = dict(
            forward=run_worker(name, device, 'sweep-forward', args),
            training=run_worker(name, device, 'sweep-training', args))
        print(f'  measured {name}', file=sys.stderr, flush=True)
    report['sepvit_t_flops'] = sepvit_flop_shares(report['sizes'])
    with open(f'{args.out}.json', 'w') as f:
        json.dump(report, f, indent=2)
    plot_sweep(report, f'{args.out}.png')
    print(format_sweep(report))
    print(f'wrote {args.out}.png and {args.out}.json')


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


# Operator name -> kind, for --profile (self time; first match wins).
PROFILE_KINDS = [
    ('optimizer', ('Optimizer.', )),
    ('linear layers (GEMM)', ('addmm', 'aten::mm', '_linear_pointwise',
                              'aten::linear')),
    ('attention', ('scaled_dot_product', 'bmm', 'softmax', 'aten::matmul')),
    ('convolutions', ('convolution', )),
    ('LayerNorm', ('layer_norm', )),
    ('copies and layout', ('copy_', 'cat', 'stack', 'fill_', 'zero_', 'clone',
                           'pad')),
    ('elementwise (GELU, residual, ...)', ('gelu', 'add', 'mul', 'div', 'sum',
                                           'where')),
]


def profile_breakdown(step: Callable[[], None]) -> Dict[str, float]:
    """Self CPU time (ms) by kind of operation; optimizer ops are counted
    under their ``Optimizer.step``."""
    from torch.profiler import ProfilerActivity, profile
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    totals: Dict[str, float] = {kind: 0. for kind, _ in PROFILE_KINDS}
    totals['other'] = 0.
    for event in prof.events():
        name, parent = event.name, event.cpu_parent
        while parent is not None:
            if parent.name.startswith('Optimizer.'):
                name = parent.name
            parent = parent.cpu_parent
        kind = next((k for k, keys in PROFILE_KINDS if any(key in name
                                                           for key in keys)),
                    'other')
        totals[kind] += event.self_cpu_time_total / 1e3
    return totals


def page_faults(step: Callable[[], None]) -> int:
    """Minor page faults of one call of ``step`` after a warm-up call: pages
    the kernel maps (and zeroes) because the allocator gave a large buffer
    back to it and asked again."""
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def run_profile(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    model = build_backbone(args.profile)
    steps = {
        'forward 800x1280, batch 1':
        forward_step(model, torch.randn(1, 3, 800, 1280), args.amp),
        'training step 512x512, batch 2':
        training_step(model, torch.randn(2, 3, 512, 512), args.amp),
    }
    print(f'{args.profile}, {describe("cpu", args.threads)}: self CPU time '
          '(torch.profiler)')
    for title, step in steps.items():
        totals = profile_breakdown(step)
        total = sum(totals.values())
        print(
            f'\n{title}: {total:.0f} ms\n| kind | ms | share |\n|---|---|---|')
        for kind, ms in sorted(totals.items(), key=lambda kv: -kv[1]):
            print(f'| {kind} | {ms:.0f} | {ms / total:.0%} |')
        print(f'minor page faults: {page_faults(step)} per step')


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.measure:
        name, device, part = args.measure
        worker(name, device, part, args)
        return
    if args.profile:
        run_profile(args)
        return
    devices: List[str] = args.devices or (
        ['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    if args.sweep:
        for device in devices:
            run_sweep(args, device)
        return
    report = {}
    for device in devices:
        print(
            f'\n## {device}: {describe(device, args.threads)}; batch '
            f"1 and {BATCHES[device]['small']} at 224, 1 and "
            f"{BATCHES[device]['large']} at 800x1280, "
            f"{BATCHES[device]['train']} for training; median of "
            f'{args.runs} runs',
            flush=True)
        peak = matmul_peak(device)
        print(
            f'float32 matmul peak (2048x2048 by 2048x2048): {peak:.0f} '
            'G multiply-adds/s',
            flush=True)
        results = {}
        for name in args.models or list(BACKBONES):
            results[name] = {
                **run_worker(name, device, 'inference', args),
                **run_worker(name, device, 'training', args)
            }
            results.update(runtime_rows(name, device, args))
            print(f'  measured {name}', file=sys.stderr, flush=True)
        print(format_table(results), flush=True)
        report[device] = dict(matmul_peak_gmacs_per_s=peak, models=results)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
