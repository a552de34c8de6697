# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""SepViT in timm: ``sepvit_lite``, ``sepvit_tiny``, ``sepvit_small`` and
``sepvit_base``, registered when ``import mmsepvit`` finds timm installed.

The timm model is the :class:`~mmsepvit.models.SepViT` backbone under
``backbone.`` and timm's ``ClassifierHead`` under ``head.``: the modules and
state-dict keys of the mmpretrain classifier of
``configs/sepvit_*_300e_in1k.py`` (``GlobalAveragePooling`` and
``LinearClsHead``, whose linear layer is ``head.fc``), so the same weights
give the same logits.

Two layouts, one per use:

- the classifier entries (``timm.create_model('sepvit_tiny')``) build the
  released ImageNet classifier: per-window tokens at a fixed ``img_size``
  (224), only the last stage normalised;
- ``features_only=True`` builds the released dense model, which takes any
  input of at least 32 pixels a side: zero window tokens and a LayerNorm
  after every stage. Classifier weights start it through
  :meth:`SepViT.transfer_state_dict`, which logs what the layouts do not
  share.

Weights are local files (``pretrained=True,
pretrained_cfg_overlay=dict(file=PATH)``): a checkpoint of our mmpretrain
configs or one converted by ``tools/model_converters/official2mmsepvit.py``,
read by :mod:`mmsepvit.utils.checkpoint` and checked key by key.
"""
from typing import Callable, Dict, List, Optional, Set, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from timm.layers import ClassifierHead
from timm.models import (build_model_with_cfg, generate_default_cfgs,
                         register_model, resolve_pretrained_cfg)
from timm.models._features import feature_take_indices

from mmsepvit.models.backbones import SepViT
from mmsepvit.utils import (check_state_dict, extract_state_dict,
                            load_local_checkpoint)

LAYOUTS = ('classifier', 'dense')
HEAD_KEYS = ('head.fc.weight', 'head.fc.bias')


class TimmSepViT(nn.Module):
    """SepViT with timm's model interface.

    Args:
        arch (str | dict): As :class:`SepViT`'s.
        layout (str): 'classifier' (per-window tokens at ``img_size``, a final
            norm) or 'dense' (zero tokens, a norm after every stage, any input
            size). Defaults to 'classifier'.
        in_chans (int): Input channels. Defaults to 3.
        num_classes (int): Classes of the head; 0 leaves no classifier.
        global_pool (str): timm's pooling before the classifier, 'avg' as
            mmpretrain's ``GlobalAveragePooling``; '' for none.
        img_size (int | tuple): Input size of the classifier layout; the dense
            layout takes none.
        drop_rate (float): Dropout before the classifier (timm's meaning).
        proj_drop_rate (float): SepViT's dropout after its projections.
        attn_drop_rate (float): Dropout on attention weights.
        drop_path_rate (float): Stochastic depth, as SepViT's.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'tiny',
                 layout: str = 'classifier',
                 in_chans: int = 3,
                 num_classes: int = 1000,
                 global_pool: str = 'avg',
                 img_size: Optional[Union[int, Tuple[int, int]]] = 224,
                 drop_rate: float = 0.,
                 proj_drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.) -> None:
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f'SepViT: unknown layout {layout!r}; choose one '
                             f'of {list(LAYOUTS)}')
        classifier = layout == 'classifier'
        self.layout = layout
        self.backbone = SepViT(
            arch,
            in_channels=in_chans,
            window_token='per_window' if classifier else 'zero',
            img_size=img_size if classifier else None,
            stage_norm=not classifier,
            drop_rate=proj_drop_rate,
            attn_drop_rate=attn_drop_rate,
            drop_path_rate=drop_path_rate,
            out_indices=-1)
        self.backbone.init_weights()
        embed_dims = self.backbone.arch_settings['embed_dims']
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_features = self.head_hidden_size = embed_dims[-1]
        self.feature_info = [
            dict(
                num_chs=embed_dims[i],
                reduction=stride,
                module=f'backbone.stages.{i}')
            for i, stride in enumerate(self.backbone.strides)
        ]
        self._traits = dict(fixed_input_size=classifier)
        self.head = ClassifierHead(
            self.num_features, num_classes, global_pool, drop_rate=drop_rate)
        if num_classes > 0:
            nn.init.trunc_normal_(self.head.fc.weight, std=.02)
            nn.init.zeros_(self.head.fc.bias)

    @torch.jit.ignore
    def no_weight_decay(self) -> Set[str]:
        """None by name: timm's optimiser factory already spares the norms
        and biases (1-D), and window tokens are decayed, as released and as
        ``configs/sepvit_*_300e_in1k.py`` do."""
        return set()

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block in backward (SepViT's ``with_cp``)."""
        for stage in self.backbone.stages:
            for block in stage.blocks:
                block.with_cp = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self,
                         num_classes: int,
                         global_pool: Optional[str] = None) -> None:
        self.num_classes = num_classes
        self.head.reset(num_classes, pool_type=global_pool)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's normalised NCHW map."""
        return self.backbone.stage_outputs(x)[-1]

    def forward_head(self,
                     x: torch.Tensor,
                     pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = 'NCHW',
        intermediates_only: bool = False
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Stage maps (NCHW) as timm's models give them.

        Args:
            indices: The last n stages for an int, all for None, else those
                listed.
            norm: Accepted for timm's interface; each map is as the layout
                computes it: normalised in the dense layout, and in the
                classifier layout the last stage alone.
            stop_early: Run no stage after the last one asked for.

        Returns:
            The maps, or the last computed map and the maps.
        """
        if output_fmt != 'NCHW':
            raise ValueError('SepViT: forward_intermediates gives NCHW maps, '
                             f'not {output_fmt!r}')
        take_indices, last = self._take_indices(indices)
        maps = self.backbone.stage_outputs(x, last if stop_early else None)
        intermediates = [maps[i] for i in take_indices]
        return intermediates if intermediates_only else (maps[-1],
                                                         intermediates)

    def prune_intermediate_layers(self,
                                  indices: Union[int, List[int]] = 1,
                                  prune_norm: bool = False,
                                  prune_head: bool = True) -> List[int]:
        """Drop the stages after the last of ``indices`` (and the head), as
        timm's feature extraction asks; a stage's norm stays with it."""
        take_indices, last = self._take_indices(indices)
        backbone = self.backbone
        for i in range(last + 1, len(backbone.stages)):
            if hasattr(backbone, f'norm{i}'):
                delattr(backbone, f'norm{i}')
        backbone.stages = backbone.stages[:last + 1]
        backbone.out_indices = sorted(set(take_indices))
        if prune_head or last < len(self.feature_info) - 1:
            self.num_features = self.feature_info[last]['num_chs']
            self.reset_classifier(0, '')
        return take_indices

    def _take_indices(self, indices) -> Tuple[List[int], int]:
        """timm's stage indices (an int n: the last n), checked."""
        num = len(self.backbone.stages)
        if isinstance(indices, int):
            valid = 1 <= indices <= num
        else:
            valid = indices is None or all(-num <= i < num for i in indices)
        if not valid:
            raise ValueError(
                f'SepViT: out_indices {indices!r} asks for a stage it does '
                f'not have: it has {num}, 0 to {num - 1} (an int n means '
                'the last n)')
        return feature_take_indices(num, indices)

    def load_pretrained(self, filename: str) -> None:
        """Load a local checkpoint with mmsepvit's weights-only loader, checked
        by :func:`checkpoint_filter_fn`."""
        state_dict = extract_state_dict(
            load_local_checkpoint(filename, map_location='cpu'), filename)
        self.load_state_dict(
            checkpoint_filter_fn(state_dict, self, filename), strict=True)


def checkpoint_filter_fn(
        state_dict: Dict[str, torch.Tensor],
        model: TimmSepViT,
        source: str = 'the pretrained weights') -> Dict[str, torch.Tensor]:
    """The complete state dict of ``model`` from a SepViT checkpoint with
    mmpretrain's keys (``backbone.``, ``head.fc.``).

    The backbone goes through :meth:`SepViT.transfer_state_dict`: the same
    layout loads whole, the other layout carries every weight the two share
    and logs the rest. The head loads where it fits; a head of another class
    count, or none (a dense checkpoint), leaves this model's initialised
    (logged), and a model without a classifier drops it.

    Raises:
        ValueError: Another model's weights, naming every missing, unexpected
            and mis-shaped key.
    """
    backbone = {
        k[len('backbone.'):]: v
        for k, v in state_dict.items() if k.startswith('backbone.')
    }
    head = {k: v for k, v in state_dict.items() if k in HEAD_KEYS}
    if not backbone or len(backbone) + len(head) < len(state_dict):
        check_state_dict(state_dict, model, source)
    try:
        fits = model.backbone.transfer_state_dict(backbone, source)
    except ValueError:  # not a layout difference: name every key at fault
        check_state_dict(state_dict, model, source)
        raise
    own = model.state_dict()
    loaded = {f'backbone.{k}': v for k, v in fits.items()}
    own_head = {k: own[k].shape for k in HEAD_KEYS if k in own}
    if own_head and {k: v.shape for k, v in head.items()} == own_head:
        loaded.update(head)
    elif own_head:
        weight = head.get('head.fc.weight')
        if weight is not None and weight.shape[1:] != own_head[
                'head.fc.weight'][1:]:
            check_state_dict(state_dict, model, source)
        found = tuple(weight.shape) if weight is not None else 'none'
        MMLogger.get_current_instance().warning(
            f'SepViT: the classifier of {source} ({found}) does not fit this '
            f"model's {tuple(own_head['head.fc.weight'])}; it starts from "
            'initialisation')
    return {**own, **loaded}


def _create_sepvit(variant: str,
                   pretrained: bool = False,
                   **kwargs) -> nn.Module:
    features_only = kwargs.get('features_only', False)
    kwargs.setdefault('arch', variant[len('sepvit_'):])
    if features_only:
        if 'img_size' in kwargs:
            raise ValueError(
                'SepViT: features_only builds the dense layout, which takes '
                'any input size; img_size applies to the classifier only')
        kwargs.update(num_classes=0, layout='dense')
    if pretrained:
        in_chans = kwargs.get('in_chans', 3)
        if in_chans != 3:
            raise ValueError(
                f'SepViT: pretrained weights take 3 input channels (RGB), '
                f'not in_chans={in_chans}; build with pretrained=False, or '
                'adapt the first convolution of the checkpoint yourself')
        cfg = resolve_pretrained_cfg(variant, kwargs.get('pretrained_cfg'),
                                     kwargs.get('pretrained_cfg_overlay'))
        if not (cfg.file or cfg.state_dict or cfg.url or cfg.hf_hub_id):
            raise ValueError(
                f'SepViT: no weights are published for {variant}; give a '
                'local checkpoint with pretrained_cfg_overlay=dict('
                'file=PATH) (see docs/timm_and_transformers.md)')
        # Local files are read by mmsepvit's checked loader, not timm's.
        kwargs['pretrained_cfg_overlay'] = dict(
            kwargs.get('pretrained_cfg_overlay') or {}, custom_load=True)
    return build_model_with_cfg(
        TimmSepViT,
        variant,
        pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(feature_cls='getter', out_indices=(0, 1, 2, 3)),
        kwargs_filter=('img_size', ) if features_only else None,
        **kwargs)


def _cfg() -> dict:
    """What ``configs/sepvit_*_300e_in1k.py`` use: 224x224 crops of a
    256 short edge (bicubic), ImageNet's mean and std."""
    return dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        fixed_input_size=True,
        crop_pct=224 / 256,
        interpolation='bicubic',
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        first_conv='backbone.stages.0.patch_embed.projection',
        classifier='head.fc',
        license='apache-2.0',
        paper_ids='arXiv:2203.15380',
        paper_name='SepViT: Separable Vision Transformer')


VARIANTS = ('lite', 'tiny', 'small', 'base')
default_cfgs = generate_default_cfgs(
    {f'sepvit_{arch}': _cfg()
     for arch in VARIANTS})


def _register(variant: str) -> Callable[..., nn.Module]:
    """timm's entry function ``variant(pretrained=False, **kwargs)``."""

    def entry(pretrained: bool = False, **kwargs) -> nn.Module:
        return _create_sepvit(variant, pretrained, **kwargs)

    entry.__name__ = entry.__qualname__ = variant
    return register_model(entry)


# sepvit_lite, sepvit_tiny, sepvit_small and sepvit_base, as module attributes.
for _arch in VARIANTS:
    globals()[f'sepvit_{_arch}'] = _register(f'sepvit_{_arch}')
