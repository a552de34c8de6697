# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Parity of an exported model's outputs with PyTorch's, output by output,
by :func:`~mmsepvit.utils.measure.relative_error` (``max|a - b| / max|b|``,
``b`` being PyTorch's)."""
from typing import Dict, Sequence

import numpy as np

from mmsepvit.utils.measure import relative_error


class ParityError(RuntimeError):
    """An exported output differs from PyTorch's beyond the tolerance."""


def check_parity(reference: Sequence[np.ndarray],
                 outputs: Sequence[np.ndarray],
                 names: Sequence[str],
                 rtol: float = 1e-4,
                 runtime: str = 'the runtime') -> Dict[str, float]:
    """Compare ``outputs`` with PyTorch's ``reference`` output by output.

    Returns:
        dict: The relative error of each output.

    Raises:
        ParityError: A count or shape that differs, a non-finite value, or a
            relative error above ``rtol``, naming the output.
    """
    if not len(reference) == len(outputs) == len(names):
        raise ParityError(f'{runtime} returned {len(outputs)} outputs, '
                          f'PyTorch {len(reference)} ({list(names)})')
    errors = {}
    for name, ref, out in zip(names, reference, outputs):
        if tuple(np.shape(out)) != tuple(np.shape(ref)):
            raise ParityError(
                f'output {name}: {runtime} gives shape {np.shape(out)}, '
                f'PyTorch {np.shape(ref)}')
        error = relative_error(out, ref)
        if not np.isfinite(error) or error > rtol:
            raise ParityError(
                f'output {name}: {runtime} differs from PyTorch by '
                f'{error:.3g} relative (max|a-b|/max|b|), above {rtol:g}')
        errors[name] = error
    return errors
