# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Mixed-precision training on the CPU."""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """Runs the forward and loss under CPU autocast (bf16 by default).

    mmengine's ``AmpOptimWrapper`` refuses to run without a GPU;
    ``tools/train.py --amp`` picks this wrapper instead on CPU-only machines.
    bf16 keeps float32's exponent range, so no loss scaling is needed.

    Args:
        dtype (str | torch.dtype): 'bfloat16' or 'float16'.
        **kwargs: Arguments of :class:`~mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, None)
        if dtype not in (torch.bfloat16, torch.float16):
            raise ValueError('CPUAmpOptimWrapper: dtype must be bfloat16 or '
                             f'float16, got {dtype}')
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype):
            yield
