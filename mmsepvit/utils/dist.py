# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Multi-process runs on machines without a GPU."""
import torch
import torch.distributed as dist
from mmengine.config import Config


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Let ``--launcher pytorch`` run on CPUs with the gloo backend.

    mmengine 0.10 assumes one GPU per process: it calls
    ``torch.cuda.set_device`` and gives DDP a device id. Without a GPU this
    initialises the process group with gloo first (mmengine then skips its
    own) and wraps the model in DDP without device ids. With a GPU it does
    nothing.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError('without a GPU only --launcher pytorch (torchrun) '
                         f'is supported, got {launcher}')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.model_wrapper_cfg = dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
