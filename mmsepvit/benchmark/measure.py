# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""What the benchmark measures of one backbone in one process.

Every time is :func:`~mmsepvit.utils.measure.median_seconds` of a step,
waiting for the device after each call. Peak memory is CUDA's allocator peak
or, on the CPU, the resident set's high-water mark (Linux). Multiply-adds are
counted by :func:`~mmsepvit.utils.complexity.multiply_adds` as the step runs.
"""
import os
import sys
import tempfile
from typing import Callable, Dict, Iterable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmsepvit.deploy import export_and_check
from mmsepvit.models.layers import linear, onednn_applies
from mmsepvit.utils.allocator import minor_page_faults
from mmsepvit.utils.complexity import multiply_adds
from mmsepvit.utils.measure import median_seconds

# Batch sizes of the throughput and training measurements, per device.
BATCHES = dict(
    cpu=dict(small=16, large=2, train=2),
    cuda=dict(small=64, large=8, train=8))
# Input sizes of the sweep, (height, width): squares, then the 5:8 frames of
# detection inputs, up to twice 800x1280 in each side.
SWEEP_SIZES = ((224, 224), (384, 384), (512, 512), (512, 2048), (800, 1333),
               (1024, 1600), (1280, 2048), (1600, 2560))
Step = Callable[[], None]


def synchronizer(device: str) -> Callable[[], None]:
    """What waits for the work queued on ``device`` (nothing on the CPU)."""
    return torch.cuda.synchronize if device == 'cuda' else lambda: None


def describe(device: str, threads: Optional[int] = None) -> str:
    """The device as the reports name it."""
    if device == 'cuda':
        return torch.cuda.get_device_name()
    return (f'{threads or torch.get_num_threads()} threads, torch '
            f'{torch.__version__}')


def autocast(device: str, amp: bool) -> torch.autocast:
    """bf16 autocast on CUDA (and on the CPU with ``amp``): the dtype whose
    SDPA kernels (flash, cuDNN) take SepViT's head dim of 32."""
    return torch.autocast(
        device, dtype=torch.bfloat16, enabled=amp or device == 'cuda')


def forward_step(model: nn.Module, x: torch.Tensor, amp: bool) -> Step:
    """One inference forward of ``model`` on ``x``."""

    def step():
        model.eval()
        with torch.no_grad(), autocast(x.device.type, amp):
            model(x)

    return step


