# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""A residual sum with stochastic depth folded in."""
import torch
import torch.nn as nn


class DropPathResidual(nn.Module):
    """``identity + drop_path(branch)`` in one pass.

    Stochastic depth per sample, as mmcv's and timm's ``DropPath``: in
    training each sample's branch is dropped with ``drop_prob`` and kept
    ones are scaled by ``1 / (1 - drop_prob)``; the scaling is folded into
    the residual sum rather than made a pass of its own.

    Args:
        drop_prob (float): Probability of dropping a sample's branch.
    """

    def __init__(self, drop_prob: float = 0.) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, identity: torch.Tensor,
                branch: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.:
            return identity + branch
        keep_prob = 1 - self.drop_prob
        shape = (branch.shape[0], ) + (1, ) * (branch.dim() - 1)
        keep = (keep_prob + torch.rand(
            shape, dtype=branch.dtype, device=branch.device)).floor_()
        return torch.addcmul(identity, branch, keep.div_(keep_prob))

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'
