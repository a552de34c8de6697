from .optim_wrapper import CPUAmpOptimWrapper
from .runner import CheckpointCheckHook, RandomStateHook, SafeRunner

__all__ = [
    'CPUAmpOptimWrapper', 'CheckpointCheckHook', 'RandomStateHook',
    'SafeRunner'
]
