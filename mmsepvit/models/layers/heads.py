# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Query, key and value heads from one fused projection."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dispatch import ExecutionPath, execution_path
from .fused_linear import linear


def _split(fused: torch.Tensor, num_heads: int,
           parts: int) -> Tuple[torch.Tensor, ...]:
    batch, tokens, _ = fused.shape
    return fused.view(batch, tokens, parts, num_heads,
                      -1).permute(2, 0, 3, 1, 4).unbind(0)


class _SplitHeads(torch.autograd.Function):
    """Autograd's unbind and permute stack the three gradients and copy them
    again into the projection's layout; this backward writes them there
    once."""

    @staticmethod
    def forward(ctx, fused, num_heads, parts):
        return _split(fused, num_heads, parts)

    @staticmethod
    def backward(ctx, *grads):
        given = next(g for g in grads if g is not None)
        grads = [torch.zeros_like(given) if g is None else g for g in grads]
        return torch.stack([g.transpose(1, 2) for g in grads],
                           2).flatten(2), None, None


def split_heads(fused: torch.Tensor,
                num_heads: int,
                parts: int = 3) -> Tuple[torch.Tensor, ...]:
    """Views of (B', heads, T, C/heads), one per part, of the (B', T,
    parts*C) output of a fused projection (part-major channels, each part
    heads x head_dims: query, key and value for ``parts=3``)."""
    if execution_path(fused) is ExecutionPath.AUTOGRAD:
        return _SplitHeads.apply(fused, num_heads, parts)
    return _split(fused, num_heads, parts)


def project_heads(x: torch.Tensor,
                  layer: nn.Linear,
                  num_heads: int,
                  parts: int = 3) -> Tuple[torch.Tensor, ...]:
    """Heads (B', heads, T, C/heads) of (B', T, C) tokens through
    ``layer``, a fused projection of ``parts`` outputs (query, key and value
    by default; key and value with ``parts=2``).

    Exporters record one projection per part, each with its own
    four-dimensional head transpose, which OpenVINO folds into its attention
    kernel; the split of one fused output ran on OpenVINO's reference kernel
    and its transpose on a generic one.
    """
    if execution_path(x, layer.weight) is not ExecutionPath.TRACE:
        return split_heads(linear(x, layer), num_heads, parts)
    batch, tokens, _ = x.shape
    weights = layer.weight.chunk(parts)
    biases = [None] * parts if layer.bias is None else layer.bias.chunk(parts)
    return tuple(
        F.linear(x, weight, bias).view(batch, tokens, num_heads, -1).transpose(
            1, 2) for weight, bias in zip(weights, biases))
