# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Parameters and FLOPs of classifier, detector and segmentor configs, with
mmengine's counter (the one behind mmdet's and mmseg's get_flops)."""
import math
from functools import partial
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer, complexity_analysis
from mmengine.analysis.jit_handles import get_shape
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope

# The paper's shapes: ImageNet, COCO (800x1280) and ADE20K (512x2048).
DEFAULT_SHAPES: Dict[str, Tuple[int, int]] = {
    'mmpretrain': (224, 224),
    'mmdet': (800, 1280),
    'mmseg': (512, 2048),
}


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``scaled_dot_product_attention``: ``q @ k^T`` and
    ``weights @ v``, ``L_q * L_k * (E + E_v)`` per batch and head."""
    q, k, v = (get_shape(value) for value in inputs[:3])
    return math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])


def register_flop_handles() -> None:
    """Teach mmengine's FLOP counter PyTorch's fused attention.

    Without it, mmengine (and so mmdet's and mmseg's
    ``tools/analysis_tools/get_flops.py``) reports
    ``aten::scaled_dot_product_attention`` as unsupported and counts it as
    zero. Importing mmsepvit calls this. (SepViT's fused oneDNN linear layers
    step aside while the counter traces, so it sees ``aten::linear``.)
    """
    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS[
        'aten::scaled_dot_product_attention'] = sdpa_flop_jit


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
    """
    scope = cfg.get('default_scope')
    if scope not in DEFAULT_SHAPES:
        raise ValueError(
            f'cannot tell the task of a config with default_scope {scope!r}; '
            f'expected one of {sorted(DEFAULT_SHAPES)}')
    height, width = shape or DEFAULT_SHAPES[scope]
    init_default_scope(scope)
    model = MODELS.build(cfg.model).eval()
    if getattr(model, 'auxiliary_head', None) is not None:
        model.auxiliary_head = None  # training only
    # The tensor forward, as mmdet's get_flops traces it.
    model.forward = partial(
        model.forward,
        data_samples=_dense_data_samples(scope, height, width),
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
