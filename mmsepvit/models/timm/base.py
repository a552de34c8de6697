# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""mmsepvit's backbones under timm's model interface: one wrapper, one
checkpoint filter and one create function for every family; a family
module only describes itself with a :class:`TimmFamily`.

A timm model here is a :class:`MultiStageBackbone` under ``backbone.`` and
a head under ``head.``. For the families whose mmpretrain classifier is
``GlobalAveragePooling`` + ``LinearClsHead``, the head is timm's
``ClassifierHead``: its linear layer is ``head.fc``, the key of
``LinearClsHead``, so our mmpretrain checkpoints load strictly and give the
same logits. A family may bring its own head module instead (see
:class:`TimmFamily`).

Two layouts: the classifier entries (``timm.create_model('msg_tiny')``)
build the backbone as the released ImageNet classifier has it;
``features_only=True`` builds the dense backbone of the detection and
segmentation configs. A classifier checkpoint starts the dense layout
through the backbone's ``transfer_state_dict``.
"""
import dataclasses
import inspect
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from timm.layers import ClassifierHead
from timm.models import (build_model_with_cfg, generate_default_cfgs,
                         register_model, resolve_pretrained_cfg)
from timm.models._features import feature_take_indices

from mmsepvit.models.backbones import MultiStageBackbone
from mmsepvit.utils import (check_state_dict, extract_state_dict,
                            load_local_checkpoint)

LAYOUTS = ('classifier', 'dense')
StateDict = Dict[str, torch.Tensor]


def embed_dims(backbone: MultiStageBackbone) -> List[int]:
    """Stage channels of a backbone with ``arch_settings['embed_dims']``."""
    return list(backbone.arch_settings['embed_dims'])


@dataclasses.dataclass(frozen=True)
class TimmFamily:
    """How one backbone family becomes timm entries.

    Args:
        prefix: Entry names are ``f'{prefix}_{variant}'``.
        name: The family in messages; the timm model class is
            ``f'Timm{name}'``.
        backbone: The :class:`MultiStageBackbone` subclass.
        variants: Arch names of the zoo, one entry each.
        classifier_kwargs: Backbone keyword arguments of the released
            ImageNet classifier, e.g. ``dict(out_indices=(3, ))``.
        dense_kwargs: Those of the dense backbone (``features_only``).
        default_cfg: timm's pretrained cfg of every entry: ``input_size``,
            ``pool_size``, ``crop_pct``, ``interpolation``, ``mean``,
            ``std``, ``first_conv``, ``license``, ``paper_ids``,
            ``paper_name`` (``num_classes=1000`` and ``classifier='head.fc'``
            are added).
        fixed_input_size: The classifier backbone takes a fixed ``img_size``
            (passed to it); otherwise it takes any size and ``img_size`` is
            refused.
        stage_channels: The output channels of each stage of a built
            backbone.
        head: None for timm's ``ClassifierHead`` (global pooling, dropout,
            ``fc``), or ``head(num_features, num_classes, drop_rate)``
            giving an mmpretrain-style head: ``forward(feats)`` (logits) and
            ``pre_logits(feats)`` on the tuple ``(last stage map, )``, and
            its classifier as the linear layer ``fc``. Used by the
            classifier layout only.
        prune: ``prune(backbone, last)`` deletes what computes stages after
            ``last`` (and their norms), for timm's
            ``prune_intermediate_layers``. None keeps every module and
            stops the forward early instead.
    """
    prefix: str
    name: str
    backbone: type
    variants: Sequence[str]
    classifier_kwargs: Dict[str, Any]
    dense_kwargs: Dict[str, Any]
    default_cfg: Dict[str, Any]
    fixed_input_size: bool = False
    stage_channels: Callable[[MultiStageBackbone], List[int]] = embed_dims
    head: Optional[Callable[[int, int, float], nn.Module]] = None
    prune: Optional[Callable[[MultiStageBackbone, int], None]] = None

    def entry(self, variant: str) -> str:
        return f'{self.prefix}_{variant}'

    def num_stages(self, arch: Any) -> int:
        """Stages of a zoo name or arch dict (4 when it cannot tell: the
        backbone then names the problem)."""
        if isinstance(arch, str):
            arch = self.backbone.arch_zoo.get(arch.lower(), {})
        lengths = [
            len(v) for v in arch.values() if isinstance(v, (list, tuple))
        ] if isinstance(arch, dict) else []
        return lengths[0] if lengths else 4


class TimmBackboneModel(nn.Module):
    """A :class:`MultiStageBackbone` with timm's model interface; subclassed
    once per family (``family`` set) by :func:`register_family`.

    Args:
        arch (str | dict): The backbone's ``arch``.
        layout (str): 'classifier' (the released ImageNet classifier's
            backbone) or 'dense' (that of the detection and segmentation
            configs). Defaults to 'classifier'.
        in_chans (int): Input channels. Defaults to 3.
        num_classes (int): Classes of the head; 0 leaves no classifier.
        global_pool (str): timm's pooling before the classifier, 'avg' as
            mmpretrain's ``GlobalAveragePooling``; '' for none.
        img_size (int | tuple, optional): The input size of a family with a
            fixed-size classifier; refused by the others and by the dense
            layout.
        drop_rate (float): Dropout before the classifier (timm's meaning).
        proj_drop_rate (float): The backbone's ``drop_rate`` (after its
            projections).
        attn_drop_rate (float): Dropout on attention weights.
        drop_path_rate (float): Stochastic depth, as the backbone's.
    """
    family: TimmFamily

    def __init__(self,
                 arch: Any = 'tiny',
                 layout: str = 'classifier',
                 in_chans: int = 3,
                 num_classes: int = 1000,
                 global_pool: str = 'avg',
                 img_size: Optional[Any] = None,
                 drop_rate: float = 0.,
                 proj_drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.) -> None:
        super().__init__()
        family = self.family
        if layout not in LAYOUTS:
            raise ValueError(f'{family.name}: unknown layout {layout!r}; '
                             f'choose one of {list(LAYOUTS)}')
        classifier = layout == 'classifier'
        kwargs = dict(in_channels=in_chans, drop_path_rate=drop_path_rate)
        # Not every backbone has dropout: asked for, it must exist.
        for name, rate in (('drop_rate', proj_drop_rate), ('attn_drop_rate',
                                                           attn_drop_rate)):
            if rate:
                if name not in inspect.signature(family.backbone).parameters:
                    raise ValueError(f'{family.name} has no {name}')
                kwargs[name] = rate
        if img_size is not None:
            if not (classifier and family.fixed_input_size):
                raise ValueError(
                    f'{family.name}: img_size applies to the classifier of a '
                    'fixed input size only; this model takes any input size')
            kwargs['img_size'] = img_size
        kwargs.update(
            family.classifier_kwargs if classifier else family.dense_kwargs)
        self.layout = layout
        self.backbone = family.backbone(arch, **kwargs)
        self.backbone.init_weights()
        channels = list(family.stage_channels(self.backbone))
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.num_features = self.head_hidden_size = channels[-1]
        self.feature_info = [
            dict(num_chs=c, reduction=s, module=f'backbone.stages.{i}')
            for i, (c, s) in enumerate(zip(channels, self.backbone.strides))
        ]
        # Stages computed: all until prune_intermediate_layers.
        self.num_stages = self.backbone.num_stages
        self._traits = dict(
            fixed_input_size=family.fixed_input_size and classifier)
        self._timm_head = family.head is None or not classifier
        if self._timm_head:
            self.head = ClassifierHead(
                self.num_features,
                num_classes,
                global_pool,
                drop_rate=drop_rate)
        else:
            self.head = family.head(self.num_features, max(num_classes, 1),
                                    drop_rate)
            if num_classes == 0:
                self.head.fc = nn.Identity()
        if num_classes > 0:
            self._init_fc(self.head.fc)

    @staticmethod
    def _init_fc(fc: nn.Linear) -> None:
        nn.init.trunc_normal_(fc.weight, std=.02)
        nn.init.zeros_(fc.bias)

    @property
    def _name(self) -> str:
        return self.family.name

    @torch.jit.ignore
    def no_weight_decay(self) -> Set[str]:
        """None by name: timm's optimiser factory already spares the norms
        and biases (1-D); tokens and tables follow the family's config."""
        return set()

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block in backward: the ``with_cp`` of every
        backbone module that has one."""
        for module in self.backbone.modules():
            if hasattr(module, 'with_cp'):
                module.with_cp = enable

    @torch.jit.ignore
    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self,
                         num_classes: int,
                         global_pool: Optional[str] = None) -> None:
        """A new classifier of ``num_classes`` (0: none). A family's own
        head keeps its pooling; ``global_pool`` applies to timm's."""
        self.num_classes = num_classes
        if self._timm_head:
            self.head.reset(num_classes, pool_type=global_pool)
            if num_classes > 0:
                self._init_fc(self.head.fc)
            return
        fc = nn.Linear(self.num_features,
                       num_classes) if num_classes else (nn.Identity())
        if num_classes:
            self._init_fc(fc)
        self.head.fc = fc
        if hasattr(self.head, 'num_classes'):
            self.head.num_classes = num_classes

    def forward_features(self, x: torch.Tensor) -> Any:
        """The last stage's NCHW map; for a family's own (mmpretrain-style)
        head, the backbone's outputs as that head takes them."""
        if not self._timm_head:
            return self.backbone(x)
        return self.backbone.stage_outputs(x, self.num_stages - 1)[-1]

    def forward_head(self,
                     x: torch.Tensor,
                     pre_logits: bool = False) -> torch.Tensor:
        if self._timm_head:
            return self.head(x, pre_logits=pre_logits)
        # mmpretrain's heads take the tuple of the backbone's outputs.
        if pre_logits:
            return self.head.pre_logits(x)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self,
                              x: torch.Tensor,
                              indices: Optional[Any] = None,
                              norm: bool = False,
                              stop_early: bool = False,
                              output_fmt: str = 'NCHW',
                              intermediates_only: bool = False) -> Any:
        """Stage maps (NCHW) as timm's models give them.

        Args:
            indices: The last n stages for an int, all for None, else those
                listed.
            norm: Accepted for timm's interface; each map is as the layout
                computes it (the dense layouts' norms, the classifier's
                final norm on the last stage).
            stop_early: Run no stage after the last one asked for.

        Returns:
            The maps, or the last computed map and the maps.
        """
        if output_fmt != 'NCHW':
            raise ValueError(f'{self._name}: forward_intermediates gives NCHW '
                             f'maps, not {output_fmt!r}')
        take_indices, last = self._take_indices(indices)
        last = last if stop_early else self.num_stages - 1
        maps = self.backbone.stage_outputs(x, last)
        intermediates = [maps[i] for i in take_indices]
        return intermediates if intermediates_only else (maps[-1],
                                                         intermediates)

    def prune_intermediate_layers(self,
                                  indices: Any = 1,
                                  prune_norm: bool = False,
                                  prune_head: bool = True) -> List[int]:
        """Compute no stage after the last of ``indices`` (and drop the
        head), as timm's feature extraction asks: the family's ``prune``
        deletes their modules; without one they stay, unused."""
        take_indices, last = self._take_indices(indices)
        if self.family.prune is not None:
            self.family.prune(self.backbone, last)
        self.num_stages = last + 1
        self.backbone.out_indices = sorted(set(take_indices))
        if prune_head or last < len(self.feature_info) - 1:
            self.num_features = self.feature_info[last]['num_chs']
            if self._timm_head:
                self.head.reset(0, '', in_features=self.num_features)
                self.num_classes = 0
            else:
                self.head = ClassifierHead(self.num_features, 0, '')
                self._timm_head, self.num_classes = True, 0
        return take_indices

    def _take_indices(self, indices) -> Tuple[List[int], int]:
        """timm's stage indices (an int n: the last n), checked."""
        num = self.num_stages
        if isinstance(indices, int):
            valid = 1 <= indices <= num
        else:
            valid = indices is None or all(-num <= i < num for i in indices)
        if not valid:
            raise ValueError(
                f'{self._name}: out_indices {indices!r} asks for a stage it '
                f'does not have: it has {num}, 0 to {num - 1} (an int n '
                'means the last n)')
        return feature_take_indices(num, indices)

    def load_pretrained(self, filename: str) -> None:
        """Load a local checkpoint with mmsepvit's weights-only loader, checked
        by :func:`checkpoint_filter_fn`."""
        state_dict = extract_state_dict(
            load_local_checkpoint(filename, map_location='cpu'), filename)
        self.load_state_dict(
            checkpoint_filter_fn(state_dict, self, filename), strict=True)