def training_step(model: nn.Module, x: torch.Tensor, amp: bool) -> Step:
    """One training step of ``model`` on ``x``: forward, backward of the
    mean of its outputs, and AdamW."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with autocast(x.device.type, amp):
            loss = sum(out.float().mean() for out in model(x))
        loss.backward()
        optimizer.step()

    return step


def matmul_rates(device: str,
                 runs: int = 20,
                 size: int = 2048) -> Dict[str, float]:
    """This device's float32 matrix-product rates (G multiply-adds/s), per
    kernel library PyTorch reaches: the fastest of ``runs`` large square
    products each.

    On the CPU, ``torch.matmul`` runs the BLAS PyTorch was built with (MKL),
    which on AMD CPUs keeps to its AVX2 code, while oneDNN (the kernel of
    our linear layers at inference, PyTorch's convolutions, OpenVINO's
    matmuls) uses AVX-512: the two can differ by twice, so the ceiling of
    a model is the faster one.
    """
    a, b = torch.randn(2, size, size, device=device).unbind(0)
    products = {'BLAS matmul': lambda: a @ b}
    wait = synchronizer(device)
    rates = {}
    with torch.no_grad():
        layer = nn.Linear(size, size, bias=False).to(device)
        layer.weight.copy_(b.t())
        if onednn_applies(a, layer.weight):
            products['oneDNN'] = lambda: linear(a, layer)
        for name, product in products.items():
            median_seconds(product, runs=1, synchronize=wait)  # warms up
            seconds = min(
                median_seconds(product, runs=1, warmup=0, synchronize=wait)
                for _ in range(runs))
            rates[name] = size**3 / seconds / 1e9
    return rates


def measure_inference(model: nn.Module, device: str, runs: int,
                      amp: bool) -> Dict[str, float]:
    """Batch-1 latency (ms) and throughput (images/s) at 224x224 and
    800x1280, and the multiply-adds (G) of the 800x1280 forward and their
    rate."""
    batches = BATCHES[device]
    results = {}
    for key, shape in (('224', (224, 224)), ('800x1280', (800, 1280))):
        for mode, batch in (('latency', 1),
                            ('throughput',
                             batches['small' if key == '224' else 'large'])):
            x = torch.randn(batch, 3, *shape, device=device)
            seconds = median_seconds(
                forward_step(model, x, amp),
                runs,
                warmup=1 if key != '224' else 2,
                synchronize=synchronizer(device))
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


def peak_memory_mib(device: str, base: int) -> float:
    """Peak memory since :func:`memory_base` returned ``base``."""
    if device == 'cuda':
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resident_peak_bytes() - base
    return peak / 2**20


def measure_training(model: nn.Module, device: str, runs: int,
                     amp: bool) -> Dict[str, float]:
    """Time (ms), peak memory (MiB) and multiply-adds (G) of a training step
    at 512x512, their rate, and the step's minor page faults (the kernel
    handing the process fresh zeroed pages)."""
    x = torch.randn(BATCHES[device]['train'], 3, 512, 512, device=device)
    step = training_step(model, x, amp)
    base = memory_base(device)
    step()  # warm-up, outside the page-fault count
    faults = minor_page_faults()
    seconds = median_seconds(
        step, runs, warmup=0, synchronize=synchronizer(device))
    faults = (minor_page_faults() - faults) / runs
    peak_mib = peak_memory_mib(device, base)
    gmacs = multiply_adds(step)
    return dict(
        train_ms=seconds * 1e3,
        train_peak_mib=peak_mib,
        train_gmacs=gmacs,
        train_gmacs_per_s=gmacs / seconds,
        train_page_faults=faults)


def init_gradient_norms(model: nn.Module,
                        device: str,
                        border: int = 32) -> Dict[str, float]:
    """Gradient norms of ``model`` as it starts training from scratch.

    After ``init_weights()``, in train mode, on two random 224x224 images,
    and on the same images with a zero border of ``border`` pixels at the
    bottom and right, as mmdet's and mmseg's data preprocessors pad a batch
    of mixed sizes; the loss is the sum of the stage outputs' mean squares.
    A backbone whose padded norm is far above the plain one starts every
    dense-prediction run with a few exploding steps.
    """
    model.init_weights()
    model.train()
    images = torch.randn(
        2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    norms = {}
    for key, batch in (('init_grad_norm', images),
                       ('init_grad_norm_padded',
                        F.pad(images, (0, border, 0, border)))):
        model.zero_grad()
        torch.manual_seed(0)  # the same stochastic depth for both
        loss = sum(out.pow(2).mean() for out in model(batch.to(device)))
        loss.backward()
        norms[key] = torch.stack([
            p.grad.norm() for p in model.parameters() if p.grad is not None
        ]).norm().item()
    return norms


def measure_sweep(
        model: nn.Module,
        device: str,
        runs: int,
        amp: bool,
        training: bool,
        max_pixels: float,
        sizes: Iterable[Tuple[int, int]] = SWEEP_SIZES) -> Dict[str, dict]:
    """Batch-1 time (ms) and peak memory (MiB) of a forward or training step
    at each of ``sizes`` up to ``max_pixels``.

    Sizes ascend in one process, so the peak so far is the current size's
    peak. A size that does not fit in memory ends the sweep.
    """
    results = {}
    base = memory_base(device)
    for height, width in sizes:
        if height * width > max_pixels:
            break
        x = torch.randn(1, 3, height, width, device=device)
        step = (training_step if training else forward_step)(model, x, amp)
        try:
            seconds = median_seconds(
                step, runs, warmup=1, synchronize=synchronizer(device))
        except (RuntimeError, MemoryError) as error:  # out of memory
            print(f'{height}x{width}: {error}', file=sys.stderr)
            break
        results[f'{height}x{width}'] = dict(
            ms=seconds * 1e3, peak_mib=peak_memory_mib(device, base))
    return results


def measure_runtimes(
    model: nn.Module,
    runs: int,
    threads: Optional[int],
    shape: Tuple[int, int] = (800, 1280)
) -> Dict[str, dict]:
    """Batch-1 latency (ms) of the backbone exported to ONNX, in each
    runtime with the same thread count, and the largest relative error of
    its outputs (the export is checked against PyTorch within 1e-4)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = export_and_check(
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
