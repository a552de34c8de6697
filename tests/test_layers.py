"""The shared layers of mmsepvit.models.layers against their definitions."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmsepvit.models.layers import (DropPathResidual, ExecutionPath,
                                    execution_path, project_heads, split_heads,
                                    window_merge, window_partition)
from mmsepvit.models.layers import windows as windows_module

SIZES = [(14, 21), (9, 16), (5, 3), (8, 15), (22, 29)]


def defined_windows(feature_map, window_size, fill, shuffled):
    """Windows by definition: regular window (i, j) holds padded pixels
    (ws*i + p, ws*j + q); shuffled window (i, j) holds (i + rows*p,
    j + cols*q), for p, q < ws."""
    B, H, W, C = feature_map.shape
    ws = window_size
    rows, cols = math.ceil(H / ws), math.ceil(W / ws)
    padded = fill.expand(B, rows * ws, cols * ws, C).clone()
    padded[:, :H, :W] = feature_map
    windows = []
    for i in range(rows):
        for j in range(cols):
            if shuffled:
                window = padded[:, i::rows, j::cols]
            else:
                window = padded[:, ws * i:ws * (i + 1), ws * j:ws * (j + 1)]
            windows.append(window.reshape(B, ws * ws, C))
    return torch.stack(windows, 1)


@pytest.mark.parametrize(
    'shuffled', [False, True], ids=['regular', 'shuffled'])
@pytest.mark.parametrize('size', SIZES)
@pytest.mark.parametrize('token', ['none', 'shared', 'per_window'])
def test_written_and_traced_windows_are_the_defined_windows(
        size, token, shuffled):
    """Windows written in blocks (inference) and made of concatenation and
    views (tracers and exporters) are exactly the windows of the
    definition, tokens first; merging gives the map back."""
    feature_map = torch.randn(2, *size, 8)
    fill = torch.randn(8)
    windows = math.ceil(size[0] / 7) * math.ceil(size[1] / 7)
    token = dict(
        none=None,
        shared=torch.randn(1, 1, 8),
        per_window=torch.randn(1, windows, 8))[token]
    expected = defined_windows(feature_map, 7, fill, shuffled)
    if token is not None:
        expected = torch.cat(
            [token.expand(2, windows, 8)[:, :, None], expected], 2)
    written = windows_module._partition(feature_map, 7, fill, token, shuffled)
    traced = windows_module._partition_traceable(feature_map, 7, fill, token,
                                                 shuffled)
    assert written.shape == (2, windows, 49 + (token is not None), 8)
    assert torch.equal(written, expected)
    assert torch.equal(traced, expected)
    pixels = written[:, :, int(token is not None):]
    merged = windows_module._merge(pixels, *size, 7, shuffled)
    assert torch.equal(merged, feature_map)
    assert torch.equal(
        windows_module._merge_traceable(pixels, *size, 7, shuffled), merged)


@pytest.mark.parametrize(
    'shuffled', [False, True], ids=['regular', 'shuffled'])
@pytest.mark.parametrize('size', SIZES)
def test_hand_written_backwards_equal_autograd(size, shuffled):
    """Gradients of the map, the fill and the token through the one-pass
    partition and merge equal autograd's through the plain ops."""
    torch.manual_seed(0)
    feature_map = torch.randn(2, *size, 8, requires_grad=True)
    fill = torch.randn(8, requires_grad=True)
    token = torch.randn(1, 1, 8, requires_grad=True)
    inputs = (feature_map, fill, token)

    def loss(partition, merge):
        windows = partition(feature_map, 7, fill, token, shuffled)
        weight = torch.linspace(-1, 1, windows.numel()).view_as(windows)
        pixels = merge(windows[:, :, 1:] * 2, *size, 7, shuffled)
        return (windows * weight).sum() + (pixels * pixels.detach()).sum()

    fast = torch.autograd.grad(
        loss(windows_module._Partition.apply, windows_module._Merge.apply),
        inputs)
    plain = torch.autograd.grad(
        loss(windows_module._partition_traceable,
             windows_module._merge_traceable), inputs)
    for name, got, expected in zip(['map', 'fill', 'token'], fast, plain):
        torch.testing.assert_close(got, expected, msg=name)