def _is_fc(key: str) -> bool:
    return key.startswith('head.fc.')


def checkpoint_filter_fn(state_dict: StateDict,
                         model: TimmBackboneModel,
                         source: str = 'the pretrained weights') -> StateDict:
    """The complete state dict of ``model`` from a checkpoint with
    mmpretrain's keys (``backbone.``, ``head.``).

    The backbone goes through its ``transfer_state_dict``: the same layout
    loads whole, another layout carries what the backbone says it shares.
    The head loads where it fits; a classifier (``head.fc``) of another class
    count, or none (a dense checkpoint), leaves this model's initialised
    (logged), and a model without a head drops it.

    Raises:
        ValueError: Another model's weights, naming every missing, unexpected
            and mis-shaped key; or the backbone's own diagnosis (e.g. a
            released checkpoint to convert first).
    """
    backbone = {
        k[len('backbone.'):]: v
        for k, v in state_dict.items() if k.startswith('backbone.')
    }
    head = {k: v for k, v in state_dict.items() if k.startswith('head.')}
    if not backbone:
        try:  # a bare backbone: its own checks may know the format
            model.backbone.transfer_state_dict(state_dict, source)
        except ValueError as error:
            if 'does not fit' not in str(error):
                raise
    if not backbone or len(backbone) + len(head) < len(state_dict):
        check_state_dict(state_dict, model, source)
    try:
        fits = model.backbone.transfer_state_dict(backbone, source)
    except ValueError:  # name every key at fault, head included
        check_state_dict(state_dict, model, source)
        raise
    own = model.state_dict()
    loaded = {f'backbone.{k}': v for k, v in fits.items()}
    own_head = {k: v.shape for k, v in own.items() if k.startswith('head.')}
    head_shapes = {k: v.shape for k, v in head.items()}
    if head_shapes == own_head:
        loaded.update(head)
    elif own_head:
        # Only the classifier may differ (class count, or none saved).
        body = {k: s for k, s in own_head.items() if not _is_fc(k)}
        saved_body = {k: s for k, s in head_shapes.items() if not _is_fc(k)}
        weight = head.get('head.fc.weight')
        own_weight = own_head.get('head.fc.weight')
        if (saved_body and saved_body
                != body) or (weight is not None and own_weight is not None
                             and weight.shape[1:] != own_weight[1:]):
            check_state_dict(state_dict, model, source)
        loaded.update({k: v for k, v in head.items() if not _is_fc(k)})
        found = tuple(weight.shape) if weight is not None else 'none'
        mine = tuple(own_weight) if own_weight is not None else 'none'
        MMLogger.get_current_instance().warning(
            f'{model.family.name}: the classifier of {source} ({found}) does '
            f"not fit this model's ({mine}); it starts from initialisation")
    return {**own, **loaded}


