# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Forwards that keep sizes symbolic, swapped in for the time of an export.

Two constructs of mmseg fix sizes at the trace size; the rewrites compute
the same results from symbolic sizes:

- the ``Upsample`` module's ``int(side * scale)`` (Semantic FPN);
- ``nn.AdaptiveAvgPool2d`` (UperNet's pyramid pooling), whose decomposition
  gathers with indices sized at the trace size.
"""
import contextlib
import sys
import types
from typing import Iterator, Tuple

import torch
import torch.nn as nn


def _symbolic_upsample_forward(self, x: torch.Tensor) -> torch.Tensor:
    """mmseg's ``Upsample.forward`` with ``int(side * scale)`` written
    ``side * int(scale)`` for whole scales: the same sizes, but ``int()`` of
    a symbolic size would fix it to its value at the trace size."""
    from mmseg.models.utils import resize
    size = self.size
    if not size:
        scale = self.scale_factor
        size = [
            side * int(scale) if float(scale).is_integer() else int(side *
                                                                    scale)
            for side in x.shape[-2:]
        ]
    return resize(x, size, None, self.mode, self.align_corners)


def _pair(output_size, input_size) -> Tuple[int, int]:
    """An adaptive pool's output height and width, None taking the input's
    side."""
    sizes = (output_size,
             output_size) if isinstance(output_size, int) else output_size
    return tuple(size if size is not None else side
                 for size, side in zip(sizes, input_size))


def _symbolic_adaptive_avg_pool(self, x: torch.Tensor) -> torch.Tensor:
    """``nn.AdaptiveAvgPool2d`` as the mean of each bin, rows
    ``[floor(i * H / n), ceil((i + 1) * H / n))`` (PyTorch's bins), sliced
    at symbolic bounds. (PyTorch's decomposition gathers with indices sized
    at the trace size, which fail at smaller inputs, as in UperNet's pyramid
    pooling.)"""
    out_h, out_w = _pair(self.output_size, x.shape[-2:])
    height, width = x.shape[-2:]
    # Non-negative operands only: ONNX's integer division truncates.
    tops = [i * height // out_h for i in range(out_h)]
    bottoms = [((i + 1) * height + out_h - 1) // out_h for i in range(out_h)]
    lefts = [j * width // out_w for j in range(out_w)]
    rights = [((j + 1) * width + out_w - 1) // out_w for j in range(out_w)]
    return torch.stack([
        torch.stack([
            x[..., top:bottom, left:right].mean((-2, -1))
            for left, right in zip(lefts, rights)
        ], -1) for top, bottom in zip(tops, bottoms)
    ], -2)


@contextlib.contextmanager
def export_rewrites(model: nn.Module, dynamic: bool) -> Iterator[None]:
    """Swap in the symbolic forwards on the instances of ``model`` for the
    time of the export (the pool's only for a ``dynamic`` one)."""
    patched = []
    # Only an mmseg model already imported can hold its Upsample.
    wrappers = sys.modules.get('mmseg.models.utils.wrappers')
    for module in model.modules():
        if wrappers is not None and isinstance(module, wrappers.Upsample):
            module.forward = types.MethodType(_symbolic_upsample_forward,
                                              module)
            patched.append(module)
        elif dynamic and isinstance(module, nn.AdaptiveAvgPool2d) and all(
                isinstance(size, int)
                for size in _pair(module.output_size, (None, None))):
            module.forward = types.MethodType(_symbolic_adaptive_avg_pool,
                                              module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward
