# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The two measurements every part of mmsepvit shares: how far an output is
from its reference, and how long a step takes."""
import statistics
import time
from typing import Callable

import numpy as np


def relative_error(output, reference) -> float:
    """``max|output - reference| / max|reference|`` (the absolute error where
    the reference is all zeros); arrays or tensors alike."""
    output = np.asarray(_as_array(output), dtype=np.float64)
    reference = np.asarray(_as_array(reference), dtype=np.float64)
    diff = float(np.abs(output - reference).max()) if reference.size else 0.
    scale = float(np.abs(reference).max()) if reference.size else 0.
    return diff / scale if scale > 0 else diff


def _as_array(value):
    # A tensor that requires grad or lives on a GPU converts only this way.
    if hasattr(value, 'detach'):
        return value.detach().cpu().double().numpy()
    return value


def median_seconds(step: Callable[[], object],
                   runs: int = 5,
                   warmup: int = 2,
                   synchronize: Callable[[], object] = lambda: None) -> float:
    """The median wall time of ``runs`` calls of ``step`` after ``warmup``,
    each call followed by ``synchronize`` (e.g. waiting for a GPU)."""
    for _ in range(warmup):
        step()
        synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
