# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""What every mmsepvit backbone does the same way: the ``arch`` zoo,
``out_indices``, ``frozen_stages``, ``norm_eval``, ``pretrained`` and
``init_cfg``, input checks, and a tuple of NCHW outputs."""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import initialize
from torch.nn.modules.batchnorm import _BatchNorm

from mmsepvit.utils import check_state_dict, load_pretrained_state_dict

InitCfg = Optional[Union[dict, List[dict]]]


class MultiStageBackbone(BaseModule):
    """Base of mmsepvit's multi-stage backbones.

    A subclass sets ``arch_zoo`` (names and aliases to arch dicts) and
    ``arch_keys`` (the keys an arch dict must have, each with one entry per
    stage), builds its layers, sets ``strides`` and ``min_input_size``, and
    implements:

    - :meth:`stage_outputs`, the NCHW output of every stage;
    - :meth:`frozen_modules`, what ``frozen_stages`` freezes;
    - :meth:`_init_released`, the release's initialisation;
    - optionally :meth:`_check_arch` (more arch checks) and
      :meth:`transfer_state_dict` (checkpoints of related layouts).

    Args:
        init_cfg (dict | list[dict], optional): Initialisation config. With
            ``type='Pretrained'`` (optionally ``prefix='backbone.'``) every
            weight must be found in the checkpoint with the right shape, and
            nothing unexpected may be left over.
        pretrained (str, optional): Deprecated, use ``init_cfg``; mmseg's
            segmentors still pass their ``pretrained`` here.
    """
    arch_zoo: Dict[str, dict] = {}
    arch_keys: Tuple[str, ...] = ()
    # Set by subclasses once their layers are built.
    strides: Tuple[int, ...] = ()
    min_input_size: int = 32
    in_channels: int = 3
    out_indices: List[int] = []
    frozen_stages: int = -1
    norm_eval: bool = False

    def __init__(self,
                 init_cfg: InitCfg = None,
                 pretrained: Optional[str] = None) -> None:
        if pretrained is not None:
            if init_cfg is not None:
                raise ValueError(f'{self._name}: set init_cfg or the '
                                 'deprecated `pretrained`, not both')
            if not isinstance(pretrained, str):
                raise TypeError(f'{self._name}: `pretrained` must be a '
                                'checkpoint path, got '
                                f'{type(pretrained).__name__}')
            warnings.warn(f'{self._name}: `pretrained` is deprecated, use '
                          'init_cfg=dict(type="Pretrained", checkpoint=...)')
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(init_cfg=init_cfg)

    @property
    def _name(self) -> str:
        return type(self).__name__

    @property
    def num_stages(self) -> int:
        return len(self.strides)

    # Arguments.
    def parse_arch(self, arch: Union[str, dict]) -> dict:
        """The arch dict of a zoo name or alias, or a checked copy of
        ``arch``."""
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(
                    f'{self._name}: unknown arch {arch!r}; choose one of '
                    f'{sorted(self.arch_zoo)} or pass a dict with keys '
                    f'{list(self.arch_keys)}')
            return self.arch_zoo[arch.lower()]
        if not isinstance(arch, dict):
            raise TypeError(f'{self._name}: arch must be a name or a dict, '
                            f'got {type(arch).__name__}')
        missing = [k for k in self.arch_keys if k not in arch]
        extra = sorted(set(arch) - set(self.arch_keys))
        if missing or extra:
            raise ValueError(f'{self._name}: arch dict needs exactly the keys '
                             f'{list(self.arch_keys)}; missing {missing}, '
                             f'unexpected {extra}')
        arch = {k: list(arch[k]) for k in self.arch_keys}
        lengths = {k: len(v) for k, v in arch.items()}
        if 0 in lengths.values() or len(set(lengths.values())) != 1:
            raise ValueError(f'{self._name}: arch entries need one value per '
                             f'stage, got lengths {lengths}')
        self._check_arch(arch)
        return arch

    def _check_arch(self, arch: dict) -> None:
        """Raise a ValueError for an arch dict this backbone cannot build.

        The default checks ``embed_dims`` against ``num_heads`` where the
        arch has both.
        """
        if 'embed_dims' not in arch or 'num_heads' not in arch:
            return
        for i, (dims, heads) in enumerate(
                zip(arch['embed_dims'], arch['num_heads'])):
            if heads < 1 or dims % heads:
                raise ValueError(f'{self._name}: stage {i} embed_dims {dims} '
                                 f'is not divisible by num_heads {heads}')

    def check_out_indices(self, out_indices: Union[int, Sequence[int]],
                          num_stages: int) -> List[int]:
        """Sorted, non-negative stage indices."""
        if isinstance(out_indices, int):
            out_indices = [out_indices]
        if not isinstance(out_indices, Sequence) or not out_indices:
            raise TypeError(f'{self._name}: out_indices must be an int or a '
                            f'non-empty sequence, got {out_indices!r}')
        checked = []
        for index in out_indices:
            if not isinstance(index,
                              int) or not (-num_stages <= index < num_stages):
                raise ValueError(
                    f'{self._name}: out_indices {tuple(out_indices)} has '
                    f'{index!r}, outside the {num_stages} stages')
            checked.append(index % num_stages)
        return sorted(set(checked))

    def check_frozen_stages(self, frozen_stages: int, num_stages: int) -> int:
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'{self._name}: frozen_stages must be in [-1, '
                             f'{num_stages}], got {frozen_stages}')
        return frozen_stages

    def check_drop_path_rate(self, drop_path_rate: float) -> float:
        if not 0 <= drop_path_rate < 1:
            raise ValueError(f'{self._name}: drop_path_rate must be in [0, '
                             f'1), got {drop_path_rate}')
        return drop_path_rate

    # Weights.
    def init_weights(self) -> None:
        """Initialise as the release or with the initialisers ``init_cfg``
        names, such as ``Constant``; then load the checkpoint of a
        ``Pretrained`` entry; a dict and a list of dicts alike."""
        init_cfgs = self.init_cfg or []
        if isinstance(init_cfgs, dict):
            init_cfgs = [init_cfgs]
        pretrained = [c for c in init_cfgs if c.get('type') == 'Pretrained']
        others = [c for c in init_cfgs if c.get('type') != 'Pretrained']
        if len(pretrained) > 1:
            raise ValueError(f'{self._name}: init_cfg names more than one '
                             f'Pretrained checkpoint: {pretrained}')
        if others:
            initialize(self, others)
        else:
            self._init_released()
        for cfg in pretrained:
            state_dict = load_pretrained_state_dict(
                cfg['checkpoint'], prefix=cfg.get('prefix'))
            self.load_state_dict(
                self.transfer_state_dict(state_dict, cfg['checkpoint']),
                strict=False)
        self._is_init = True

    def _init_released(self) -> None:
        """The release's initialisation of every layer."""
        raise NotImplementedError

    def transfer_state_dict(self, state_dict: Dict[str, torch.Tensor],
                            source: str) -> Dict[str, torch.Tensor]:
        """The weights of ``state_dict`` this model takes; by default all of
        them, each checked: a missing, unexpected or mis-shaped key raises a
        ValueError that lists every one."""
        check_state_dict(state_dict, self, source)
        return state_dict

    # Freezing.
    def frozen_modules(self) -> List[nn.Module]:
        """The modules ``frozen_stages`` freezes: -1 none, 0 the stem, k >= 1
        the stem and stages 1..k with everything they own."""
        raise NotImplementedError

    def _freeze_stages(self) -> None:
        for module in self.frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'MultiStageBackbone':
        """Set train mode, keeping frozen stages in eval mode and, with
        ``norm_eval``, every BatchNorm on its running statistics."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    # Forward.
    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f'{self._name} expects a batch of images (B, C, '
                             f'H, W), got a tensor of shape {tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f'{self._name} was built for {self.in_channels} input '
                f'channels, got {x.shape[1]} (input shape {tuple(x.shape)})')
        height, width = x.shape[2:]
        if min(height, width) < self.min_input_size:
            raise ValueError(
                f'{self._name} needs inputs of at least '
                f'{self.min_input_size}x{self.min_input_size} pixels, got '
                f'{height}x{width}')

    def stage_outputs(self,
                      x: torch.Tensor,
                      last: Optional[int] = None) -> List[torch.Tensor]:
        """Check the input and return the NCHW output of every stage up to
        ``last`` (all by default); they may be non-contiguous views."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """The NCHW feature maps of ``out_indices``."""
        maps = self.stage_outputs(x, last=self.out_indices[-1])
        return tuple(maps[i].contiguous() for i in self.out_indices)
