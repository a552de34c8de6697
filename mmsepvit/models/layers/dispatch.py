# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The one rule that picks how a layer runs.

Several layers have a fast form that only some callers can use: a
hand-written backward that saves memory passes, a write into a fresh tensor
that saves a copy, a fused oneDNN kernel. :func:`execution_path` tells them
which caller they face:

=================================  ===========  =============================
caller                             path         what the layers do
=================================  ===========  =============================
TorchScript tracer (mmengine's     ``TRACE``    plain ops only: concatenation
FLOP counter), ``torch.export``                 and views, ``F.linear``; no
(ONNX)                                          writes into fresh tensors, no
                                                custom autograd, no private
                                                kernels
gradients wanted (grad mode on     ``AUTOGRAD`` hand-written backwards
and an input or weight requires                 (windows, head split);
grad; eager or ``torch.compile``)               ``F.linear``
everything else (inference,        ``INFERENCE`` windows written in place;
frozen weights)                                 oneDNN's fused linear where
                                                the kernel applies (float32
                                                CPU, no autocast, not under
                                                ``torch.compile``)
=================================  ===========  =============================
"""
import enum
from typing import Optional

import torch


class ExecutionPath(enum.Enum):
    """How a layer runs; see the module docstring."""
    TRACE = 'trace'
    AUTOGRAD = 'autograd'
    INFERENCE = 'inference'


def tracing() -> bool:
    """Whether a tracer or exporter records the ops being run.

    Both record writes into a fresh tensor badly (as untracked by autograd,
    and as scatter ops that OpenVINO rejects and ONNX Runtime runs slowly)
    and cannot record a hand-written backward or a private kernel.
    """
    return torch.jit.is_tracing() or torch.compiler.is_exporting()


def execution_path(*tensors: Optional[torch.Tensor]) -> ExecutionPath:
    """The path for an op on ``tensors`` (inputs and weights; None is
    skipped)."""
    if tracing():
        return ExecutionPath.TRACE
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                       for t in tensors):
        return ExecutionPath.AUTOGRAD
    return ExecutionPath.INFERENCE
