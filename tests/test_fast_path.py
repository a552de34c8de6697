"""The attention paths under mixed precision and torch.compile."""
import pytest
import torch
import torch._dynamo

from mmsepvit.models import SepViT, fused_linear
from mmsepvit.models.fused_linear import linear, onednn_applies


@pytest.mark.parametrize(
    'dtype', [torch.bfloat16, torch.float16], ids=['bf16', 'fp16'])
def test_autocast_at_800x1280_stays_finite(dtype):
    """fp16's range is the risk: 1334 windows meet in stage 1's pointwise
    attention at this size."""
    torch.manual_seed(0)
    model = SepViT(arch='lite').eval()
    x = torch.randn(1, 3, 800, 1280)
    with torch.no_grad():
        expected = model(x)
        with torch.autocast('cpu', dtype=dtype):
            outs = model(x)
    for out, ref in zip(outs, expected):
        assert out.dtype == dtype and torch.isfinite(out).all()
        assert ((out.float() - ref).abs().max() / ref.abs().max()) < 0.05


@pytest.mark.parametrize('train', [False, True], ids=['eval', 'train'])
def test_backbone_compiles_without_graph_breaks(train):
    model = SepViT(arch='lite', drop_path_rate=0.1).train(train)
    explanation = torch._dynamo.explain(model)(torch.randn(2, 3, 64, 96))
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


def test_onednn_linear_only_at_cpu_float32_inference():
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8)
    with torch.no_grad():
        assert onednn_applies(x, layer.weight)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            assert not onednn_applies(x, layer.weight)
        assert not onednn_applies(x.double(), layer.weight.double())
    assert not onednn_applies(x, layer.weight)  # needs a backward
    layer.requires_grad_(False)
    assert onednn_applies(x, layer.weight)  # e.g. a frozen stage


@pytest.mark.parametrize('gelu', [False, True], ids=['linear', 'gelu'])
def test_fused_linear_matches_plain(gelu):
    layer = torch.nn.Linear(96, 384)
    x = torch.randn(2, 5, 50, 96)[:, :, :49]  # strided, as after a crop
    with torch.no_grad():
        fused = linear(x, layer, gelu=gelu)
        plain = layer(x)
    if gelu:
        plain = torch.nn.functional.gelu(plain)
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('failure', ['missing', 'rejects'])
def test_linear_falls_back_to_pytorch(monkeypatch, failure):
    """The oneDNN op is private: missing, or raising on an input, it gives
    way to PyTorch's linear (with a warning, once) and the same result."""
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(3, 8)
    with torch.no_grad():
        expected = torch.nn.functional.gelu(layer(x))
        if failure == 'missing':
            monkeypatch.setattr(fused_linear, '_onednn_usable', False)
            assert not onednn_applies(x, layer.weight)
            torch.testing.assert_close(linear(x, layer, gelu=True), expected)
            return

        def rejects(*args):
            raise RuntimeError('unsupported input')

        monkeypatch.setattr(fused_linear, '_onednn_usable', True)
        monkeypatch.setattr(torch.ops.mkldnn, '_linear_pointwise', rejects)
        with pytest.warns(UserWarning, match='unsupported input'):
            out = linear(x, layer, gelu=True)
        torch.testing.assert_close(out, expected)
        assert not fused_linear._onednn_usable  # not tried again
        torch.testing.assert_close(linear(x, layer, gelu=True), expected)
