# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Query, key and value heads from one fused projection."""
from typing import Tuple

import torch

from .dispatch import ExecutionPath, execution_path


def _split(qkv: torch.Tensor, num_heads: int) -> Tuple[torch.Tensor, ...]:
    batch, tokens, _ = qkv.shape
    return qkv.view(batch, tokens, 3, num_heads, -1).permute(2, 0, 3, 1,
                                                             4).unbind(0)


class _SplitHeads(torch.autograd.Function):
    """Autograd's unbind and permute stack the three gradients and copy them
    again into the projection's layout; this backward writes them there
    once."""

    @staticmethod
    def forward(ctx, qkv, num_heads):
        return _split(qkv, num_heads)

    @staticmethod
    def backward(ctx, *grads):
        given = next(g for g in grads if g is not None)
        grads = [torch.zeros_like(given) if g is None else g for g in grads]
        return torch.stack([g.transpose(1, 2) for g in grads],
                           2).flatten(2), None


def _split_4d(qkv: torch.Tensor, num_heads: int) -> Tuple[torch.Tensor, ...]:
    """:func:`_split` with one four-dimensional transpose, for exporters:
    runtimes run a five-dimensional one on a slow generic kernel."""
    batch, tokens, _ = qkv.shape
    heads = qkv.view(batch, tokens, 3 * num_heads, -1).transpose(1, 2)
    return heads.chunk(3, dim=1)


def split_heads(qkv: torch.Tensor, num_heads: int) -> Tuple[torch.Tensor, ...]:
    """Query, key and value views of (B', heads, T, C/heads) from the
    (B', T, 3C) output of a fused projection (channels q, k, v, each
    heads x head_dims)."""
    path = execution_path(qkv)
    if path is ExecutionPath.AUTOGRAD:
        return _SplitHeads.apply(qkv, num_heads)
    if path is ExecutionPath.TRACE:
        return _split_4d(qkv, num_heads)
    return _split(qkv, num_heads)
