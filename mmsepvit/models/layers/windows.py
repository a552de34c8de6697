# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Window partition and merge, one memory pass each way.

A (B, H, W, C) map is padded at the bottom and right to whole windows and
split into ``rows x cols`` windows of ``window_size x window_size`` pixels.
Along each axis, a padded map index is ``outer * inner_size + inner``:

- regular windows (Swin, SepViT): the window is the outer index, so window
  ``i`` holds rows ``ws*i .. ws*i + ws - 1``;
- shuffled (dilated) windows (Shuffle Transformer): the window is the inner
  index, so window ``i`` holds rows ``i, i + rows, ..., i + (ws - 1)*rows``.

Both orders are the same code: only the order of the two factors differs.

Padding, splitting, prepending a token, and on the way back merging and
cropping each make a copy under autograd, in the forward and again in the
backward. Here the windows are written straight from the map (and the map
straight from the windows) in at most four rectangular blocks, and the
backward of each is the other: training makes one pass where autograd made
three to five. Tracers and exporters get the same windows from concatenation
and views, which they record as plain ops; height and width may stay
symbolic. :func:`~mmsepvit.models.layers.dispatch.execution_path` picks.
"""
from typing import List, NamedTuple, Optional, Tuple

import torch

from .dispatch import ExecutionPath, execution_path

# Window-order dims (B, rows, cols, ws, ws, C) to map order.
_TO_MAP_ORDER = {False: (0, 1, 3, 2, 4, 5), True: (0, 3, 1, 4, 2, 5)}


def num_windows(size: int, window_size: int) -> int:
    """Windows along a side of ``size`` pixels, the last one padded."""
    # Non-negative operands: ONNX exports floor division as truncation.
    return (size + window_size - 1) // window_size


class _Axis(NamedTuple):
    """One axis of the padded map as ``outer`` blocks of ``inner`` lines."""
    outer: int
    inner: int
    full: int  # leading blocks holding real lines only
    rem: int  # real lines at the start of the next block

    @classmethod
    def of(cls, size: int, window_size: int, shuffled: bool) -> '_Axis':
        windows = num_windows(size, window_size)
        outer, inner = ((window_size, windows) if shuffled else
                        (windows, window_size))
        return cls(outer, inner, size // inner, size % inner)

    def real(self) -> List[Tuple[slice, slice, int, int]]:
        """The real lines as (outer, inner) slices of the grid, with their
        first map line and count of blocks."""
        parts = []
        if self.full:
            parts.append((slice(0, self.full), slice(None), 0, self.full))
        if self.rem:
            parts.append((slice(self.full, self.full + 1), slice(0, self.rem),
                          self.full * self.inner, 1))
        return parts

    def padding(self) -> List[Tuple[slice, slice]]:
        """The padded lines as (outer, inner) slices of the grid."""
        parts = []
        if self.full < self.outer:
            parts.append((slice(self.full,
                                self.full + 1), slice(self.rem, None)))
        if self.full + 1 < self.outer:
            parts.append((slice(self.full + 1, None), slice(None)))
        return parts


def _axes(height: int, width: int, window_size: int,
          shuffled: bool) -> Tuple[_Axis, _Axis]:
    return (_Axis.of(height, window_size,
                     shuffled), _Axis.of(width, window_size, shuffled))


def _map_grid(windows: torch.Tensor, rows: int, cols: int, window_size: int,
              shuffled: bool) -> torch.Tensor:
    """(B, rows*cols, ws*ws, C) windows as a 6-D view laid out like the
    padded map: (B, outer, inner) per axis, then C."""
    grid = windows.unflatten(1, (rows, cols)).unflatten(
        3, (window_size, window_size))
    return grid.permute(_TO_MAP_ORDER[shuffled])


def _blocks(feature_map: torch.Tensor, grid: torch.Tensor,
            axes) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Matching (map, grid) views of the real pixels, in at most four
    rectangular blocks."""
    pairs = []
    for outer_h, inner_h, top, blocks_h in axes[0].real():
        for outer_w, inner_w, left, blocks_w in axes[1].real():
            target = grid[:, outer_h, inner_h, outer_w, inner_w]
            lines_h, lines_w = target.shape[2], target.shape[4]
            source = feature_map[:, top:top + blocks_h * lines_h,
                                 left:left + blocks_w * lines_w]
            pairs.append((source.unflatten(1, (blocks_h, lines_h)).unflatten(
                3, (blocks_w, lines_w)), target))
    return pairs


