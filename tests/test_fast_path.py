"""The attention paths under mixed precision and torch.compile."""
import pytest
import torch
import torch._dynamo

from mmsepvit.models import SepViT


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16],
                         ids=['bf16', 'fp16'])
@pytest.mark.parametrize('fused_attention', [True, False],
                         ids=['fused', 'plain'])
def test_autocast_at_800x1280_stays_finite(dtype, fused_attention):
    """fp16's range is the risk: 1334 windows meet in stage 1's pointwise
    attention at this size."""
    torch.manual_seed(0)
    model = SepViT(arch='lite', fused_attention=fused_attention).eval()
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
