# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Input sizes of an export: the least size a model takes, the size a
dynamic export is traced at, and the sizes it is checked at.

The model's backbone states its geometry; nothing here restates SepViT's. A
backbone (any module, not only SepViT) declares:

- ``min_input_size``: the least height and width it takes;
- ``strides``: the output stride of each stage (needed with windows);
- ``arch_settings['window_sizes']``, optionally: the window sizes of each
  stage's blocks, one list per stage;
- ``img_size``, optionally: the one input size it takes, or None for any.

A model with no such module takes :data:`DEFAULT_MIN_INPUT_SIZE` and up.
"""
from typing import Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

Shape = Tuple[int, int]

# The least side of a model that declares none: the stride of the last
# stage of the usual four-stage backbone (a 1x1 map there).
DEFAULT_MIN_INPUT_SIZE = 32


def _sized_modules(model: nn.Module) -> Iterator[nn.Module]:
    """The modules of ``model`` that declare ``min_input_size``."""
    return (m for m in model.modules() if hasattr(m, 'min_input_size'))


def _least_size_and_owner(model: Optional[nn.Module]) -> Tuple[int, str]:
    """The least side ``model`` takes and the name of the module that
    declares it ('the model' for the default)."""
    declared = [(int(m.min_input_size), type(m).__name__)
                for m in _sized_modules(model)] if model is not None else []
    return max(declared, default=(DEFAULT_MIN_INPUT_SIZE, 'the model'))


def min_input_size(model: nn.Module) -> int:
    """The least height and width ``model`` takes: the largest
    ``min_input_size`` its modules declare, else
    :data:`DEFAULT_MIN_INPUT_SIZE`."""
    return _least_size_and_owner(model)[0]


def check_shape(shape: Sequence[int],
                model: Optional[nn.Module] = None) -> Shape:
    """``(height, width)`` as ints, each at least ``model``'s
    :func:`min_input_size` (:data:`DEFAULT_MIN_INPUT_SIZE` without one).

    Raises:
        ValueError: ``shape`` is not two integers, or is under the minimum
            (naming it and the module that sets it).
    """
    shape = tuple(shape)
    if len(shape) != 2 or not all(
            isinstance(s, (int, np.integer)) for s in shape):
        raise ValueError(f'input shape must be two integers (height, width), '
                         f'got {shape!r}')
    height, width = (int(s) for s in shape)
    least, owner = _least_size_and_owner(model)
    if min(height, width) < least:
        raise ValueError(
            f'input shape {height}x{width} is under the {least}-pixel '
            f'minimum: {owner} needs at least {least}x{least} pixels')
    return height, width


def check_any_size(model: nn.Module) -> None:
    """Raise a ValueError if a module of ``model`` takes one input size
    only (a non-None ``img_size``): a dynamic export needs any size."""
    for module in _sized_modules(model):
        if getattr(module, 'img_size', None) is not None:
            height, width = module.img_size
            raise ValueError(
                f'{type(module).__name__} with img_size {height}x{width} '
                f'takes inputs of exactly {height}x{width} only; export it '
                'without dynamic height and width, at that shape')


def example_input(shape: Shape, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A seeded standard-normal batch, like normalised images."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *shape, generator=generator)


def _window_sizes(module: nn.Module) -> Sequence[Sequence[int]]:
    """The window sizes of each stage of ``module``, if it declares them:
    per block in its arch (SepViT), or one ``window_size`` for every stage
    of a backbone with ``strides`` (Shuffle Transformer)."""
    arch = getattr(module, 'arch_settings', None)
    if isinstance(arch, dict) and 'window_sizes' in arch:
        return arch['window_sizes']
    window_size = getattr(module, 'window_size', None)
    if isinstance(window_size, int) and hasattr(module, 'strides'):
        return [[window_size]] * len(module.strides)
    return ()


def least_trace_side(model: nn.Module) -> int:
    """The least side at which every windowed stage of ``model`` has at
    least two windows per side (the stage's stride times its largest window,
    plus one), and at least :func:`min_input_size`.

    Raises:
        ValueError: A module declares window sizes but no ``strides``.
    """
    least = min_input_size(model)
    for module in _sized_modules(model):
        windows = _window_sizes(module)
        if windows and not hasattr(module, 'strides'):
            raise ValueError(
                f'{type(module).__name__} declares window sizes but no '
                '`strides` (the output stride of each stage), which export '
                'needs to place its windows')
        for stride, sizes in zip(getattr(module, 'strides', ()), windows):
            least = max(least, stride * max(sizes) + 1)
    return least


def dynamic_trace_shape(model: nn.Module, shape: Shape) -> Shape:
    """The size at which a dynamic export is traced.

    The exporter reasons about sizes as if no window grid had a single
    window: a trace at a size where some stage has one window per side would
    fix the graph to that size. The trace size is ``shape`` raised to
    :func:`least_trace_side` (more than 224 pixels for SepViT's windows of 7
    and 14 at strides 32 and 16), with a margin of 16 for the checks below
    it, and with height and width kept apart by the model's
    :func:`min_input_size` (equal sizes would be taken as one).
    """
    least = least_trace_side(model) + 16
    height, width = (max(s, least) for s in shape)
    if height == width:
        width += min_input_size(model)
    return height, width


def second_shape(shape: Shape, least: int = DEFAULT_MIN_INPUT_SIZE) -> Shape:
    """Another height and width, both different from ``shape``'s (and at
    least ``least``), at which a dynamic export is checked: three quarters
    of each side plus 5, or the side plus 37 where that is too small."""
    other = []
    for side in shape:
        smaller = side * 3 // 4 + 5
        other.append(smaller if least <= smaller != side else side + 37)
    return tuple(other)
