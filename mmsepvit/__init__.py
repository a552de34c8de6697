# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""SepViT (https://arxiv.org/abs/2203.15380) for OpenMMLab 2.0."""
from .engine import SafeRunner
from .models import SepViT
from .process import set_up_process
from .version import __version__

set_up_process()
# The timm entries (sepvit_*, msg_*), where timm is installed.
try:
    from .models import timm as _timm_entries  # noqa: F401
except ModuleNotFoundError as error:
    if error.name != 'timm':
        raise

__all__ = ['SafeRunner', 'SepViT', '__version__']
