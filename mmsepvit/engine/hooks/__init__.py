# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
from .checkpoint_check_hook import CheckpointCheckHook
from .random_state_hook import RandomStateHook

__all__ = ['CheckpointCheckHook', 'RandomStateHook']