def create_timm_model(family: TimmFamily,
                      model_cls: type,
                      variant: str,
                      pretrained: bool = False,
                      **kwargs) -> nn.Module:
    """timm's ``build_model_with_cfg`` for an entry of ``family``:
    ``features_only`` builds the dense layout; ``pretrained`` takes a local
    file (``pretrained_cfg_overlay=dict(file=PATH)``) read by mmsepvit's
    checked loader."""
    name = family.name
    features_only = kwargs.get('features_only', False)
    kwargs.setdefault('arch', variant[len(family.prefix) + 1:])
    if features_only:
        if 'img_size' in kwargs:
            raise ValueError(
                f'{name}: features_only builds the dense layout, which takes '
                'any input size; img_size applies to the classifier only')
        kwargs.update(num_classes=0, layout='dense')
    if pretrained:
        in_chans = kwargs.get('in_chans', 3)
        if in_chans != 3:
            raise ValueError(
                f'{name}: pretrained weights take 3 input channels (RGB), '
                f'not in_chans={in_chans}; build with pretrained=False, or '
                'adapt the first convolution of the checkpoint yourself')
        cfg = resolve_pretrained_cfg(variant, kwargs.get('pretrained_cfg'),
                                     kwargs.get('pretrained_cfg_overlay'))
        if not (cfg.file or cfg.state_dict or cfg.url or cfg.hf_hub_id):
            raise ValueError(
                f'{name}: no weights are published for {variant}; give a '
                'local checkpoint with pretrained_cfg_overlay=dict('
                'file=PATH) (see docs/timm_and_transformers.md)')
        # Local files are read by mmsepvit's checked loader, not timm's.
        kwargs['pretrained_cfg_overlay'] = dict(
            kwargs.get('pretrained_cfg_overlay') or {}, custom_load=True)
    stages = tuple(range(family.num_stages(kwargs['arch'])))
    return build_model_with_cfg(
        model_cls,
        variant,
        pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(feature_cls='getter', out_indices=stages),
        kwargs_filter=('img_size', ) if features_only else None,
        **kwargs)


