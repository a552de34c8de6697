# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Exact resume: the random generators' states travel in checkpoints."""
import random
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def get_random_state() -> dict:
    """The states of Python's, NumPy's and PyTorch's (and CUDA's) random
    generators, in types that weights-only loading accepts."""
    version, keys, gauss = random.getstate()
    kind, np_keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=(version, list(keys), gauss),
        numpy=(kind, np_keys.tolist(), pos, has_gauss, cached),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Restore the generators from what :func:`get_random_state` returned."""
    version, keys, gauss = state['python']
    random.setstate((version, tuple(keys), gauss))
    kind, np_keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((kind, np.array(np_keys,
                                        np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Keep the random generators' states in every checkpoint and restore
    them when training resumes.

    mmengine re-seeds a resumed run from the config's seed, so stochastic
    depth, dropout and batch augmentations after the resume would differ from
    the uninterrupted run's. The states of Python's, NumPy's and PyTorch's
    generators (CUDA's too when present) travel in ``meta.random_state`` and
    are restored as training starts, when the loop stands at the iteration
    of the checkpoint it loaded: mmengine's resume moves it there, while a
    ``load_from`` for fine-tuning leaves it at 0 and keeps the config's seed.

    :class:`~mmsepvit.engine.SafeRunner` registers it itself; with another
    runner, name it in the config::

        custom_hooks = [dict(type='RandomStateHook')]

    Only the main process's generators are kept. Data-loading workers draw
    from their own: mmengine seeds them from the config's seed alone, and
    ``persistent_workers`` carries their states across epochs, which a
    resumed run cannot repeat; SafeRunner restarts and seeds them from the
    main process's generator every epoch instead.
    """
    priority = 'VERY_LOW'

    def __init__(self) -> None:
        # The iteration and random state of the checkpoint loaded last.
        self._loaded: Optional[Tuple[int, dict]] = None
        self._before_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['random_state'] = get_random_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        if isinstance(meta, dict) and 'random_state' in meta:
            self._loaded = (meta.get('iter'), meta['random_state'])

    def before_train(self, runner) -> None:
        if self._loaded is None:
            return
        iteration, state = self._loaded
        self._loaded = None
        if runner.iter > 0 and runner.iter == iteration:  # resumed
            set_random_state(state)

    # A resumed run does not repeat the validation that followed its
    # checkpoint, so validation must not move the training generators.
    def before_val(self, runner) -> None:
        self._before_val = get_random_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_random_state(self._before_val)
            self._before_val = None
