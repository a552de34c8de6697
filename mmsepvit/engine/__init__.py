from .optim_wrapper import CPUAmpOptimWrapper
from .runner import RandomStateHook, SafeRunner

__all__ = ['CPUAmpOptimWrapper', 'RandomStateHook', 'SafeRunner']
