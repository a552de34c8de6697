# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Layers any backbone can use; they import no backbone."""
from .dispatch import ExecutionPath, execution_path
from .drop_path import DropPathResidual
from .fused_linear import linear, onednn_applies
from .heads import project_heads, split_heads
from .norm import build_norm
from .windows import num_windows, window_merge, window_partition

__all__ = [
    'DropPathResidual', 'ExecutionPath', 'build_norm', 'execution_path',
    'linear', 'num_windows', 'onednn_applies', 'project_heads', 'split_heads',
    'window_merge', 'window_partition'
]
