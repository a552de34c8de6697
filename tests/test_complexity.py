"""FLOP counting: tools/get_flops.py, mmengine's counter and the get_flops
tools of mmdet and mmpretrain agree, attention included, and the
benchmark's FlopCounterMode count agrees with PyTorch's own formulas.
(mmseg 1.2.2's own get_flops fails on mmengine 0.10.7 for any model: it
passes both an input shape and inputs.)"""
import math
import re
from pathlib import Path

import mmdet
import mmpretrain
import pytest
import torch
from mmengine.analysis import ActivationAnalyzer, get_model_complexity_info
from mmengine.config import Config
from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

from mmsepvit.benchmark.measure import forward_step, training_step
from mmsepvit.benchmark.models import build_backbone
from mmsepvit.models import SepViT
from mmsepvit.models.layers import fused_linear
from mmsepvit.utils.complexity import (attention_multiply_adds, flop_analyzer,
                                       model_complexity, multiply_adds,
                                       multiply_adds_by_op)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
UNSUPPORTED_ATTENTION = (
    'Unsupported operator aten::scaled_dot_product_attention')


@pytest.mark.slow
@pytest.mark.parametrize('variant,gflops', [('t', 4.5), ('s', 7.5),
                                            ('b', 13.1)])
def test_classifier_flops_match_the_paper(variant, gflops):
    cfg = Config.fromfile(str(CONFIGS / f'sepvit_{variant}_300e_in1k.py'))
    result = model_complexity(cfg)
    assert result['shape'] == (224, 224)
    assert abs(result['flops'] / 1e9 - gflops) <= 0.1


def lite_attention(height: int, width: int):
    """The attention of SepViT-Lite on a ``height`` x ``width`` input, in
    closed form: the multiply-adds of its two products in each window
    (depthwise, SDPA) and across windows (pointwise, matmuls), and the
    elements of the depthwise attention's outputs."""
    model = SepViT(arch='lite').eval()
    depthwise = pointwise = outputs = 0
    height, width = height // 4, width // 4
    for stage, channels in zip(model.stages, [32, 64, 128, 256]):
        for block in stage.blocks:
            ws = block.window_size
            windows = math.ceil(height / ws) * math.ceil(width / ws)
            tokens = 1 + ws * ws
            depthwise += channels * 2 * windows * tokens**2
            pointwise += channels * (windows**2 + windows**2 * ws * ws)
            outputs += channels * windows * tokens
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return model, depthwise, pointwise, outputs


def test_attention_products_are_counted():
    """mmengine's counter gives attention exactly its two products in each
    window (depthwise, SDPA) and across windows (pointwise, matmuls)."""
    model, depthwise, pointwise, _ = lite_attention(96, 128)
    counted = flop_analyzer(model, torch.randn(1, 3, 96, 128)).by_operator()
    assert counted['scaled_dot_product_attention'] == depthwise
    assert counted['matmul'] == pointwise


def test_activation_counter_counts_attention():
    """mmengine's activation counter (which get_model_complexity_info and
    mmdet's get_flops run too) counts the attention's output elements, as
    it counts a matrix product's, instead of warning it is unsupported."""
    model, *_, outputs = lite_attention(96, 128)
    counter = ActivationAnalyzer(model, torch.randn(1, 3, 96, 128))
    assert counter.by_operator()['scaled_dot_product_attention'] == outputs
    assert 'aten::scaled_dot_product_attention' not in (
        counter.unsupported_ops())


@pytest.mark.parametrize('query,key,value', [
    ((2, 3, 50, 32), (2, 3, 50, 32), (2, 3, 50, 32)),
    ((1, 4, 17, 16), (1, 4, 9, 16), (1, 4, 9, 24)),
])
def test_one_attention_formula_is_pytorchs(query, key, value):
    """The attention formula both counters share is PyTorch's, in
    multiply-adds (FLOPs / 2), forward and backward."""
    assert 2 * attention_multiply_adds(query, key, value) == sdpa_flop_count(
        query, key, value)
    assert 2 * attention_multiply_adds(
        query, key, value, backward=True) == sdpa_backward_flop_count(
            query[:-1] + value[-1:], query, key, value)


