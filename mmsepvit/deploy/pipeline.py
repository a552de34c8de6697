# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Export, check against PyTorch and time, in one call: what
tools/deployment/export_onnx.py and tools/benchmark.py run."""
from typing import Optional, Sequence

import torch
import torch.nn as nn

from mmsepvit.utils.measure import median_seconds
from .export import export_onnx
from .model import as_tensor_outputs
from .parity import check_parity
from .runtimes import (RUNTIMES, check_runtime, make_runner, require,
                       run_pytorch, thread_count)
from .shapes import check_shape, example_input, min_input_size, second_shape


def export_and_check(model: nn.Module,
                     shape: Sequence[int],
                     path: str,
                     dynamic: bool = False,
                     second: Optional[Sequence[int]] = None,
                     runtimes: Sequence[str] = RUNTIMES,
                     runs: int = 5,
                     warmup: int = 2,
                     threads: Optional[int] = None,
                     rtol: float = 1e-4) -> dict:
    """Export ``model`` to ``path``, check each runtime against PyTorch at
    ``shape`` (and, with ``dynamic``, at a second shape, ``second`` or
    :func:`~.shapes.second_shape`), and time PyTorch and the runtimes at
    ``shape`` (medians of ``runs`` after ``warmup``). PyTorch runs on torch's
    own thread count, the runtimes on ``threads`` (torch's count by default).

    Returns:
        dict: ``export`` (:func:`~.export.export_onnx`'s result), ``checks``
        (one dict per shape and runtime: ``shape``, ``runtime``, ``errors``,
        the relative error of each output), ``latency_s`` (runtime or
        'pytorch' to the median seconds at ``shape``), ``threads``.

    Raises:
        ValueError: A shape under the model's least size, a second shape
            without ``dynamic``, or an unknown runtime.
        MissingDependencyError: A runtime is not installed.
        ParityError: An output differs beyond ``rtol``; the error names it.
    """
    model = as_tensor_outputs(model).eval()
    shape = check_shape(shape, model)
    shapes = [shape]
    if dynamic:
        shapes.append(
            check_shape(second, model) if second else second_shape(
                shape, min_input_size(model)))
    elif second:
        raise ValueError('a second check shape needs a dynamic export')
    for runtime in runtimes:  # before the export, which takes a while
        check_runtime(runtime)
        require(runtime)
    info = export_onnx(model, shape, path, dynamic=dynamic)
    threads = thread_count(threads)
    runners = {rt: make_runner(path, rt, threads) for rt in runtimes}
    checks = []
    latency = {}
    for size in shapes:
        inputs = example_input(size, seed=1)
        reference = run_pytorch(model, inputs)
        array = inputs.numpy()
        for runtime, run in runners.items():
            errors = check_parity(reference, run(array), info['output_names'],
                                  rtol, f'{runtime} at {size[0]}x{size[1]}')
            checks.append(dict(shape=size, runtime=runtime, errors=errors))
        if size == shape:
            with torch.no_grad():
                latency['pytorch'] = median_seconds(lambda: model(inputs),
                                                    runs, warmup)
            for runtime, run in runners.items():
                latency[runtime] = median_seconds(lambda: run(array), runs,
                                                  warmup)
    return dict(export=info, checks=checks, latency_s=latency, threads=threads)