def test_execution_path_follows_the_caller():
    x = torch.randn(2, 3)
    weight = torch.randn(3, 3, requires_grad=True)
    assert execution_path(x) is ExecutionPath.INFERENCE
    assert execution_path(x, None, weight) is ExecutionPath.AUTOGRAD
    with torch.no_grad():
        assert execution_path(x, weight) is ExecutionPath.INFERENCE
    seen = []

    def record(t):
        seen.append(execution_path(t, weight))
        return t * 2

    torch.jit.trace(record, x, check_trace=False)
    assert seen == [ExecutionPath.TRACE]


def test_public_partition_dispatches_by_path():
    """Under autograd the public functions take the hand-written backward;
    otherwise they return plain tensors."""
    feature_map = torch.randn(1, 9, 10, 4, requires_grad=True)
    fill = torch.zeros(4)
    windows = window_partition(feature_map, 7, fill, shuffled=True)
    assert type(windows.grad_fn).__name__ == '_PartitionBackward'
    merged = window_merge(windows, 9, 10, 7, shuffled=True)
    assert type(merged.grad_fn).__name__ == '_MergeBackward'
    assert torch.equal(merged, feature_map)
    with torch.no_grad():
        assert window_partition(feature_map, 7, fill).grad_fn is None


def test_split_heads_backward_writes_the_projection_layout():
    torch.manual_seed(0)
    qkv = torch.randn(3, 5, 3 * 2 * 4, requires_grad=True)
    q, k, v = split_heads(qkv, 2)
    assert q.shape == (3, 2, 5, 4)
    assert type(q.grad_fn).__name__ == '_SplitHeadsBackward'
    reference = qkv.view(3, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
    for got, expected in zip((q, k, v), reference):
        assert torch.equal(got, expected)
    out = F.scaled_dot_product_attention(q, k, v)
    target = torch.randn_like(out)
    grad, = torch.autograd.grad((out * target).sum(), qkv)
    q, k, v = reference.unbind(0)
    plain, = torch.autograd.grad(
        (F.scaled_dot_product_attention(q, k, v) * target).sum(), qkv)
    torch.testing.assert_close(grad, plain)
    # A head that takes no part in the loss gets a zero gradient.
    q, k, v = split_heads(qkv, 2)
    grad, = torch.autograd.grad(q.sum() + v.sum(), qkv)
    assert torch.equal(grad.view(3, 5, 3, 8)[:, :, 1], torch.zeros(3, 5, 8))
    assert torch.equal(grad.view(3, 5, 3, 8)[:, :, 0], torch.ones(3, 5, 8))


@pytest.mark.parametrize('bias', [True, False])
def test_exporters_project_heads_one_by_one(bias):
    """Traced, the fused q/k/v projection runs as three, each with one
    four-dimensional head transpose and no split of its output; the heads
    equal the fused projection's, eager and traced."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 3 * 8, bias=bias).requires_grad_(False)
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        reference = layer(x).view(3, 5, 3, 2, 4).permute(2, 0, 3, 1, 4)
        traced = torch.jit.trace(lambda t: project_heads(t, layer, 2), x)
        for heads in (project_heads(x, layer, 2), traced(x)):
            for got, expected in zip(heads, reference):
                torch.testing.assert_close(got, expected)
    kinds = [node.kind() for node in traced.graph.nodes()]
    assert kinds.count('aten::linear') == 3
    assert not {'aten::split', 'aten::unbind', 'aten::permute'} & set(kinds)
    ranks = [
        len(node.output().type().sizes()) for node in traced.graph.nodes()
        if node.kind() == 'aten::transpose'
    ]
    assert ranks == [4, 4, 4]


def test_drop_path_residual_is_stochastic_depth():
    torch.manual_seed(0)
    layer = DropPathResidual(0.5)
    identity, branch = torch.randn(64, 3, 4), torch.randn(64, 3, 4)
    assert torch.equal(layer.eval()(identity, branch), identity + branch)
    out = layer.train()(identity, branch)
    dropped = torch.isclose(out, identity).flatten(1).all(1)
    kept = torch.isclose(out, identity + 2 * branch).flatten(1).all(1)
    assert (dropped ^ kept).all()  # each sample entirely one or the other
    assert 0 < dropped.sum() < 64
    assert torch.equal(
        DropPathResidual(0.).train()(identity, branch), identity + branch)