@pytest.mark.slow
def test_multiply_adds_count_the_cpu_kernels_as_the_plain_ops(monkeypatch):
    """The oneDNN linear layers and the CPU flash attention (forward and
    backward) that SepViT runs count as the plain matmuls they replace, and
    the forward is the paper's 4.5 G at 224x224."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    model = build_backbone('SepViT-T')
    x = torch.randn(1, 3, 224, 224)
    forward = forward_step(model, x, amp=False)
    training = training_step(model, x, amp=False)
    fast = multiply_adds_by_op(forward)
    fast_training = multiply_adds_by_op(training)
    attention = 'aten._scaled_dot_product_flash_attention_for_cpu'
    assert 'mkldnn._linear_pointwise' in fast and attention in fast
    assert attention + '_backward' in fast_training
    monkeypatch.setattr(fused_linear, '_onednn_usable', False)
    with sdpa_kernel(SDPBackend.MATH):
        assert multiply_adds(forward) == pytest.approx(sum(fast.values()))
        # The flash backward also recomputes the scores, q @ k^T: half of
        # the forward's attention.
        assert multiply_adds(training) == pytest.approx(
            sum(fast_training.values()) - fast[attention] / 2)
    assert sum(fast.values()) == pytest.approx(4.53, abs=0.01)


@pytest.mark.parametrize('groups', [1, 4, 16])
def test_multiply_adds_of_a_convolution_backward_are_two_forwards(groups):
    """The input and the weight gradient cost one forward each, however
    many groups (PyTorch's own formula counts a depthwise convolution's
    weight gradient once per channel)."""
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, groups=groups)
    x = torch.randn(2, 16, 9, 12, requires_grad=True)
    forward = multiply_adds(lambda: conv(x))
    assert forward == 2 * 32 * (16 // groups) * 9 * 9 * 12 / 1e9
    assert multiply_adds(lambda: conv(x).sum().backward()) == pytest.approx(
        3 * forward)


def test_inference_and_autograd_paths_count_the_same():
    """Eager CPU inference runs the linear layers on oneDNN's fused kernel,
    which the tracer cannot record: it must see (and count) aten::linear."""
    model = SepViT(arch='lite').eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        inference = flop_analyzer(model, x).by_operator()
    autograd = flop_analyzer(model, x).by_operator()
    assert inference['linear'] > 0
    assert inference == autograd


@pytest.mark.slow
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


@pytest.mark.slow
def test_mmengine_counter_equals_get_flops():
    """What mmengine's get_model_complexity_info reports for the backbone,
    the way mmseg's and mmpretrain's get_flops call it, equals our count."""
    cfg = Config.fromfile(str(CONFIGS / 'fpn_sepvit_t_80k_ade20k.py'))
    ours = model_complexity(cfg, (64, 128))
    backbone = SepViT(arch='tiny').eval()
    theirs = get_model_complexity_info(backbone, (3, 64, 128))
    assert theirs['flops'] == ours['backbone_flops']
    assert theirs['params'] == ours['backbone_params']


def read_gflops(log: str, label: str) -> float:
    return float(re.search(rf'{label}:.* ([0-9.]+) GFLOPs', log).group(1))


@pytest.mark.slow
def test_get_flops_tool(tmp_path, run_tool):
    log = run_tool(tmp_path, ROOT / 'tools' / 'get_flops.py',
                   CONFIGS / 'fpn_sepvit_t_80k_ade20k.py', '--shape', '64',
                   '128')
    assert 'Input:    1x3x64x128' in log
    assert 'Backbone: 33.66 M parameters' in log
    assert read_gflops(log, 'Model') > read_gflops(log, 'Backbone') > 0


def package_tool(package, name: str) -> Path:
    return Path(package.__file__).parent / '.mim' / 'tools' / name


def printed_gflops(log: str) -> float:
    """The 'Flops: 1.23G' line of a package's get_flops tool."""
    return float(re.search(r'Flops: ([0-9.]+)G', log).group(1))


@pytest.mark.slow
def test_mmpretrain_get_flops_counts_sepvit(tmp_path, run_tool):
    """mmpretrain's tool counts the backbone and the neck (a global pool of
    a few thousand FLOPs); without mmsepvit's handle it would miss about
    0.25 GFLOPs of attention."""
    config = CONFIGS / 'sepvit_t_300e_in1k.py'
    log = run_tool(tmp_path,
                   package_tool(mmpretrain, 'analysis_tools/get_flops.py'),
                   config)
    assert UNSUPPORTED_ATTENTION not in log
    expected = model_complexity(Config.fromfile(str(config)))
    assert printed_gflops(log) == pytest.approx(
        expected['backbone_flops'] / 1e9, abs=1e-3)


@pytest.mark.slow
def test_mmdet_get_flops_counts_sepvit(toy_workspace, run_tool):
    """mmdet's tool takes its input from the validation data: toy COCO,
    128x128."""
    config = CONFIGS / 'toy' / 'retinanet_sepvit_t_toy_coco.py'
    log = run_tool(toy_workspace,
                   package_tool(mmdet, 'analysis_tools/get_flops.py'), config,
                   '--num-images', '1')
    assert 'Input shape: (128, 128)' in log
    assert UNSUPPORTED_ATTENTION not in log
    expected = model_complexity(Config.fromfile(str(config)), (128, 128))
    assert printed_gflops(log) == pytest.approx(
        expected['flops'] / 1e9, rel=1e-3)


def test_unknown_codebase_is_named():
    with pytest.raises(ValueError, match="default_scope 'mmfoo'"):
        model_complexity(Config(dict(default_scope='mmfoo', model=dict())))