def _padding(grid: torch.Tensor, axes) -> List[torch.Tensor]:
    """Disjoint views of the grid's padded pixels: padded rows, then padded
    columns of the real rows."""
    views = [grid[:, outer, inner] for outer, inner in axes[0].padding()]
    for outer_h, inner_h, _, _ in axes[0].real():
        for outer_w, inner_w in axes[1].padding():
            views.append(grid[:, outer_h, inner_h, outer_w, inner_w])
    return views


def _partition(feature_map: torch.Tensor, window_size: int, fill: torch.Tensor,
               token: Optional[torch.Tensor], shuffled: bool) -> torch.Tensor:
    B, H, W, C = feature_map.shape
    axes = _axes(H, W, window_size, shuffled)
    rows, cols = num_windows(H, window_size), num_windows(W, window_size)
    offset = 0 if token is None else 1
    windows = torch.empty(
        B,
        rows * cols,
        offset + window_size**2,
        C,
        dtype=feature_map.dtype,
        device=feature_map.device)
    if token is not None:
        windows[:, :, 0] = token
    grid = _map_grid(windows[:, :, offset:], rows, cols, window_size, shuffled)
    for source, target in _blocks(feature_map, grid, axes):
        target.copy_(source)
    for padded in _padding(grid, axes):
        padded.copy_(fill.expand_as(padded))
    return windows


def _merge(windows: torch.Tensor, height: int, width: int, window_size: int,
           shuffled: bool) -> torch.Tensor:
    B, _, _, C = windows.shape
    feature_map = torch.empty(
        B, height, width, C, dtype=windows.dtype, device=windows.device)
    grid = _map_grid(windows, num_windows(height, window_size),
                     num_windows(width, window_size), window_size, shuffled)
    for target, source in _blocks(feature_map, grid,
                                  _axes(height, width, window_size, shuffled)):
        target.copy_(source)
    return feature_map


def _to_windows_4d(x: torch.Tensor, window_size: int,
                   shuffled: bool) -> torch.Tensor:
    """(B, Hp, Wp, C) padded map to (B, nW, ws*ws, C) windows with
    transposes of at most four dimensions, which runtimes run on their fast
    kernels (OpenVINO's six-dimensional transpose is a slow generic one)."""
    B, Hp, Wp, C = x.shape
    ws = window_size
    rows, cols = Hp // ws, Wp // ws
    if not shuffled:
        # (B*rows, i, cols, j*C) -> (B*rows, cols, i, j*C)
        x = x.reshape(B * rows, ws, cols, ws * C).transpose(1, 2)
        return x.reshape(B, rows * cols, ws * ws, C)
    # Map row k*rows + r is line k of window row r (likewise columns):
    # (B, k, r, l*cols*C) -> (B, r, k, l*cols*C)
    x = x.reshape(B, ws, rows, Wp * C).transpose(1, 2)
    # (B*r*k, l, c, C) -> (B*r*k, c, l, C)
    x = x.reshape(B * rows * ws, ws, cols, C).transpose(1, 2)
    # (B*r, k, c, l*C) -> (B*r, c, k, l*C)
    x = x.reshape(B * rows, ws, cols, ws * C).transpose(1, 2)
    return x.reshape(B, rows * cols, ws * ws, C)


def _from_windows_4d(windows: torch.Tensor, rows: int, cols: int,
                     window_size: int, shuffled: bool) -> torch.Tensor:
    """Inverse of :func:`_to_windows_4d`: (B, rows*cols, ws*ws, C) to the
    (B, rows*ws, cols*ws, C) padded map."""
    B, _, _, C = windows.shape
    ws = window_size
    if not shuffled:
        x = windows.reshape(B * rows, cols, ws, ws * C).transpose(1, 2)
        return x.reshape(B, rows * ws, cols * ws, C)
    x = windows.reshape(B * rows, cols, ws, ws * C).transpose(1, 2)
    x = x.reshape(B * rows * ws, cols, ws, C).transpose(1, 2)
    x = x.reshape(B, rows, ws, cols * ws * C).transpose(1, 2)
    return x.reshape(B, rows * ws, cols * ws, C)


