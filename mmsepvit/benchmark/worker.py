# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Each measurement of a backbone in a fresh process, so that no model's
allocations, caches or thread pools bias the next.

The parent runs ``python -m mmsepvit.benchmark.worker REQUEST``, REQUEST a
JSON object (``name``, ``device``, ``part``, ``settings``), and reads the
figures from the JSON of the worker's last line that starts with
:data:`RESULT`.
"""
import dataclasses
import json
import os
import subprocess
import sys
from typing import Optional

import torch

from mmsepvit.utils.allocator import USER_ALLOCATOR_ENV, keep_freed_memory
from .measure import (init_gradient_norms, measure_inference, measure_runtimes,
                      measure_sweep, measure_training)
from .models import build_backbone

RESULT = 'RESULT '
# What one worker can measure (:func:`measure`).
PARTS = ('inference', 'training', 'runtimes', 'sweep-forward',
         'sweep-training')


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every measurement of one run shares.

    Attributes:
        runs (int): Timed runs; every time is their median.
        threads (int, optional): CPU threads (default: torch's).
        amp (bool): bf16 autocast on the CPU too (always on for CUDA).
        sweep_train_max (int): The largest input, in pixels, of the
            sweep's training step.
        keep_freed_memory (bool): Set glibc to keep freed memory in the
            worker, as ``tools/train.py`` does on the CPU
            (:mod:`mmsepvit.utils.allocator`).
    """
    runs: int = 5
    threads: Optional[int] = None
    amp: bool = False
    sweep_train_max: int = 800 * 1333
    keep_freed_memory: bool = False


def measure(name: str, device: str, part: str, settings: Settings) -> dict:
    """Measure ``part`` (one of :data:`PARTS`) of backbone ``name`` on
    ``device`` in this process."""
    if part not in PARTS:
        raise ValueError(f'unknown part {part!r}; expected one of {PARTS}')
    torch.manual_seed(0)
    model = build_backbone(name).to(device)
    if part == 'inference':
        result = measure_inference(model, device, settings.runs, settings.amp)
        result['params_m'] = sum(p.numel() for p in model.parameters()) / 1e6
        return result
    if part == 'training':
        return {
            **measure_training(model, device, settings.runs, settings.amp),
            **init_gradient_norms(model, device)
        }
    if part == 'runtimes':
        return measure_runtimes(model, settings.runs, settings.threads)
    training = part == 'sweep-training'
    return measure_sweep(
        model,
        device,
        settings.runs,
        settings.amp,
        training,
        max_pixels=settings.sweep_train_max if training else float('inf'))


def worker_env(settings: Settings) -> dict:
    """This process's environment; for ``keep_freed_memory`` without the
    user's allocator variables, which would make the worker leave glibc as
    it is."""
    if not settings.keep_freed_memory:
        return dict(os.environ)
    return {k: v for k, v in os.environ.items() if k not in USER_ALLOCATOR_ENV}


def run_worker(name: str, device: str, part: str, settings: Settings) -> dict:
    """:func:`measure` in a fresh process.

    Raises:
        RuntimeError: The worker failed, with the tail of its stderr.
    """
    request = dict(
        name=name,
        device=device,
        part=part,
        settings=dataclasses.asdict(settings))
    result = subprocess.run(
        [sys.executable, '-m', __spec__.name,
         json.dumps(request)],
        capture_output=True,
        text=True,
        env=worker_env(settings))
    lines = [
        line for line in result.stdout.splitlines() if line.startswith(RESULT)
    ]
    if result.returncode or not lines:
        raise RuntimeError(f'measuring {name} ({part}, {device}) failed:\n'
                           f'{result.stderr[-2000:]}')
    return json.loads(lines[-1][len(RESULT):])


def main() -> None:
    request = json.loads(sys.argv[1])
    settings = Settings(**request.pop('settings'))
    if settings.keep_freed_memory:
        keep_freed_memory()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    print(RESULT + json.dumps(measure(settings=settings, **request)))


if __name__ == '__main__':
    main()
