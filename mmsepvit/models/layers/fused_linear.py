# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Linear layers on oneDNN's fused kernel at float32 CPU inference.

PyTorch's default CPU GEMM plus a separate bias pass (and a separate GELU
pass in an MLP) took half of SepViT's forward; oneDNN's linear with bias and
GELU fused in is about twice as fast per layer, same result.
``torch.ops.mkldnn._linear_pointwise`` is private (it is the kernel
torch.compile's CPU backend emits), so it is checked: if it is missing, or
once it rejects an input, :func:`linear` runs PyTorch's own ops.
"""
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from .dispatch import ExecutionPath, execution_path

_onednn_usable = torch.backends.mkldnn.is_available() and hasattr(
    torch.ops.mkldnn, '_linear_pointwise')


def onednn_applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether :func:`linear` takes the oneDNN kernel for this input: the
    inference path (it has no backward and tracers cannot record it), on
    float32 CPU tensors, outside autocast and torch.compile (which make
    their own kernels)."""
    return (_onednn_usable
            and execution_path(x, weight) is ExecutionPath.INFERENCE
            and x.device.type == 'cpu'
            and x.dtype == weight.dtype == torch.float32
            and not torch.compiler.is_compiling()
            and not torch.is_autocast_enabled('cpu'))


def linear(x: torch.Tensor,
           layer: nn.Linear,
           gelu: bool = False) -> torch.Tensor:
    """``layer(x)``, then GELU if ``gelu``; one oneDNN kernel where
    :func:`onednn_applies`."""
    global _onednn_usable
    if onednn_applies(x, layer.weight):
        try:
            return torch.ops.mkldnn._linear_pointwise(
                x, layer.weight, layer.bias, 'gelu' if gelu else 'none', [],
                'none' if gelu else '')
        except RuntimeError as error:
            _onednn_usable = False
            warnings.warn('oneDNN fused linear failed, using PyTorch linear '
                          f'layers from now on: {error}')
    x = F.linear(x, layer.weight, layer.bias)
    return F.gelu(x) if gelu else x