def _partition_traceable(feature_map: torch.Tensor, window_size: int,
                         fill: torch.Tensor, token: Optional[torch.Tensor],
                         shuffled: bool) -> torch.Tensor:
    """:func:`_partition` in copies rather than writes, for tracers and
    exporters: concatenation, views and transposes."""
    B, H, W, C = feature_map.shape
    ws = window_size
    x = torch.cat([feature_map, fill.expand(B, (-H) % ws, W, C)], 1)
    x = torch.cat([x, fill.expand(B, x.shape[1], (-W) % ws, C)], 2)
    windows = _to_windows_4d(x, ws, shuffled)
    if token is None:
        return windows
    token = token.expand(B, windows.shape[1], C).unsqueeze(2)
    return torch.cat([token, windows], 2)


def _merge_traceable(windows: torch.Tensor, height: int, width: int,
                     window_size: int, shuffled: bool) -> torch.Tensor:
    ws = window_size
    x = _from_windows_4d(windows, num_windows(height, ws),
                         num_windows(width, ws), ws, shuffled)
    return x[:, :height, :width]


def _channel_sum(t: torch.Tensor) -> torch.Tensor:
    return t.sum(tuple(range(t.dim() - 1)))


class _Partition(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feature_map, window_size, fill, token, shuffled):
        ctx.window_size, ctx.shuffled = window_size, shuffled
        ctx.map_size = feature_map.shape[1:3]
        ctx.token_shape = None if token is None else token.shape
        return _partition(feature_map, window_size, fill, token, shuffled)

    @staticmethod
    def backward(ctx, grad):
        ws, shuffled = ctx.window_size, ctx.shuffled
        height, width = ctx.map_size
        has_token = ctx.token_shape is not None
        pixels = grad[:, :, int(has_token):]
        grad_map = grad_fill = grad_token = None
        if ctx.needs_input_grad[0]:
            grad_map = _merge(pixels, height, width, ws, shuffled)
        if ctx.needs_input_grad[2]:
            grid = _map_grid(pixels, num_windows(height, ws),
                             num_windows(width, ws), ws, shuffled)
            grad_fill = pixels.new_zeros(pixels.shape[-1])
            for padded in _padding(grid, _axes(height, width, ws, shuffled)):
                grad_fill += _channel_sum(padded)
        if has_token and ctx.needs_input_grad[3]:
            grad_token = grad[:, :, 0].sum_to_size(ctx.token_shape)
        return grad_map, None, grad_fill, grad_token, None


class _Merge(torch.autograd.Function):

    @staticmethod
    def forward(ctx, windows, height, width, window_size, shuffled):
        ctx.window_size, ctx.shuffled = window_size, shuffled
        return _merge(windows, height, width, window_size, shuffled)

    @staticmethod
    def backward(ctx, grad):
        zero = grad.new_zeros(grad.shape[-1])
        windows = _partition(grad, ctx.window_size, zero, None, ctx.shuffled)
        return windows, None, None, None, None


def window_partition(feature_map: torch.Tensor,
                     window_size: int,
                     fill: torch.Tensor,
                     token: Optional[torch.Tensor] = None,
                     shuffled: bool = False) -> torch.Tensor:
    """Split a map into windows, padding with ``fill`` and prepending
    ``token``.

    Args:
        feature_map (Tensor): (B, H, W, C), contiguous.
        window_size (int): Window side; H and W are padded at the bottom and
            right to multiples of it.
        fill (Tensor): (C, ), the value of padded pixels.
        token (Tensor, optional): Broadcastable to (B, nW, C): each window's
            token, placed first. None: no token.
        shuffled (bool): Shuffled (dilated) windows instead of regular ones;
            see the module docstring.

    Returns:
        Tensor: (B, nW, [1 +] ws*ws, C); windows in row-major order, pixels
        row-major inside each window.
    """
    path = execution_path(feature_map, fill, token)
    if path is ExecutionPath.AUTOGRAD:
        return _Partition.apply(feature_map, window_size, fill, token,
                                shuffled)
    if path is ExecutionPath.TRACE:
        return _partition_traceable(feature_map, window_size, fill, token,
                                    shuffled)
    return _partition(feature_map, window_size, fill, token, shuffled)


def window_merge(windows: torch.Tensor,
                 height: int,
                 width: int,
                 window_size: int,
                 shuffled: bool = False) -> torch.Tensor:
    """Inverse of :func:`window_partition` without a token: (B, nW, ws*ws, C)
    windows to the (B, height, width, C) map, padding dropped."""
    path = execution_path(windows)
    if path is ExecutionPath.AUTOGRAD:
        return _Merge.apply(windows, height, width, window_size, shuffled)
    if path is ExecutionPath.TRACE:
        return _merge_traceable(windows, height, width, window_size, shuffled)
    return _merge(windows, height, width, window_size, shuffled)
