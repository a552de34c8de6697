# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Every FLOP count of mmsepvit, with one attention formula for both of its
counters.

* mmengine's counter (:func:`flop_analyzer`, :func:`model_complexity`), the
  one behind mmdet's, mmseg's and mmpretrain's get_flops: it traces a forward
  and counts multiply-adds by operator. :func:`register_flop_handles` teaches
  it, and its activation counter, PyTorch's fused attention.
* PyTorch's ``FlopCounterMode`` (:func:`multiply_adds_by_op`), which counts
  the kernels a step actually runs, backward and optimizer included: the
  benchmark's figures for forward and training steps.
"""
import math
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, complexity_analysis
from mmengine.analysis.jit_handles import generic_activation_jit, get_shape
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

from .codebases import codebase_of

SDPA = 'aten::scaled_dot_product_attention'


def attention_multiply_adds(query: Sequence[int],
                            key: Sequence[int],
                            value: Sequence[int],
                            backward: bool = False) -> int:
    """Multiply-adds of scaled dot-product attention on inputs of these
    shapes, ``(..., L, E)``: ``q @ k^T`` (``L_q * L_k * E``) and
    ``weights @ v`` (``L_q * L_k * E_v``) per batch and head.

    With ``backward``, those of its backward instead: two gradient products
    for each forward product, plus ``q @ k^T`` again, which the fused kernels
    recompute rather than keep.
    """
    score_entries = math.prod(query[:-1]) * key[-2]
    scores, weighting = score_entries * query[-1], score_entries * value[-1]
    if backward:
        return 3 * scores + 2 * weighting
    return scores + weighting


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """mmengine's handle of ``aten::scaled_dot_product_attention``
    (:func:`attention_multiply_adds`)."""
    return attention_multiply_adds(*(get_shape(value) for value in inputs[:3]))


def register_flop_handles() -> None:
    """Teach mmengine's FLOP and activation counters PyTorch's fused
    attention.

    Without them, mmengine (and so mmdet's, mmseg's and mmpretrain's
    ``tools/analysis_tools/get_flops.py``) warns that
    ``aten::scaled_dot_product_attention`` is unsupported and counts neither
    its FLOPs nor its activations. Activations are the output's elements, as
    mmengine counts them for matrix products. (SepViT's fused oneDNN linear
    layers step aside while the counter traces, so it sees
    ``aten::linear``.)
    """
    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS[SDPA] = sdpa_flop_jit
    complexity_analysis._DEFAULT_SUPPORTED_ACT_OPS[SDPA] = (
        generic_activation_jit())


def flop_analyzer(model: nn.Module, *inputs: torch.Tensor) -> FlopAnalyzer:
    """mmengine's FLOP analyzer of ``model(*inputs)`` (it traces on first
    use), without its warnings about elementwise operators, which it does
    not count."""
    return FlopAnalyzer(model, inputs).unsupported_ops_warnings(
        False).uncalled_modules_warnings(False)


def _dense_data_samples(scope: str, height: int, width: int) -> Optional[list]:
    if scope != 'mmdet':
        return None
    from mmdet.structures import DetDataSample
    shape = (height, width)
    return [
        DetDataSample(
            metainfo=dict(
                img_shape=shape,
                ori_shape=shape,
                pad_shape=shape,
                batch_input_shape=shape,
                scale_factor=(1., 1.)))
    ]


def model_complexity(cfg: Config,
                     shape: Optional[Tuple[int, int]] = None) -> dict:
    """Build ``cfg.model`` (no weights, no data) and measure one image.

    FLOPs are mmengine's: multiply-adds of convolutions and matrix products
    (attention included), plus its estimates for normalisation, upsampling
    and pooling layers; mmdet's and mmseg's get_flops give the same totals.

    Args:
        cfg (Config): A classifier (mmpretrain), detector (mmdet) or
            segmentor (mmseg) config.
        shape (tuple[int, int], optional): Input height and width. Defaults
            to the paper's shape for the config's codebase.

    Returns:
        dict: ``shape``; ``params`` and ``flops`` of the whole model's tensor
        forward (classifier logits, detector head outputs, segmentor decode
        head without the training-only auxiliary head); ``backbone_params``
        and ``backbone_flops``.

    Raises:
        ValueError: The config's ``default_scope`` is none of the three.
    """
    codebase = codebase_of(cfg, 'FLOP counting')
    height, width = shape or codebase.paper_shape
    init_default_scope(codebase.scope)
    model = MODELS.build(cfg.model).eval()
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None  # training only
    # The tensor forward, as mmdet's get_flops traces it.
    model.forward = partial(
        model.forward,
        data_samples=_dense_data_samples(codebase.scope, height, width),
        mode='tensor')
    with torch.no_grad():
        flops = flop_analyzer(model, torch.zeros(1, 3, height, width))
        total, backbone = flops.total(), flops.total('backbone')
    return dict(
        shape=(height, width),
        params=sum(p.numel() for p in model.parameters()),
        flops=total,
        backbone_params=sum(p.numel() for p in model.backbone.parameters()),
        backbone_flops=backbone)


def _flop_formulas() -> Dict[object, Callable[..., int]]:
    """FlopCounterMode formulas (FLOPs, two per multiply-add) for what it
    does not count, or miscounts: the CPU flash attention (forward and
    backward), oneDNN's fused linear layer (SepViT's inference path), and
    the convolution backward, whose weight gradient PyTorch 2.14 counts as
    if the convolution had one group (a depthwise 3x3 over C channels C
    times over)."""
    from torch.utils.flop_counter import conv_flop_count

    def attention(q, k, v, *args, out_shape=None, **kwargs):
        return 2 * attention_multiply_adds(q, k, v)

    def attention_backward(grad, q, k, v, *args, out_shape=None, **kwargs):
        return 2 * attention_multiply_adds(q, k, v, backward=True)

    def linear(x, weight, *args, out_shape=None, **kwargs):
        return 2 * math.prod(x) * weight[0]  # (..., K) by (N, K)

    def convolution_backward(grad_out,
                             x,
                             weight,
                             bias,
                             stride,
                             padding,
                             dilation,
                             transposed,
                             output_padding,
                             groups,
                             output_mask,
                             out_shape=None,
                             **kwargs):
        # The input and the weight gradient each cost one forward.
        forward = conv_flop_count(x, weight, grad_out, transposed)
        return forward * (int(output_mask[0]) + int(output_mask[1]))

    aten = torch.ops.aten
    formulas = {
        aten._scaled_dot_product_flash_attention_for_cpu: attention,
        aten._scaled_dot_product_flash_attention_for_cpu_backward:
        attention_backward,
        aten.convolution_backward: convolution_backward,
    }
    if hasattr(torch.ops.mkldnn, '_linear_pointwise'):
        formulas[torch.ops.mkldnn._linear_pointwise] = linear
    return formulas


def multiply_adds_by_op(step: Callable[[], object]) -> Dict[str, float]:
    """Giga multiply-adds of one call of ``step`` by operator, counted as it
    runs (every matmul, convolution and attention kernel, forward and
    backward, whichever module calls it)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(
            display=False, custom_mapping=_flop_formulas()) as counter:
        step()
    return {
        str(op): flops / 2e9
        for op, flops in counter.get_flop_counts()['Global'].items()
    }


def multiply_adds(step: Callable[[], object]) -> float:
    """Giga multiply-adds of one call of ``step``
    (:func:`multiply_adds_by_op`)."""
    return sum(multiply_adds_by_op(step).values())
