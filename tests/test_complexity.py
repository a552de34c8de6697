"""tools/get_flops.py and the counting behind it."""
import math
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmsepvit.models import SepViT
from mmsepvit.models.backbones import sepvit
from mmsepvit.utils.complexity import (count_flops, model_complexity,
                                       unfuse_kernels)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'


@pytest.mark.parametrize('variant,gflops', [('t', 4.5), ('s', 7.5),
                                            ('b', 13.1)])
def test_classifier_flops_match_the_paper(variant, gflops):
    cfg = Config.fromfile(str(CONFIGS / f'sepvit_{variant}_300e_in1k.py'))
    result = model_complexity(cfg)
    assert result['shape'] == (224, 224)
    assert abs(result['flops'] / 1e9 - gflops) <= 0.1


def test_fused_and_plain_kernels_agree():
    model = SepViT(arch='lite').eval()
    x = torch.randn(1, 3, 96, 128)
    with torch.no_grad():
        fused = model(x)
        unfuse_kernels(model)
        plain = model(x)
    for a, b in zip(fused, plain):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_attention_products_are_counted(monkeypatch):
    """What the counter adds for attention is exactly its two products in
    each window (depthwise) and across windows (pointwise)."""
    model = SepViT(arch='lite').eval()
    unfuse_kernels(model)
    x = torch.randn(1, 3, 96, 128)
    expected, height, width = 0, 96 // 4, 128 // 4
    for stage, channels in zip(model.stages, [32, 64, 128, 256]):
        for block in stage.blocks:
            ws = block.window_size
            windows = math.ceil(height / ws) * math.ceil(width / ws)
            tokens = 1 + ws * ws
            expected += channels * (2 * windows * tokens**2 + windows**2 +
                                    windows**2 * ws * ws)
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    total = count_flops(model, x)

    def no_products(q, k, v, dropout, fused):
        return q.new_zeros(*q.shape[:-1], v.shape[-1])

    monkeypatch.setattr(sepvit, 'attention', no_products)
    assert total - count_flops(model, x) == expected


@pytest.mark.parametrize('config,shape', [
    ('retinanet_sepvit_t_1x_coco.py', (128, 160)),
    ('mask_rcnn_sepvit_t_1x_coco.py', (128, 160)),
    ('upernet_sepvit_t_160k_ade20k.py', (128, 256)),
])
def test_dense_configs_need_no_data_or_weights(config, shape):
    cfg = Config.fromfile(str(CONFIGS / config))
    result = model_complexity(cfg, shape)
    assert result['shape'] == shape
    assert result['params'] > result['backbone_params'] > 30e6
    assert result['flops'] > result['backbone_flops'] > 0


def test_get_flops_tool(tmp_path, run_tool):
    log = run_tool(tmp_path, ROOT / 'tools' / 'get_flops.py',
                   CONFIGS / 'fpn_sepvit_t_80k_ade20k.py', '--shape', '64',
                   '128')
    assert 'Input:    1x3x64x128' in log
    assert 'Backbone: 33.66 M parameters' in log


def test_unknown_codebase_is_named():
    with pytest.raises(ValueError, match="default_scope 'mmfoo'"):
        model_complexity(Config(dict(default_scope='mmfoo', model=dict())))
