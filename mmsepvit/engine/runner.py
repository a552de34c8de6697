# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""mmengine's Runner made safe for long runs: exact resume, crash-safe
checkpoints, checked checkpoint loading, dataset errors that name the file,
and multi-process and mixed-precision runs on machines without a GPU."""
import os
import os.path as osp
import random
from datetime import timedelta
from typing import Callable, Dict, Optional, Tuple, Union

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info, is_main_process
from mmengine.model import (MMDistributedDataParallel, is_model_wrapper,
                            revert_sync_batchnorm)
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from .hooks import CheckpointCheckHook, RandomStateHook


def seed_worker_from_loader(worker_id: int) -> None:
    """Seed a data-loading worker from the seed PyTorch gave it.

    PyTorch draws that seed from the main process's generator each time an
    iterator starts, so it follows the restored state on resume. mmengine's
    own worker seeding ignores it: it depends on the worker id only.
    """
    rank, _ = get_dist_info()
    seed = (torch.initial_seed() + 1_000_003 * rank) % 2**32
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@RUNNERS.register_module()
class SafeRunner(Runner):
    """mmengine's Runner with exact resume, crash-safe checkpoints, checked
    checkpoint loading and dataset errors that name what is wrong.

    - :class:`RandomStateHook` is always registered (another runner can
      name it in ``custom_hooks``). With a seed in
      ``randomness``, data-loading workers are restarted every epoch (no
      ``persistent_workers``) and seeded from the main process's generator,
      so the augmentations after a resume are the ones the uninterrupted run
      would have drawn.
    - A checkpoint is written to a temporary file in the same folder and then
      renamed into place, so a crash during a save leaves the previous
      checkpoints (and ``last_checkpoint``) intact and never a torn file.
    - Checkpoints are read with torch's weights-only unpickler (mmsepvit
      registers it as mmengine's loader of local files); one that needs
      arbitrary code is refused, naming the file. :class:`CheckpointCheckHook`
      then checks what is loaded: a resumed run, and the ``load_from`` of
      :meth:`test` and :meth:`val` (whichever script set it), must find
      exactly their model, every missing, unexpected or mis-shaped key named;
      a ``load_from`` for fine-tuning may differ (another number of classes,
      say) but must share weights with the model.
    - A dataset that cannot be built (a corrupt or missing annotation file, a
      missing folder) raises an error naming its type, ``data_root`` and
      ``ann_file``.
    - Without a GPU, ``launcher='pytorch'`` (torchrun) runs on CPUs: the
      process group starts on gloo and DDP gets no device ids, where mmengine
      would ask for a GPU per process. ``AmpOptimWrapper`` (``--amp``)
      becomes :class:`CPUAmpOptimWrapper` (bf16), where mmengine's needs a
      GPU. SyncBN layers (the BatchNorm backbones' multi-GPU configs) become
      BatchNorm with per-process statistics, since torch's SyncBatchNorm
      refuses CPU tensors.

    Every mmsepvit config selects it (``runner_type='SafeRunner'`` with
    ``custom_imports`` of mmsepvit, from ``configs/_base_``), so our tools,
    mmdet's, mmseg's and mmpretrain's own ``tools/train.py`` and
    ``tools/test.py``, and ``mim train``/``mim test`` all run with it.
    """

    def __init__(self,
                 *args,
                 train_dataloader: Optional[dict] = None,
                 randomness: dict = dict(seed=None),
                 **kwargs) -> None:
        if isinstance(train_dataloader,
                      dict) and randomness.get('seed') is not None:
            train_dataloader = dict(
                train_dataloader,
                persistent_workers=False,
                worker_init_fn=dict(type=seed_worker_from_loader))
        super().__init__(
            *args,
            train_dataloader=train_dataloader,
            randomness=randomness,
            **kwargs)
        for hook_type in (RandomStateHook, CheckpointCheckHook):
            # Once, also where the config names it in custom_hooks.
            if not any(isinstance(hook, hook_type) for hook in self.hooks):
                self.register_hook(hook_type())
        # For CheckpointCheckHook: the file being loaded, and whether it must
        # fit the model exactly (resume, test, val) or only share weights
        # with it (load_from for fine-tuning).
        self.checkpoint_being_loaded: Optional[Tuple[str, bool]] = None
        self.load_strictly = False

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not torch.cuda.is_available() \
                and not dist.is_initialized():
            if self.launcher != 'pytorch':
                raise ValueError('without a GPU only launcher pytorch '
                                 f'(torchrun) is supported, got '
                                 f'{self.launcher!r}')
            # mmengine's init_dist would pin each process to a GPU.
            timeout = env_cfg.get('dist_cfg', {}).get('timeout', 1800)
            dist.init_process_group(
                backend='gloo', timeout=timedelta(seconds=timeout))
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict],
                   model: torch.nn.Module) -> torch.nn.Module:
        if (self.distributed and model_wrapper_cfg is None
                and not is_model_wrapper(model)
                and not torch.cuda.is_available()):
            # torch's SyncBatchNorm takes no CPU tensors: each process keeps
            # its own batch statistics, as BatchNorm in a single process.
            model = revert_sync_batchnorm(model)
            # mmengine's default DDP names a GPU per process as device id.
            return MMDistributedDataParallel(
                module=model,
                device_ids=None,
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                    False))
        return super().wrap_model(model_wrapper_cfg, model)

    def build_optim_wrapper(
        self, optim_wrapper: Union[Optimizer, OptimWrapper, Dict]
    ) -> Union[OptimWrapper, OptimWrapperDict]:
        if isinstance(optim_wrapper, dict) and optim_wrapper.get(
                'type') == 'AmpOptimWrapper' and not torch.cuda.is_available():
            # mmengine's AmpOptimWrapper refuses to run without a GPU.
            optim_wrapper = {
                k: v
                for k, v in optim_wrapper.items() if k != 'loss_scale'
            }
            optim_wrapper['type'] = 'CPUAmpOptimWrapper'
            self.logger.info('No GPU for AmpOptimWrapper: mixed precision '
                             'runs as CPUAmpOptimWrapper (bf16 autocast)')
        return super().build_optim_wrapper(optim_wrapper)

    def test(self) -> dict:
        """mmengine's, with the checkpoint of ``load_from`` loaded
        strictly."""
        self.load_strictly = True
        return super().test()

    def val(self) -> dict:
        """mmengine's, with the checkpoint of ``load_from`` loaded
        strictly."""
        self.load_strictly = True
        return super().val()

    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        **kwargs) -> None:
        if not osp.isdir(out_dir):  # a remote backend writes its own way
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        partial = f'.{filename}.partial'
        super().save_checkpoint(out_dir, partial, *args, **kwargs)
        if is_main_process():  # the only process that writes
            os.replace(osp.join(out_dir, partial), osp.join(out_dir, filename))

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        """mmengine's, with the checkpoint checked by
        :class:`CheckpointCheckHook` before it reaches the model: strictly
        when ``strict``, resuming, testing or validating.

        Raises:
            FileNotFoundError: ``filename`` does not exist.
            ValueError: It is no checkpoint, needs code to unpickle, or does
                not fit the model (naming every key at fault).
        """
        self.checkpoint_being_loaded = (filename, strict or self.load_strictly)
        try:
            return super().load_checkpoint(filename, map_location, strict,
                                           revise_keys)
        finally:
            self.checkpoint_being_loaded = None

    def resume(self, *args, **kwargs) -> None:
        """mmengine's, with the checkpoint loaded strictly."""
        self.load_strictly = True
        return super().resume(*args, **kwargs)

    @staticmethod
    def build_dataloader(dataloader: Union[DataLoader, Dict],
                         seed: Optional[int] = None,
                         diff_rank_seed: bool = False) -> DataLoader:
        try:
            return Runner.build_dataloader(dataloader, seed, diff_rank_seed)
        except Exception as e:
            dataset = describe_dataset(dataloader.get('dataset', {}))
            raise RuntimeError(f'cannot build the dataset {dataset}: '
                               f'{type(e).__name__}: {e}') from e


def describe_dataset(cfg: dict) -> str:
    """Type, data_root and ann_file of a dataset config, through wrappers
    such as RepeatDataset."""
    parts = [str(cfg.get('type'))]
    if 'dataset' in cfg:  # a wrapper
        return f'{parts[0]} of {describe_dataset(cfg["dataset"])}'
    for key in ('data_root', 'ann_file'):
        if cfg.get(key):
            parts.append(f'{key}={cfg[key]!r}')
    return ' '.join(parts) if len(parts) > 1 else parts[0]