def register_family(family: TimmFamily,
                    module: str) -> Dict[str, Callable[..., nn.Module]]:
    """Register the entries of ``family`` in timm, with the pretrained cfgs
    of ``module``'s ``default_cfgs`` (see :func:`family_default_cfgs`).

    Returns:
        The timm model class (``f'Timm{family.name}'``) and the entry
        functions, by name, for the family module's namespace.
    """
    model_cls = type(f'Timm{family.name}', (TimmBackboneModel, ),
                     dict(family=family, __module__=module))
    if 'default_cfgs' not in vars(sys.modules[module]):
        raise RuntimeError(f'{module} must define default_cfgs before it '
                           'registers its entries')
    names = {model_cls.__name__: model_cls}
    for variant in family.variants:
        entry = _entry(family, model_cls, family.entry(variant))
        entry.__module__ = module
        names[entry.__name__] = register_model(entry)
    return names


def _entry(family: TimmFamily, model_cls: type,
           variant: str) -> Callable[..., nn.Module]:
    """timm's entry function ``variant(pretrained=False, **kwargs)``."""

    def entry(pretrained: bool = False, **kwargs) -> nn.Module:
        return create_timm_model(family, model_cls, variant, pretrained,
                                 **kwargs)

    entry.__name__ = entry.__qualname__ = variant
    return entry


def family_default_cfgs(family: TimmFamily) -> Dict[str, Any]:
    """timm's ``default_cfgs`` of every entry of ``family``."""
    cfg = dict(num_classes=1000, classifier='head.fc', **family.default_cfg)
    cfg.setdefault('fixed_input_size', family.fixed_input_size)
    return generate_default_cfgs(
        {family.entry(variant): dict(cfg)
         for variant in family.variants})
