# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""ONNX export of classifiers, detectors, segmentors and backbones, run in
ONNX Runtime and OpenVINO and checked against PyTorch.

- :mod:`.model`: the exportable model, the tensor forward of a config's
  model on a preprocessed batch, as named outputs;
- :mod:`.shapes`: the sizes of an export, read from the backbone's
  ``min_input_size``, ``strides`` and window sizes;
- :mod:`.rewrites`: mmseg forwards rewritten to keep sizes symbolic;
- :mod:`.export`: the export itself, static or with symbolic height and
  width;
- :mod:`.runtimes`: ONNX Runtime and OpenVINO sessions, and PyTorch as the
  reference;
- :mod:`.parity`: outputs compared by relative error;
- :mod:`.pipeline`: export, check and time in one call;
- :mod:`.quantize`: post-training INT8 with NNCF, calibrated on the
  config's training images, evaluated against the float model.

onnx, onnxscript, onnxruntime, openvino and nncf are the optional ``[deploy]``
extra, imported only by the functions that need them.
"""
from mmsepvit.utils.measure import relative_error
from .export import OPSET, export_onnx
from .model import (TensorOutputs, as_tensor_outputs, build_model_for_export,
                    load_config)
from .parity import ParityError, check_parity
from .pipeline import export_and_check
from .quantize import (DEFAULT_CALIB_SIZE, PRESETS, MissingDataError,
                       calibration_size, check_data, format_report,
                       quantize_config)
from .runtimes import (INSTALL_HINT, RUNTIME_NAMES, RUNTIMES,
                       MissingDependencyError, check_runtime, make_runner,
                       onnxruntime_session, openvino_compiled, require,
                       run_onnx, run_pytorch)
from .shapes import (DEFAULT_MIN_INPUT_SIZE, check_shape, dynamic_trace_shape,
                     example_input, least_trace_side, min_input_size,
                     second_shape)

__all__ = [
    'DEFAULT_CALIB_SIZE', 'DEFAULT_MIN_INPUT_SIZE', 'INSTALL_HINT',
    'MissingDataError', 'OPSET', 'PRESETS', 'RUNTIMES', 'calibration_size',
    'check_data', 'format_report', 'quantize_config', 'RUNTIME_NAMES',
    'MissingDependencyError', 'ParityError', 'TensorOutputs',
    'as_tensor_outputs', 'build_model_for_export', 'check_parity',
    'check_runtime', 'check_shape', 'dynamic_trace_shape', 'example_input',
    'export_and_check', 'export_onnx', 'least_trace_side', 'load_config',
    'make_runner', 'min_input_size', 'onnxruntime_session',
    'openvino_compiled', 'relative_error', 'require', 'run_onnx',
    'run_pytorch', 'second_shape'
]
