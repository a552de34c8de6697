# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The exportable model: a classifier's, detector's or segmentor's tensor
forward on a preprocessed batch, as a flat tuple of named tensors.

- detector: backbone, neck and head outputs before box decoding and NMS,
  flattened level by level (``cls_score_0``, ..., ``bbox_pred_0``, ...). A
  two-stage detector gives its neck features (``feat_0``, ...) and the RPN's
  outputs (``rpn_cls_score_0``, ...): its RoI head runs on proposals after
  NMS, which stays outside the graph;
- segmentor: the decode head's logits (``seg_logits``);
- classifier: the head's logits and scores (``cls_score``, ``pred_score``);
- any other module whose forward takes one image batch and returns tensors
  (a backbone): ``output_0``, ``output_1``, ...
"""
import copy
import inspect
import logging
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmsepvit.utils import (check_state_dict, extract_state_dict,
                            load_local_checkpoint)
from mmsepvit.utils.codebases import codebase_of


def _flatten(outputs, prefix: str, names: List[str],
             tensors: List[torch.Tensor]) -> None:
    """Append the tensors of nested tuples and lists, named ``prefix_i`` by
    their position in the innermost list."""
    if torch.is_tensor(outputs):
        names.append(prefix)
        tensors.append(outputs)
    elif isinstance(outputs, (tuple, list)):
        if all(torch.is_tensor(o) for o in outputs) and len(outputs):
            names.extend(f'{prefix}_{i}' for i in range(len(outputs)))
            tensors.extend(outputs)
        else:
            for i, item in enumerate(outputs):
                _flatten(item, f'{prefix}_{i}', names, tensors)
    else:
        raise TypeError(f'cannot export an output of type '
                        f'{type(outputs).__name__} ({prefix}); only tensors '
                        'and tuples or lists of them')


def _head_output_names(head: nn.Module, count: int) -> List[str]:
    """Names of a dense head's outputs: the parameters of its
    ``predict_by_feat`` (``cls_scores`` -> ``cls_score``), or ``output_i``."""
    params = [
        p for p in inspect.signature(head.predict_by_feat).parameters
        if p != 'self'
    ] if hasattr(head, 'predict_by_feat') else []
    return [
        params[i][:-1] if i < len(params) and params[i].endswith('s') else
        (params[i] if i < len(params) else f'output_{i}') for i in range(count)
    ]


class TensorOutputs(nn.Module):
    """The tensor forward of a model as a flat tuple of named tensors.

    ``forward(inputs)`` takes one (N, 3, H, W) batch; after a call,
    ``output_names`` names each returned tensor. ``task`` is 'detector',
    'segmentor', 'classifier' or 'module'.
    """

    def __init__(self, model: nn.Module, task: str = 'module') -> None:
        super().__init__()
        self.model = model
        self.task = task
        self.output_names: List[str] = []

    def _raw(self, inputs: torch.Tensor):
        model = self.model
        if self.task == 'segmentor':
            return [('seg_logits', model._forward(inputs))]
        if self.task == 'classifier':
            scores = model(inputs, mode='tensor')
            if not getattr(model, 'with_head', False):
                return [('feat', scores)]
            from mmpretrain.models.heads import MultiLabelClsHead
            probs = (
                torch.sigmoid(scores)
                if isinstance(model.head, MultiLabelClsHead) else F.softmax(
                    scores, dim=1))
            return [('cls_score', scores), ('pred_score', probs)]
        if self.task == 'detector':
            from mmdet.models.detectors import (SingleStageDetector,
                                                TwoStageDetector)
            if isinstance(model, SingleStageDetector):
                head = model.bbox_head
                outs = model._forward(inputs)
                return list(zip(_head_output_names(head, len(outs)), outs))
            if isinstance(model, TwoStageDetector) and model.with_rpn:
                feats = model.extract_feat(inputs)
                outs = model.rpn_head(feats)
                names = _head_output_names(model.rpn_head, len(outs))
                return [('feat', feats)] + [('rpn_' + name, out)
                                            for name, out in zip(names, outs)]
            raise TypeError(
                f'cannot export a {type(model).__name__}: single-stage '
                'detectors and two-stage detectors with an RPN are supported')
        return [('output', model(inputs))]

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        names: List[str] = []
        tensors: List[torch.Tensor] = []
        for prefix, outputs in self._raw(inputs):
            _flatten(outputs, prefix, names, tensors)
        self.output_names = names
        return tuple(tensors)


def as_tensor_outputs(model: nn.Module) -> TensorOutputs:
    """``model`` itself if it is a :class:`TensorOutputs`, else wrapped as
    a plain module (outputs ``output_i``) in eval mode."""
    if isinstance(model, TensorOutputs):
        return model
    return TensorOutputs(model).eval()


def load_config(config: Union[str, Config]) -> Config:
    """Read a config (a path or a :class:`Config`) that has a ``model``."""
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    source = cfg.filename or 'the config'
    if not isinstance(cfg.get('model'), dict):
        raise ValueError(
            f'{source} has no model: a config to export needs a `model` '
            'dict (a classifier, detector or segmentor)')
    return cfg


def _drop_pretrained(cfg: dict) -> None:
    """Remove ``Pretrained`` init_cfg entries (and ``pretrained``) from a
    model config and its parts, so building needs no checkpoint file."""
    if not isinstance(cfg, dict):
        return
    cfg.pop('pretrained', None)
    init_cfg = cfg.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        cfg['init_cfg'] = None
    elif isinstance(init_cfg, list):
        cfg['init_cfg'] = [
            c for c in init_cfg
            if not (isinstance(c, dict) and c.get('type') == 'Pretrained')
        ] or None
    for value in cfg.values():
        if isinstance(value, dict):
            _drop_pretrained(value)


def _init_weights_quietly(model: nn.Module) -> None:
    """``model.init_weights()`` without a log line per initialised weight."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def build_model_for_export(config: Union[str, Config],
                           checkpoint: Optional[str] = None) -> TensorOutputs:
    """Build the model of a classifier, detector or segmentor config in eval
    mode, wrapped in :class:`TensorOutputs`.

    Args:
        config (str | Config): The config (file).
        checkpoint (str, optional): Weights to load strictly; a checkpoint of
            another model is an error naming every missing, unexpected and
            mis-shaped key. Without one the model keeps its initialisation
            (pre-trained backbone checkpoints of ``init_cfg`` are not read).

    Raises:
        ValueError: The config has no model, or a ``default_scope`` other
            than mmpretrain, mmdet or mmseg.
        TypeError: The model is not of its codebase's kind.
    """
    from mmengine.registry import MODELS, init_default_scope
    cfg = load_config(config)
    codebase = codebase_of(cfg, 'export')
    init_default_scope(codebase.scope)
    model_cfg = copy.deepcopy(cfg.model)
    _drop_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    if not isinstance(model, codebase.base()):
        raise TypeError(f'{cfg.filename}: {type(model).__name__} is no '
                        f'{codebase.scope} {codebase.task}')
    if checkpoint is None:
        _init_weights_quietly(model)
    else:
        state_dict = extract_state_dict(
            load_local_checkpoint(checkpoint, map_location='cpu'), checkpoint)
        check_state_dict(state_dict, model, checkpoint)
        model.load_state_dict(state_dict, strict=True)
    model.eval()  # some modules' train() returns None
    return TensorOutputs(model, codebase.task).eval()
