# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""BatchNorm layers from an mmcv-style ``norm_cfg``, without mmcv."""
import torch.nn as nn

_BATCH_NORMS = {
    'BN': nn.BatchNorm2d,
    'BN2d': nn.BatchNorm2d,
    'SyncBN': nn.SyncBatchNorm,
}


def build_norm(norm_cfg: dict, num_features: int) -> nn.Module:
    """The norm layer of ``norm_cfg`` over ``num_features`` channels.

    'BN' and 'SyncBN' (with ``eps``, ``momentum`` and ``requires_grad``)
    need nothing beyond PyTorch, so importing a backbone needs no mmcv; any
    other type goes to mmcv's ``build_norm_layer`` where mmcv is installed.

    Raises:
        ValueError: Another type without mmcv, naming the ones available.
    """
    cfg = dict(norm_cfg)
    norm_type = cfg.pop('type')
    requires_grad = cfg.pop('requires_grad', True)
    if norm_type in _BATCH_NORMS:
        layer = _BATCH_NORMS[norm_type](num_features, **cfg)
    else:
        try:
            from mmcv.cnn import build_norm_layer
        except ImportError:
            raise ValueError(
                f'norm type {norm_type!r} needs mmcv, which is not '
                f'installed; without it choose one of {list(_BATCH_NORMS)}'
            ) from None
        return build_norm_layer(norm_cfg, num_features)[1]
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return layer
