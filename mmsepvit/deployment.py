# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""ONNX export of classifiers, detectors and segmentors, run in ONNX Runtime
and OpenVINO and checked against PyTorch.

The exported graph is the model's tensor forward on preprocessed inputs (the
data preprocessor's normalised NCHW batch):

- detector: backbone, neck and head outputs before box decoding and NMS,
  flattened level by level (``cls_score_0``, ..., ``bbox_pred_0``, ...). A
  two-stage detector exports its neck features (``feat_0``, ...) and the RPN's
  outputs (``rpn_cls_score_0``, ...): its RoI head runs on proposals after
  NMS, which stays outside the graph;
- segmentor: the decode head's logits (``seg_logits``);
- classifier: the head's logits and scores (``cls_score``, ``pred_score``);
- any other module whose forward takes one image batch and returns tensors
  (a backbone): ``output_0``, ``output_1``, ...

Outputs are compared by relative error, ``max|a - b| / max|b|`` per output,
``b`` being PyTorch's. onnx, onnxscript, onnxruntime and openvino are the
optional ``[deploy]`` extra, imported only by the functions that need them.

A dynamic export (symbolic height and width) is traced at a size where every
SepViT stage has at least two windows per side, and the exported program is
run against the model at a larger and a smaller size before it is written, so
a size fixed while tracing is an error rather than a wrong file. Two
constructs of mmseg are rewritten for the export (same results): the
``Upsample`` module's ``int(side * scale)`` and ``nn.AdaptiveAvgPool2d``
(UperNet's pyramid pooling), whose decompositions fix sizes. The ONNX
translation itself is checked by running the file: :func:`export_and_check`
(tools/deployment/export_onnx.py) at two sizes.
"""
import contextlib
import copy
import importlib
import inspect
import logging
import os
import os.path as osp
import statistics
import sys
import time
import types
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import MMLogger

from mmsepvit.utils import (check_state_dict, extract_state_dict,
                            load_local_checkpoint)

MIN_INPUT_SIZE = 32
INSTALL_HINT = "pip install 'mmsepvit[deploy]'"
RUNTIMES = ('onnxruntime', 'openvino')
# How tools print each runtime (and PyTorch, the reference).
RUNTIME_NAMES = dict(
    pytorch='PyTorch', onnxruntime='ONNX Runtime', openvino='OpenVINO')
OPSET = 18
Shape = Tuple[int, int]
Arrays = List[np.ndarray]


class MissingDependencyError(ImportError):
    """An optional package of the ``[deploy]`` extra is not installed."""


class ParityError(RuntimeError):
    """An exported output differs from PyTorch's beyond the tolerance."""


def require(package: str):
    """Import ``package`` (onnx, onnxscript, onnxruntime or openvino), or
    raise :class:`MissingDependencyError` with the install command."""
    try:
        return importlib.import_module(package)
    except ImportError as e:
        raise MissingDependencyError(
            f'{package} is not installed: {INSTALL_HINT}') from e


def check_shape(shape: Sequence[int]) -> Shape:
    """``(height, width)`` as ints, each at least :data:`MIN_INPUT_SIZE`."""
    shape = tuple(shape)
    if len(shape) != 2 or not all(
            isinstance(s, (int, np.integer)) for s in shape):
        raise ValueError(f'input shape must be two integers (height, width), '
                         f'got {shape!r}')
    height, width = (int(s) for s in shape)
    if min(height, width) < MIN_INPUT_SIZE:
        raise ValueError(
            f'input shape {height}x{width} is under the {MIN_INPUT_SIZE}-'
            f'pixel minimum: SepViT needs at least {MIN_INPUT_SIZE}x'
            f'{MIN_INPUT_SIZE} pixels')
    return height, width


# ---------------------------------------------------------------------------
# Models: the tensor forward of classifiers, detectors and segmentors.
# ---------------------------------------------------------------------------


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


_TASKS = {
    'mmdet': ('mmdet.models.detectors', 'BaseDetector', 'detector'),
    'mmseg': ('mmseg.models.segmentors', 'BaseSegmentor', 'segmentor'),
    'mmpretrain':
    ('mmpretrain.models.classifiers', 'BaseClassifier', 'classifier'),
}


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
    """
    from mmengine.registry import MODELS, init_default_scope
    cfg = load_config(config)
    scope = cfg.get('default_scope')
    if scope not in _TASKS:
        raise ValueError(
            f'{cfg.filename or "the config"} has default_scope {scope!r}; '
            f'export supports {sorted(_TASKS)} (classifiers, detectors and '
            'segmentors)')
    module, base, task = _TASKS[scope]
    init_default_scope(scope)
    model_cfg = copy.deepcopy(cfg.model)
    _drop_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    if not isinstance(model, getattr(importlib.import_module(module), base)):
        raise TypeError(f'{cfg.filename}: {type(model).__name__} is no '
                        f'{scope} {task}')
    if checkpoint is None:
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)  # not a line per initialised weight
        try:
            model.init_weights()
        finally:
            logger.setLevel(level)
    else:
        state_dict = extract_state_dict(
            load_local_checkpoint(checkpoint, map_location='cpu'), checkpoint)
        check_state_dict(state_dict, model, checkpoint)
        model.load_state_dict(state_dict, strict=True)
    model.eval()  # some modules' train() returns None
    return TensorOutputs(model, task).eval()


# ---------------------------------------------------------------------------
# Export.
# ---------------------------------------------------------------------------


def _as_tensor_outputs(model: nn.Module) -> TensorOutputs:
    return model if isinstance(model,
                               TensorOutputs) else TensorOutputs(model).eval()


def example_input(shape: Shape, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A seeded standard-normal batch, like normalised images."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *shape, generator=generator)


def _least_trace_side(model: nn.Module) -> int:
    """The smallest side at which every SepViT stage of ``model`` has at
    least two windows."""
    from mmsepvit.models import SepViT
    least = MIN_INPUT_SIZE
    for module in model.modules():
        if isinstance(module, SepViT):
            for stage, sizes in enumerate(
                    module.arch_settings['window_sizes']):
                least = max(least, 4 * 2**stage * max(sizes) + 1)
    return least


def dynamic_trace_shape(model: nn.Module, shape: Shape) -> Shape:
    """The size at which a dynamic export is traced.

    The exporter reasons about sizes as if no window grid had a single
    window: a trace at a size where some stage of a SepViT backbone has one
    window per side would fix the graph to that size. The trace size is
    ``shape`` raised until every SepViT stage has at least two windows per
    side (more than 224 pixels for windows of 7 and 14 at strides 32 and
    16), with a margin of 16 for the check below it, and with height and
    width kept apart (equal sizes would be taken as one).
    """
    least = _least_trace_side(model) + 16
    height, width = (max(s, least) for s in shape)
    if height == width:
        width += MIN_INPUT_SIZE
    return height, width


def second_shape(shape: Shape) -> Shape:
    """Another height and width, both different from ``shape``'s (and at
    least 32), at which a dynamic export is checked: three quarters of each
    side plus 5, or the side plus 37 where that is too small."""
    other = []
    for side in shape:
        smaller = side * 3 // 4 + 5
        other.append(smaller if MIN_INPUT_SIZE <= smaller != side else side +
                     37)
    return tuple(other)


def _check_fixed_size(model: nn.Module) -> None:
    """A dynamic export needs a model that takes any size."""
    from mmsepvit.models import SepViT
    for module in model.modules():
        if isinstance(module, SepViT) and module.img_size is not None:
            height, width = module.img_size
            raise ValueError(
                "a SepViT with window_token='per_window' takes inputs of "
                f'exactly {height}x{width} only; export it without dynamic '
                'height and width, at that shape')


def _symbolic_dims(path: str) -> List[List[Union[int, str]]]:
    onnx = require('onnx')
    graph = onnx.load(path, load_external_data=False).graph
    return [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in graph.input]


def export_onnx(model: nn.Module,
                shape: Sequence[int],
                path: str,
                dynamic: bool = False,
                batch: int = 1,
                opset: int = OPSET) -> dict:
    """Export ``model`` (one image batch in, tensors out) to ONNX.

    Args:
        model (nn.Module): A :class:`TensorOutputs` of
            :func:`build_model_for_export`, or any module such as a backbone
            (its outputs are named ``output_i``).
        shape (tuple[int, int]): Input height and width, at least 32 each.
        path (str): The .onnx file to write (folders are made).
        dynamic (bool): Symbolic height and width: the file serves any input
            of at least 32 pixels per side. Traced at
            :func:`dynamic_trace_shape`.
        batch (int): The (fixed) batch size.
        opset (int): ONNX opset. Defaults to 18.

    Returns:
        dict: ``path``, ``seconds`` (export time), ``output_names``,
        ``input_name`` ('inputs'), ``trace_shape``, ``dynamic``.
    """
    shape = check_shape(shape)
    require('onnx')
    require('onnxscript')
    model = _as_tensor_outputs(model).eval()
    if dynamic:
        _check_fixed_size(model)
    trace_shape = dynamic_trace_shape(model, shape) if dynamic else shape
    example = example_input(trace_shape, batch)
    with torch.no_grad():
        model(example)  # names the outputs
    names = list(model.output_names)
    if len(set(names)) != len(names):
        raise ValueError(f'output names are not unique: {names}')
    start = time.perf_counter()
    with torch.no_grad(), _export_rewrites(model, dynamic):
        program = _export_program(model, example, dynamic)
        if dynamic:
            _check_program(model, program, trace_shape, batch, names)
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        torch.onnx.export(
            program,
            f=path,
            input_names=['inputs'],
            output_names=names,
            opset_version=opset,
            dynamo=True,
            external_data=False,
            verbose=False)
    seconds = time.perf_counter() - start
    if dynamic:
        dims = _symbolic_dims(path)[0]
        if not all(isinstance(d, str) for d in dims[2:]):
            raise RuntimeError(
                f'the dynamic export of {path} fixed the input to {dims}; '
                'height and width should be symbolic')
    return dict(
        path=path,
        seconds=seconds,
        output_names=names,
        input_name='inputs',
        trace_shape=trace_shape,
        dynamic=dynamic)


def _symbolic_upsample_forward(self, x: torch.Tensor) -> torch.Tensor:
    """mmseg's ``Upsample.forward`` with ``int(side * scale)`` written
    ``side * int(scale)`` for whole scales: the same sizes, but ``int()`` of
    a symbolic size would fix it to its value at the trace size."""
    from mmseg.models.utils import resize
    size = self.size
    if not size:
        scale = self.scale_factor
        size = [
            side * int(scale) if float(scale).is_integer() else int(side *
                                                                    scale)
            for side in x.shape[-2:]
        ]
    return resize(x, size, None, self.mode, self.align_corners)


def _symbolic_adaptive_avg_pool(self, x: torch.Tensor) -> torch.Tensor:
    """``nn.AdaptiveAvgPool2d`` as the mean of each bin, rows
    ``[floor(i * H / n), ceil((i + 1) * H / n))`` (PyTorch's bins), sliced
    at symbolic bounds. (PyTorch's decomposition gathers with indices sized
    at the trace size, which fail at smaller inputs, as in UperNet's pyramid
    pooling.)"""
    out_h, out_w = _pair(self.output_size, x.shape[-2:])
    height, width = x.shape[-2:]
    # Non-negative operands only: ONNX's integer division truncates.
    tops = [i * height // out_h for i in range(out_h)]
    bottoms = [((i + 1) * height + out_h - 1) // out_h for i in range(out_h)]
    lefts = [j * width // out_w for j in range(out_w)]
    rights = [((j + 1) * width + out_w - 1) // out_w for j in range(out_w)]
    return torch.stack([
        torch.stack([
            x[..., top:bottom, left:right].mean((-2, -1))
            for left, right in zip(lefts, rights)
        ], -1) for top, bottom in zip(tops, bottoms)
    ], -2)


def _pair(output_size, input_size) -> Tuple[int, int]:
    sizes = (output_size,
             output_size) if isinstance(output_size, int) else output_size
    return tuple(size if size is not None else side
                 for size, side in zip(sizes, input_size))


@contextlib.contextmanager
def _export_rewrites(model: nn.Module, dynamic: bool):
    """Forwards of modules that keep sizes symbolic, on the instances of
    ``model`` for the time of the export."""
    patched = []
    wrappers = sys.modules.get('mmseg.models.utils.wrappers')
    for module in model.modules():
        if wrappers is not None and isinstance(module, wrappers.Upsample):
            module.forward = types.MethodType(_symbolic_upsample_forward,
                                              module)
            patched.append(module)
        elif dynamic and isinstance(module, nn.AdaptiveAvgPool2d) and all(
                isinstance(size, int)
                for size in _pair(module.output_size, (None, None))):
            module.forward = types.MethodType(_symbolic_adaptive_avg_pool,
                                              module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


def _without_runtime_asserts(graph: torch.fx.GraphModule) -> nn.Module:
    """``graph`` less the shape assertions the exporter could not prove,
    which ONNX drops too: what the ONNX file computes."""
    for node in list(graph.graph.nodes):
        if node.op == 'call_function' and getattr(
                node.target, '__name__', '').startswith('_assert_scalar'):
            graph.graph.erase_node(node)
    graph.graph.eliminate_dead_code()
    graph.recompile()
    return graph


def _check_program(model: nn.Module, program, trace_shape: Shape, batch: int,
                   names: List[str]) -> None:
    """Run the exported program as ONNX will (without the runtime asserts)
    at a larger and a smaller size than the trace size: a size fixed while
    tracing shows as a mismatch."""
    least = _least_trace_side(model)
    graph = _without_runtime_asserts(program.module())
    for offset in (37, -15):
        shape = tuple(max(side + offset, least) for side in trace_shape)
        inputs = example_input(shape, batch, seed=2)
        try:
            check_parity([out.numpy() for out in model(inputs)],
                         [out.numpy() for out in graph(inputs)], names, 1e-4,
                         f'the exported graph at {shape[0]}x{shape[1]}')
        except (ParityError, RuntimeError, IndexError) as error:
            raise ParityError(
                f'dynamic export traced at {trace_shape[0]}x'
                f'{trace_shape[1]} is wrong at other sizes, so some size '
                f'was fixed while tracing: {error}') from error


def _export_program(model: nn.Module, example: torch.Tensor,
                    dynamic: bool) -> torch.export.ExportedProgram:
    """torch.export of ``model(example)``; with ``dynamic`` symbolic height
    and width, as torch.onnx's own capture does it: sizes taken as never 0 or
    1 (size-oblivious) and unprovable shape checks kept as runtime asserts
    (which ONNX drops) instead of fixing the size.

    The declared range starts at 33 pixels: at 32 the stride-32 map is a
    single pixel, which size-oblivious reasoning excludes. The graph is the
    same for 32 (the tests run it there). A larger least size the exporter
    proves it needs is accepted; fixing height or width to one value is an
    error (torch.onnx.export would fall back to a static graph silently).
    """
    if not dynamic:
        return torch.export.export(model, (example, ), strict=False)
    from torch.export import Dim
    from torch.export.dynamic_shapes import \
        refine_dynamic_shapes_from_suggested_fixes
    from torch.fx.experimental import _config as fx_config
    dims = ({
        2: Dim('height', min=MIN_INPUT_SIZE + 1),
        3: Dim('width', min=MIN_INPUT_SIZE + 1)
    }, )

    def oblivious():
        if hasattr(fx_config, 'backed_size_oblivious'):
            return fx_config.patch(backed_size_oblivious=True)
        return contextlib.nullcontext()

    def export(dynamic_shapes):
        with oblivious():
            return torch.export.export(
                model, (example, ),
                dynamic_shapes=dynamic_shapes,
                strict=False,
                prefer_deferred_runtime_asserts_over_guards=True)

    try:
        return export(dims)
    except torch._dynamo.exc.UserError as error:
        refined = refine_dynamic_shapes_from_suggested_fixes(error.msg, dims)
        fixed = {
            axis: dim
            for axis, dim in refined[0].items() if not isinstance(dim, Dim)
        }
        if fixed:
            raise RuntimeError(
                'dynamic export failed: the exporter fixed input axes '
                f'{fixed} (traced at {tuple(example.shape)}); height and '
                f'width cannot stay symbolic:\n{error.msg}') from error
        return export(refined)


# ---------------------------------------------------------------------------
# Runtimes.
# ---------------------------------------------------------------------------


def _threads(threads: Optional[int]) -> int:
    return threads or torch.get_num_threads()


def onnxruntime_session(
        path: str,
        threads: Optional[int] = None) -> Callable[[np.ndarray], Arrays]:
    """An ONNX Runtime CPU session of ``path`` as ``run(inputs) ->
    [outputs]`` (``threads`` intra-op threads; default torch's count)."""
    ort = require('onnxruntime')
    options = ort.SessionOptions()
    options.intra_op_num_threads = _threads(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])
    input_name = session.get_inputs()[0].name

    def run(inputs: np.ndarray) -> Arrays:
        return session.run(None, {input_name: inputs})

    return run


def openvino_compiled(
        path: str,
        threads: Optional[int] = None) -> Callable[[np.ndarray], Arrays]:
    """OpenVINO's CPU plugin running ``path`` in float32 (no bf16
    downcast) for latency, as ``run(inputs) -> [outputs]``.

    A file with symbolic height and width is compiled for each input shape
    it meets (reshaped to it, then kept): OpenVINO 2026.4's CPU plugin gave
    stale or empty output shapes at some sizes for a dynamic two-stage
    detector, and static shapes run faster.
    """
    ov = require('openvino')
    core = ov.Core()
    config = {
        'INFERENCE_NUM_THREADS': _threads(threads),
        'INFERENCE_PRECISION_HINT': 'f32',
        'PERFORMANCE_HINT': 'LATENCY',
    }
    dynamic = core.read_model(path).inputs[0].get_partial_shape().is_dynamic
    requests = {}

    def request_for(shape: Tuple[int, ...]):
        key = shape if dynamic else None
        if key not in requests:
            model = core.read_model(path)
            if dynamic:
                model.reshape({model.inputs[0]: ov.PartialShape(list(shape))})
            compiled = core.compile_model(model, 'CPU', config)
            requests[key] = (compiled.create_infer_request(),
                             len(compiled.outputs))
        return requests[key]

    def run(inputs: np.ndarray) -> Arrays:
        request, count = request_for(tuple(inputs.shape))
        request.infer({0: inputs})
        return [request.get_output_tensor(i).data.copy() for i in range(count)]

    return run


_RUNNERS = dict(onnxruntime=onnxruntime_session, openvino=openvino_compiled)


def make_runner(
        path: str,
        runtime: str,
        threads: Optional[int] = None) -> Callable[[np.ndarray], Arrays]:
    """``run(inputs) -> [outputs]`` of ``path`` in 'onnxruntime' or
    'openvino'."""
    _check_runtime(runtime)
    return _RUNNERS[runtime](path, threads)


def _check_runtime(runtime: str) -> None:
    if runtime not in _RUNNERS:
        raise ValueError(
            f'unknown runtime {runtime!r}; choose from {list(_RUNNERS)}')


def run_onnx(path: str,
             inputs,
             runtime: str = 'onnxruntime',
             threads: Optional[int] = None) -> Arrays:
    """The outputs of ``path`` on ``inputs`` (a tensor or an array) in
    ``runtime``, once; :func:`make_runner` keeps the session for more."""
    inputs = inputs.numpy() if torch.is_tensor(inputs) else np.asarray(inputs)
    return make_runner(path, runtime, threads)(inputs)


def run_pytorch(model: nn.Module, inputs: torch.Tensor) -> Arrays:
    """PyTorch's outputs (the reference), as arrays."""
    with torch.no_grad():
        return [
            out.numpy()
            for out in _as_tensor_outputs(model).eval()(inputs.contiguous())
        ]


# ---------------------------------------------------------------------------
# Parity and timing.
# ---------------------------------------------------------------------------


def relative_error(output: np.ndarray, reference: np.ndarray) -> float:
    """``max|output - reference| / max|reference|`` (absolute error where
    the reference is all zeros)."""
    output = np.asarray(output, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    diff = float(np.abs(output - reference).max()) if reference.size else 0.
    scale = float(np.abs(reference).max()) if reference.size else 0.
    return diff / scale if scale > 0 else diff


def check_parity(reference: Sequence[np.ndarray],
                 outputs: Sequence[np.ndarray],
                 names: Sequence[str],
                 rtol: float = 1e-4,
                 runtime: str = 'the runtime') -> Dict[str, float]:
    """Compare ``outputs`` with PyTorch's ``reference`` output by output.

    Returns:
        dict: The relative error (:func:`relative_error`) of each output.

    Raises:
        ParityError: A count or shape that differs, a non-finite value, or a
            relative error above ``rtol``, naming the output.
    """
    if not len(reference) == len(outputs) == len(names):
        raise ParityError(f'{runtime} returned {len(outputs)} outputs, '
                          f'PyTorch {len(reference)} ({list(names)})')
    errors = {}
    for name, ref, out in zip(names, reference, outputs):
        if tuple(np.shape(out)) != tuple(np.shape(ref)):
            raise ParityError(
                f'output {name}: {runtime} gives shape {np.shape(out)}, '
                f'PyTorch {np.shape(ref)}')
        error = relative_error(out, ref)
        if not np.isfinite(error) or error > rtol:
            raise ParityError(
                f'output {name}: {runtime} differs from PyTorch by '
                f'{error:.3g} relative (max|a-b|/max|b|), above {rtol:g}')
        errors[name] = error
    return errors


def median_seconds(step: Callable[[], object],
                   runs: int = 5,
                   warmup: int = 2) -> float:
    """The median time of ``runs`` calls of ``step`` after ``warmup``."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def export_and_check(model: nn.Module,
                     shape: Sequence[int],
                     path: str,
                     dynamic: bool = False,
                     second: Optional[Sequence[int]] = None,
                     runtimes: Sequence[str] = RUNTIMES,
                     runs: int = 5,
                     warmup: int = 2,
                     threads: Optional[int] = None,
                     rtol: float = 1e-4) -> dict:
    """What tools/deployment/export_onnx.py and tools/benchmark.py do:
    export ``model`` to ``path``, check each runtime against PyTorch at
    ``shape`` (and, with ``dynamic``, at a second shape, ``second`` or
    :func:`second_shape`), and time PyTorch and the runtimes at ``shape``
    (medians of ``runs`` after ``warmup``). PyTorch runs on torch's own
    thread count, the runtimes on ``threads`` (torch's count by default).

    Returns:
        dict: ``export`` (:func:`export_onnx`'s result), ``checks`` (one
        dict per shape and runtime: ``shape``, ``runtime``, ``errors``, the
        relative error of each output), ``latency_s`` (runtime or 'pytorch'
        to the median seconds at ``shape``), ``threads``.

    Raises:
        ParityError: An output differs beyond ``rtol``; the error names it.
    """
    shape = check_shape(shape)
    shapes = [shape]
    if dynamic:
        shapes.append(check_shape(second) if second else second_shape(shape))
    elif second:
        raise ValueError('a second check shape needs a dynamic export')
    for runtime in runtimes:  # before the export, which takes a while
        _check_runtime(runtime)
        require(runtime)
    model = _as_tensor_outputs(model).eval()
    info = export_onnx(model, shape, path, dynamic=dynamic)
    threads = _threads(threads)
    runners = {rt: make_runner(path, rt, threads) for rt in runtimes}
    checks = []
    latency = {}
    for size in shapes:
        inputs = example_input(size, seed=1)
        reference = run_pytorch(model, inputs)
        array = inputs.numpy()
        for runtime, run in runners.items():
            errors = check_parity(reference, run(array), info['output_names'],
                                  rtol, f'{runtime} at {size[0]}x{size[1]}')
            checks.append(dict(shape=size, runtime=runtime, errors=errors))
        if size == shape:
            with torch.no_grad():
                latency['pytorch'] = median_seconds(lambda: model(inputs),
                                                    runs, warmup)
            for runtime, run in runners.items():
                latency[runtime] = median_seconds(lambda: run(array), runs,
                                                  warmup)
    return dict(export=info, checks=checks, latency_s=latency, threads=threads)
