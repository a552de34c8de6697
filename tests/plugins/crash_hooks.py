"""Hooks that simulate crashes, imported by the resume tests' runs through
``custom_imports``."""
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KillAfterIter(Hook):
    """SIGKILL the process once ``iters`` iterations are done (after the
    checkpoint hook has run)."""
    priority = 'LOWEST'

    def __init__(self, iters: int) -> None:
        self.iters = iters

    def after_train_iter(self, runner, *args, **kwargs) -> None:
        if runner.iter + 1 >= self.iters:
            os.kill(os.getpid(), signal.SIGKILL)
