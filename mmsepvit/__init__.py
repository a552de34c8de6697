# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""SepViT (https://arxiv.org/abs/2203.15380) for OpenMMLab 2.0."""
from .models import SepViT
from .version import __version__

__all__ = ['SepViT', '__version__']
