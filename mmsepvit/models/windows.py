# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Window partition and merge for SepViT, one memory pass each way.

Padding a map to whole windows, splitting it, prepending the window tokens,
and on the way back merging the windows and cropping the padding each make a
copy under autograd, in the forward and again in the backward. Here the
windows are written straight from the map (and the map straight from the
windows) in at most four rectangular blocks: the full windows, the last
window column, the last window row and the corner. The backward of each is
the other, so training makes one pass where autograd made three to five.

Tracers and exporters get the same windows from concatenation and views,
which they record as plain ops; height and width may stay symbolic.
"""
from typing import List, Optional, Tuple

import torch


def _grid(height: int, width: int, window_size: int) -> Tuple[int, ...]:
    """Windows down and across; map rows and columns in the last window."""
    # Non-negative operands: ONNX exports floor division as truncation.
    rows = (height + window_size - 1) // window_size
    cols = (width + window_size - 1) // window_size
    return (rows, cols, height - (rows - 1) * window_size,
            width - (cols - 1) * window_size)


def _pixel_grid(windows: torch.Tensor, rows: int, cols: int,
                window_size: int) -> torch.Tensor:
    """(B, rows*cols, ws*ws, C) windows as a (B, rows, ws, cols, ws, C) view
    laid out like the padded map."""
    grid = windows.unflatten(1, (rows, cols)).unflatten(
        3, (window_size, window_size))
    return grid.permute(0, 1, 3, 2, 4, 5)


def _blocks(feature_map: torch.Tensor, grid: torch.Tensor,
            window_size: int) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Matching (map, window) views of the unpadded pixels, in four
    blocks."""
    ws = window_size
    rows, cols = grid.shape[1], grid.shape[3]
    top, left = (rows - 1) * ws, (cols - 1) * ws
    last_row = feature_map.shape[1] - top
    last_col = feature_map.shape[2] - left
    return [
        (feature_map[:, :top, :left].unflatten(1, (rows - 1, ws)).unflatten(
            3, (cols - 1, ws)), grid[:, :rows - 1, :, :cols - 1]),
        (feature_map[:, :top, left:].unflatten(1, (rows - 1, ws)),
         grid[:, :rows - 1, :, cols - 1, :last_col]),
        (feature_map[:, top:, :left].unflatten(2, (cols - 1, ws)),
         grid[:, rows - 1, :last_row, :cols - 1]),
        (feature_map[:, top:, left:], grid[:, rows - 1, :last_row,
                                           cols - 1, :last_col]),
    ]


def _partition(feature_map: torch.Tensor, window_size: int, fill: torch.Tensor,
               token: Optional[torch.Tensor]) -> torch.Tensor:
    B, H, W, C = feature_map.shape
    rows, cols, last_row, last_col = _grid(H, W, window_size)
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
    grid = _pixel_grid(windows[:, :, offset:], rows, cols, window_size)
    for src, dst in _blocks(feature_map, grid, window_size):
        dst.copy_(src)
    grid[:, rows - 1, last_row:] = fill
    grid[:, :, :, cols - 1, last_col:] = fill
    return windows


def _merge(windows: torch.Tensor, height: int, width: int,
           window_size: int) -> torch.Tensor:
    B, _, _, C = windows.shape
    rows, cols, _, _ = _grid(height, width, window_size)
    feature_map = torch.empty(
        B, height, width, C, dtype=windows.dtype, device=windows.device)
    grid = _pixel_grid(windows, rows, cols, window_size)
    for dst, src in _blocks(feature_map, grid, window_size):
        dst.copy_(src)
    return feature_map


