# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The runtimes an exported file runs in (ONNX Runtime and OpenVINO, on the
CPU) and the reference they are held to (PyTorch).

onnx, onnxscript, onnxruntime and openvino are the optional ``[deploy]``
extra: :func:`require` imports each where it is used, so importing
:mod:`mmsepvit.deploy` needs none of them.
"""
import importlib
from typing import Callable, List, Optional, Tuple

import numpy as np
import torch
import torch.nn as nn

from .model import as_tensor_outputs

INSTALL_HINT = "pip install 'mmsepvit[deploy]'"
RUNTIMES = ('onnxruntime', 'openvino')
# How tools print each runtime (and PyTorch, the reference).
RUNTIME_NAMES = dict(
    pytorch='PyTorch', onnxruntime='ONNX Runtime', openvino='OpenVINO')
Arrays = List[np.ndarray]
Runner = Callable[[np.ndarray], Arrays]


class MissingDependencyError(ImportError):
    """An optional package of the ``[deploy]`` extra is not installed."""


def require(package: str):
    """Import ``package`` (onnx, onnxscript, onnxruntime or openvino).

    Raises:
        MissingDependencyError: It is not installed; the message gives the
            install command.
    """
    try:
        return importlib.import_module(package)
    except ImportError as e:
        raise MissingDependencyError(
            f'{package} is not installed: {INSTALL_HINT}') from e


def thread_count(threads: Optional[int] = None) -> int:
    """``threads``, or torch's intra-op thread count where it is unset."""
    return threads or torch.get_num_threads()


def onnxruntime_session(path: str, threads: Optional[int] = None) -> Runner:
    """An ONNX Runtime CPU session of ``path`` as ``run(inputs) ->
    [outputs]`` (``threads`` intra-op threads; default torch's count)."""
    ort = require('onnxruntime')
    options = ort.SessionOptions()
    options.intra_op_num_threads = thread_count(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])
    input_name = session.get_inputs()[0].name

    def run(inputs: np.ndarray) -> Arrays:
        return session.run(None, {input_name: inputs})

    return run


def openvino_compiled(path: str, threads: Optional[int] = None) -> Runner:
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
        'INFERENCE_NUM_THREADS': thread_count(threads),
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


def check_runtime(runtime: str) -> None:
    """Raise a ValueError naming the choices unless ``runtime`` is one of
    :data:`RUNTIMES`."""
    if runtime not in _RUNNERS:
        raise ValueError(
            f'unknown runtime {runtime!r}; choose from {list(_RUNNERS)}')


def make_runner(path: str,
                runtime: str,
                threads: Optional[int] = None) -> Runner:
    """``run(inputs) -> [outputs]`` of ``path`` in 'onnxruntime' or
    'openvino'."""
    check_runtime(runtime)
    return _RUNNERS[runtime](path, threads)


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
            for out in as_tensor_outputs(model).eval()(inputs.contiguous())
        ]
