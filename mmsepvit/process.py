# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""What ``import mmsepvit`` changes in the process, all in one place.

:func:`set_up_process` runs once, on import (``custom_imports`` in a config
imports mmsepvit, so every entry point gets the same process). It changes
four things, each because an OpenMMLab tool would otherwise fail or mislead:

1. **mmengine checkpoints load weights-only.** Since torch 2.6,
   ``torch.load`` unpickles only allow-listed types, and mmengine 0.10's
   checkpoints also hold its ``HistoryBuffer`` (in the message hub) and numpy
   arrays and scalars: ``--resume`` and ``tools/test.py`` would fail. Exactly
   those types are allow-listed, and ``HistoryBuffer`` pickles without its
   statistics functions (references that would need ``getattr`` in the
   unpickler). Any other code in a checkpoint is still refused.
2. **Every local checkpoint mmengine reads goes through**
   :func:`mmsepvit.utils.checkpoint.load_local_checkpoint`: weights-only, and
   an error naming the file and the code it asked for, rather than mmengine's
   default (which a config could switch to full unpickling). The runner,
   ``init_cfg``, ``load_from`` and the Inferencers all read through it.
3. **mmengine's FLOP and activation counters count attention.** They report
   ``aten::scaled_dot_product_attention`` as unsupported and count it as
   zero, so mmdet's, mmseg's and mmpretrain's ``get_flops.py`` would
   under-count every attention backbone
   (:func:`mmsepvit.utils.complexity.register_flop_handles`).
4. **``mmseg::`` bases resolve on the maintained forks.** onedl-mmengine
   looks them up under the distribution 'mmsegmentation', which the fork
   installs as 'onedl-mmsegmentation'
   (:func:`mmsepvit.utils.codebases.find_forked_config_packages`; nothing
   changes on the upstream stack). A package's own tool parses its config
   before importing mmsepvit, so there the fork still needs the fix itself.
"""
import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from mmsepvit.utils.checkpoint import load_local_checkpoint
from mmsepvit.utils.codebases import find_forked_config_packages
from mmsepvit.utils.complexity import register_flop_handles


def _history_buffer_state(buffer: HistoryBuffer) -> dict:
    """``HistoryBuffer`` state without its statistics functions; they live
    on the class and are registered on import instead."""
    state = dict(buffer.__dict__)
    state.pop('statistics_methods', None)
    return state


def allow_mmengine_checkpoints() -> None:
    """Change 1: allow-list the types mmengine 0.10 writes into
    checkpoints."""
    for name in ('min', 'max', 'current', 'mean'):
        HistoryBuffer._statistics_methods.setdefault(
            name, getattr(HistoryBuffer, name))
    HistoryBuffer.__getstate__ = _history_buffer_state
    numpy_core = getattr(np, '_core', None) or np.core
    torch.serialization.add_safe_globals([
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        numpy_core.multiarray._reconstruct,
        numpy_core.multiarray.scalar,
        *(getattr(np.dtypes, name) for name in np.dtypes.__all__),
    ])


def use_checked_local_loader() -> None:
    """Change 2: make :func:`load_local_checkpoint` mmengine's loader of
    local paths."""
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)


def set_up_process() -> None:
    """Make the four changes of this module's docstring."""
    allow_mmengine_checkpoints()
    use_checked_local_loader()
    register_flop_handles()
    find_forked_config_packages()