def _partition_traceable(feature_map: torch.Tensor, window_size: int,
                         fill: torch.Tensor,
                         token: Optional[torch.Tensor]) -> torch.Tensor:
    """:func:`_partition` in copies rather than writes, for tracers and
    exporters: concatenation, views and a transpose."""
    B, H, W, C = feature_map.shape
    ws = window_size
    x = torch.cat([feature_map, fill.expand(B, (-H) % ws, W, C)], 1)
    x = torch.cat([x, fill.expand(B, x.shape[1], (-W) % ws, C)], 2)
    x = x.view(B, x.shape[1] // ws, ws, x.shape[2] // ws, ws, C)
    windows = x.transpose(2, 3).reshape(B, -1, ws * ws, C)
    if token is None:
        return windows
    token = token.expand(B, windows.shape[1], C).unsqueeze(2)
    return torch.cat([token, windows], 2)


def _merge_traceable(windows: torch.Tensor, height: int, width: int,
                     window_size: int) -> torch.Tensor:
    B, _, _, C = windows.shape
    ws = window_size
    rows, cols, _, _ = _grid(height, width, ws)
    x = windows.view(B, rows, cols, ws, ws, C).transpose(2, 3)
    return x.reshape(B, rows * ws, cols * ws, C)[:, :height, :width]


def _channel_sum(t: torch.Tensor) -> torch.Tensor:
    return t.sum(tuple(range(t.dim() - 1)))


class _Partition(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feature_map, window_size, fill, token):
        ctx.window_size = window_size
        ctx.map_size = feature_map.shape[1:3]
        ctx.token_shape = None if token is None else token.shape
        return _partition(feature_map, window_size, fill, token)

    @staticmethod
    def backward(ctx, grad):
        ws = ctx.window_size
        height, width = ctx.map_size
        rows, cols, last_row, last_col = _grid(height, width, ws)
        has_token = ctx.token_shape is not None
        pixels = grad[:, :, int(has_token):]
        grad_map = grad_fill = grad_token = None
        if ctx.needs_input_grad[0]:
            grad_map = _merge(pixels, height, width, ws)
        if ctx.needs_input_grad[2]:
            # Padded rows, plus padded columns, less their shared corner.
            grid = _pixel_grid(pixels, rows, cols, ws)
            grad_fill = (
                _channel_sum(grid[:, rows - 1, last_row:]) +
                _channel_sum(grid[:, :, :, cols - 1, last_col:]) -
                _channel_sum(grid[:, rows - 1, last_row:, cols - 1,
                                  last_col:]))
        if has_token and ctx.needs_input_grad[3]:
            grad_token = grad[:, :, 0].sum_to_size(ctx.token_shape)
        return grad_map, None, grad_fill, grad_token


class _Merge(torch.autograd.Function):

    @staticmethod
    def forward(ctx, windows, height, width, window_size):
        ctx.window_size = window_size
        return _merge(windows, height, width, window_size)

    @staticmethod
    def backward(ctx, grad):
        zero = grad.new_zeros(grad.shape[-1])
        return _partition(grad, ctx.window_size, zero, None), None, None, None


def needs_autograd(*tensors: Optional[torch.Tensor]) -> bool:
    """Whether to run a hand-written backward: gradients are wanted, and
    neither the TorchScript tracer (which cannot record one) nor torch.export
    (which wants plain ops) is running."""
    return (torch.is_grad_enabled() and not _tracing()
            and any(t is not None and t.requires_grad for t in tensors))


def _tracing() -> bool:
    # TorchScript tracing (mmengine's FLOP counter) and torch.export (ONNX)
    # record writes into a fresh tensor badly: as untracked by autograd, and
    # as scatter ops that OpenVINO rejects and ONNX Runtime runs slowly.
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def window_partition(feature_map: torch.Tensor,
                     window_size: int,
                     fill: torch.Tensor,
                     token: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Split a map into windows, padding with ``fill`` and prepending
    ``token``.

    Args:
        feature_map (Tensor): (B, H, W, C), contiguous.
        window_size (int): Window side; H and W are padded at the bottom and
            right to multiples of it.
        fill (Tensor): (C, ), the value of padded pixels.
        token (Tensor, optional): Broadcastable to (B, nW, C): each window's
            token, placed first. None: no token.

    Returns:
        Tensor: (B, nW, [1 +] ws*ws, C); windows in row-major order, pixels
        row-major inside each window.
    """
    if needs_autograd(feature_map, fill, token):
        return _Partition.apply(feature_map, window_size, fill, token)
    if _tracing():
        return _partition_traceable(feature_map, window_size, fill, token)
    return _partition(feature_map, window_size, fill, token)


def window_merge(windows: torch.Tensor, height: int, width: int,
                 window_size: int) -> torch.Tensor:
    """Inverse of :func:`window_partition` without a token: (B, nW, ws*ws, C)
    windows to the (B, height, width, C) map, padding dropped."""
    if needs_autograd(windows):
        return _Merge.apply(windows, height, width, window_size)
    if _tracing():
        return _merge_traceable(windows, height, width, window_size)
    return _merge(windows, height, width, window_size)
