# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Query, key and value heads from one fused projection."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dispatch import ExecutionPath, execution_path
from .fused_linear import linear


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


def split_heads(qkv: torch.Tensor, num_heads: int) -> Tuple[torch.Tensor, ...]:
    """Query, key and value views of (B', heads, T, C/heads) from the
    (B', T, 3C) output of a fused projection (channels q, k, v, each
    heads x head_dims)."""
    if execution_path(qkv) is ExecutionPath.AUTOGRAD:
        return _SplitHeads.apply(qkv, num_heads)
    return _split(qkv, num_heads)


def project_heads(x: torch.Tensor, layer: nn.Linear,
                  num_heads: int) -> Tuple[torch.Tensor, ...]:
    """Query, key and value (B', heads, T, C/heads) of (B', T, C) tokens
    through ``layer``, a fused q/k/v projection (output channels q, k, v).

    Exporters record three projections, each with its own four-dimensional
    head transpose, which OpenVINO folds into its attention kernel; the
    split of one fused output ran on OpenVINO's reference kernel and its
    transpose on a generic one.
    """
    if execution_path(x, layer.weight) is not ExecutionPath.TRACE:
        return split_heads(linear(x, layer), num_heads)
    batch, tokens, _ = x.shape
    biases = ((None, ) * 3 if layer.bias is None else layer.bias.chunk(3))
    return tuple(
        F.linear(x, weight, bias).view(batch, tokens, num_heads, -1).transpose(
            1, 2) for weight, bias in zip(layer.weight.chunk(3), biases))
