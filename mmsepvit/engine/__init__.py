# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
from .hooks import CheckpointCheckHook, RandomStateHook
from .optim_wrapper import CPUAmpOptimWrapper
from .runner import SafeRunner

__all__ = [
    'CPUAmpOptimWrapper', 'CheckpointCheckHook', 'RandomStateHook',
    'SafeRunner'
]
