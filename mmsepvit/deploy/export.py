# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""ONNX export through ``torch.export``, static or with symbolic height and
width.

A dynamic export is traced at :func:`~.shapes.dynamic_trace_shape`, and the
exported program is run against the model at a larger and a smaller size
before the file is written, so a size fixed while tracing is an error rather
than a wrong file.
"""
import contextlib
import os
import os.path as osp
import time
from typing import List, Sequence, Union

import torch
import torch.nn as nn

from .model import as_tensor_outputs
from .parity import ParityError, check_parity
from .rewrites import export_rewrites
from .runtimes import require
from .shapes import (Shape, check_any_size, check_shape, dynamic_trace_shape,
                     example_input, least_trace_side, min_input_size)

OPSET = 18


def _symbolic_dims(path: str) -> List[List[Union[int, str]]]:
    """Each graph input's dimensions: a name where symbolic, else a size."""
    onnx = require('onnx')
    graph = onnx.load(path, load_external_data=False).graph
    return [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in graph.input]


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
    least = least_trace_side(model)
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


def _size_oblivious():
    """Reason about symbolic sizes as never 0 or 1, as torch.onnx's own
    capture does (where this torch has the switch)."""
    from torch.fx.experimental import _config as fx_config
    if hasattr(fx_config, 'backed_size_oblivious'):
        return fx_config.patch(backed_size_oblivious=True)
    return contextlib.nullcontext()


def _export_program(model: nn.Module, example: torch.Tensor,
                    dynamic: bool) -> torch.export.ExportedProgram:
    """torch.export of ``model(example)``; with ``dynamic`` symbolic height
    and width, as torch.onnx's own capture does it: sizes taken as never 0 or
    1 (size-oblivious) and unprovable shape checks kept as runtime asserts
    (which ONNX drops) instead of fixing the size.

    The declared range starts one pixel above the model's
    :func:`~.shapes.min_input_size`: there the last stage's map is a single
    pixel, which size-oblivious reasoning excludes. The graph is the same at
    the minimum (the tests run it there). A larger least size the exporter
    proves it needs is accepted; fixing height or width to one value is an
    error (torch.onnx.export would fall back to a static graph silently).
    """
    if not dynamic:
        return torch.export.export(model, (example, ), strict=False)
    from torch.export import Dim
    from torch.export.dynamic_shapes import \
        refine_dynamic_shapes_from_suggested_fixes
    least = min_input_size(model) + 1
    dims = ({2: Dim('height', min=least), 3: Dim('width', min=least)}, )

    def export(dynamic_shapes):
        with _size_oblivious():
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


def export_onnx(model: nn.Module,
                shape: Sequence[int],
                path: str,
                dynamic: bool = False,
                batch: int = 1,
                opset: int = OPSET) -> dict:
    """Export ``model`` (one image batch in, tensors out) to ONNX.

    Args:
        model (nn.Module): A :class:`~.model.TensorOutputs` of
            :func:`~.model.build_model_for_export`, or any module such as a
            backbone (its outputs are named ``output_i``).
        shape (tuple[int, int]): Input height and width, each at least the
            model's :func:`~.shapes.min_input_size` (32 for SepViT).
        path (str): The .onnx file to write (folders are made).
        dynamic (bool): Symbolic height and width: the file serves any input
            of at least the least size per side. Traced at
            :func:`~.shapes.dynamic_trace_shape`.
        batch (int): The (fixed) batch size.
        opset (int): ONNX opset. Defaults to 18.

    Returns:
        dict: ``path``, ``seconds`` (export time), ``output_names``,
        ``input_name`` ('inputs'), ``trace_shape``, ``dynamic``.
    """
    model = as_tensor_outputs(model).eval()
    shape = check_shape(shape, model)
    require('onnx')
    require('onnxscript')
    if dynamic:
        check_any_size(model)
    trace_shape = dynamic_trace_shape(model, shape) if dynamic else shape
    example = example_input(trace_shape, batch)
    with torch.no_grad():
        model(example)  # names the outputs
    names = list(model.output_names)
    if len(set(names)) != len(names):
        raise ValueError(f'output names are not unique: {names}')
    start = time.perf_counter()
    with torch.no_grad(), export_rewrites(model, dynamic):
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
