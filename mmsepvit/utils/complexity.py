# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Parameters and FLOPs of classifier, detector and segmentor configs."""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from torch.utils.flop_counter import FlopCounterMode

# The paper's shapes: ImageNet, COCO (800x1280) and ADE20K (512x2048).
DEFAULT_SHAPES: Dict[str, Tuple[int, int]] = {
    'mmpretrain': (224, 224),
    'mmdet': (800, 1280),
    'mmseg': (512, 2048),
}


def count_flops(model: nn.Module, *args, **kwargs) -> int:
    """Multiply-adds of one forward call ``model(*args, **kwargs)``.

    Convolutions and every matrix product are counted, the attention
    products included; SepViT must run without fused kernels (see
    :func:`unfuse_kernels`), which the counter cannot see.
    """
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*args, **kwargs)
    return counter.get_total_flops() // 2  # the counter counts mul and add


def unfuse_kernels(model: nn.Module) -> None:
    """Make every SepViT layer in ``model`` run as plain matmuls."""
    for module in model.modules():
        if hasattr(module, 'fused_kernels'):
            module.fused_kernels = False


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

    Args:
        cfg (Config): A classifier (mmpretrain), detector (mmdet) or
            segmentor (mmseg) config.
        shape (tuple[int, int], optional): Input height and width. Defaults
            to the paper's shape for the config's codebase.

    Returns:
        dict: ``shape``; ``params`` and ``flops`` (multiply-adds) of the whole
        model's tensor forward (classifier logits, detector head outputs,
        segmentor decode head without the training-only auxiliary head);
        ``backbone_params`` and ``backbone_flops``.
    """
    scope = cfg.get('default_scope')
    if scope not in DEFAULT_SHAPES:
        raise ValueError(
            f'cannot tell the task of a config with default_scope {scope!r}; '
            f'expected one of {sorted(DEFAULT_SHAPES)}')
    height, width = shape or DEFAULT_SHAPES[scope]
    init_default_scope(scope)
    model = MODELS.build(cfg.model).eval()
    unfuse_kernels(model)
    inputs = torch.zeros(1, 3, height, width)
    data_samples = _dense_data_samples(scope, height, width)
    return dict(
        shape=(height, width),
        params=sum(p.numel() for p in model.parameters()),
        flops=count_flops(model, inputs, data_samples, mode='tensor'),
        backbone_params=sum(p.numel() for p in model.backbone.parameters()),
        backbone_flops=count_flops(model.backbone, inputs))
