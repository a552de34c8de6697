# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""SepViT (https://arxiv.org/abs/2203.15380) for OpenMMLab 2.0."""
from .engine import SafeRunner
from .models import SepViT
from .utils import allow_mmengine_checkpoints, use_checked_local_loader
from .utils.complexity import register_flop_handles
from .version import __version__

# Resuming and testing with mmengine on torch >= 2.6 need this.
allow_mmengine_checkpoints()
# Every local checkpoint mmengine reads: weights only, with named errors.
use_checked_local_loader()
# mmengine's FLOP counter (mmdet's and mmpretrain's get_flops) must count
# SepViT's attention.
register_flop_handles()

__all__ = ['SafeRunner', 'SepViT', '__version__']
