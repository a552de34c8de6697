"""tools/benchmark.py builds its peers from the installed packages and
reports ratios to SepViT-T (its timings are not tested)."""
import importlib.util
import mmap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('benchmark',
                                              ROOT / 'tools' / 'benchmark.py')
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)


@pytest.mark.parametrize('name', list(benchmark.BACKBONES))
def test_every_backbone_builds_with_four_outputs(name):
    model = benchmark.build_backbone(name)
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert len(outs) == 4
    assert [out.shape[-1] for out in outs] == [16, 8, 4, 2]


def test_table_has_ratios_to_sepvit_t():
    figures = {key: 2.0 for key, *_ in benchmark.COLUMNS}
    table = benchmark.format_table({
        'SepViT-T': figures,
        'Swin-T': {
            key: 3.0
            for key in figures
        }
    })
    header, rule, sepvit, swin = table.splitlines()
    assert 'lat 800x1280 (ms)' in header and set(rule) <= {'|', '-'}
    assert sepvit.count('(1.00x)') == len(benchmark.COLUMNS)
    assert swin.count('(1.50x)') == len(benchmark.COLUMNS)


def test_multiply_adds_count_the_cpu_kernels_as_the_plain_ops(monkeypatch):
    """The oneDNN linear layers and the CPU flash attention (forward and
    backward) that SepViT runs count as the plain matmuls they replace, and
    the forward is the paper's 4.5 G at 224x224."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from mmsepvit.models import fused_linear
    model = benchmark.build_backbone('SepViT-T')
    x = torch.randn(1, 3, 224, 224)
    forward = benchmark.forward_step(model, x, amp=False)
    training = benchmark.training_step(model, x, amp=False)
    fast = benchmark.multiply_adds_by_op(forward)
    fast_training = benchmark.multiply_adds_by_op(training)
    attention = 'aten._scaled_dot_product_flash_attention_for_cpu'
    assert 'mkldnn._linear_pointwise' in fast and attention in fast
    assert attention + '_backward' in fast_training
    monkeypatch.setattr(fused_linear, '_onednn_usable', False)
    with sdpa_kernel(SDPBackend.MATH):
        assert benchmark.multiply_adds(forward) == pytest.approx(
            sum(fast.values()))
        # The flash backward also recomputes the scores, q @ k^T: half of
        # the forward's attention.
        assert benchmark.multiply_adds(training) == pytest.approx(
            sum(fast_training.values()) - fast[attention] / 2)
    assert sum(fast.values()) == pytest.approx(4.53, abs=0.01)


@pytest.mark.parametrize('groups', [1, 4, 16])
def test_multiply_adds_of_a_convolution_backward_are_two_forwards(groups):
    """The input and the weight gradient cost one forward each, however
    many groups (PyTorch's own formula counts a depthwise convolution's
    weight gradient once per channel)."""
    conv = torch.nn.Conv2d(16, 32, 3, padding=1, groups=groups)
    x = torch.randn(2, 16, 9, 12, requires_grad=True)
    forward = benchmark.multiply_adds(lambda: conv(x))
    assert forward == 2 * 32 * (16 // groups) * 9 * 9 * 12 / 1e9
    assert benchmark.multiply_adds(
        lambda: conv(x).sum().backward()) == pytest.approx(3 * forward)


def test_cuda_path_runs_bf16_attention_with_flash_shapes(monkeypatch):
    """The CUDA path (bf16 autocast) run on the CPU with --amp: every
    attention call is bf16 with a head dim of 32 and no mask, shapes that
    flash and cuDNN attention take, and a training step runs."""
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def recording(q, k, v, *args, **kwargs):
        calls.append((q.dtype, q.shape[-1], k.shape[-1], v.shape[-1],
                      kwargs.get('attn_mask'), q.stride(-1)))
        return sdpa(q, k, v, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, 'scaled_dot_product_attention',
                        recording)
    model = benchmark.build_backbone('SepViT-T')
    x = torch.randn(1, 3, 64, 96)
    benchmark.forward_step(model, x, amp=True)()
    assert calls and set(calls) == {(torch.bfloat16, 32, 32, 32, None, 1)}
    benchmark.training_step(model, x, amp=True)()
    assert all(p.grad is not None for p in model.parameters())


def test_sweep_measures_plots_and_tabulates(monkeypatch, tmp_path):
    monkeypatch.setattr(benchmark, 'SWEEP_SIZES', [(64, 64), (64, 96),
                                                   (96, 128)])
    model = benchmark.build_backbone('SepViT-T')
    forward = benchmark.measure_sweep(
        model, 'cpu', 1, False, training=False, max_pixels=float('inf'))
    training = benchmark.measure_sweep(
        model, 'cpu', 1, False, training=True, max_pixels=64 * 96)
    assert list(forward) == ['64x64', '64x96', '96x128']
    assert list(training) == ['64x64', '64x96']  # the pixel limit
    assert all(f['ms'] > 0 and f['peak_mib'] >= 0 for f in forward.values())
    sizes = list(forward)
    report = dict(
        device='cpu',
        sizes=sizes,
        models={'SepViT-T': dict(forward=forward, training=training)},
        sepvit_t_flops=benchmark.sepvit_flop_shares(sizes))
    shares = [s['pointwise'] for s in report['sepvit_t_flops'].values()]
    assert 0 < shares[0] < shares[-1] < 1  # quadratic in the windows
    benchmark.plot_sweep(report, str(tmp_path / 'sweep.png'))
    assert (tmp_path / 'sweep.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    table = benchmark.format_sweep(report).splitlines()
    assert len(table) == 1 + len(sizes) and table[1].startswith('| 64x64 |')


def test_profile_breakdown_sorts_time_by_kind():
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.LayerNorm(256))
    totals = benchmark.profile_breakdown(
        benchmark.training_step(model, torch.randn(512, 64), amp=False))
    assert totals['linear layers (GEMM)'] > 0
    assert totals['LayerNorm'] > 0 and totals['optimizer'] > 0
    assert totals['attention'] == 0


def test_page_faults_count_the_pages_a_step_maps_anew():
    size = 64 * 2**20
    data = b'\1' * size

    def fresh():  # anonymous memory, mapped by the kernel on first touch
        with mmap.mmap(-1, size) as buffer:
            buffer[:] = data

    kept = torch.zeros(size // 4)

    def reuse():
        kept.fill_(1)

    faults = benchmark.page_faults(fresh)
    assert faults >= size // (2 * 2**20)  # one per page, or per huge page
    assert benchmark.page_faults(reuse) * 10 < faults


def test_runtime_rows_are_checked_exports():
    """The ONNX Runtime and OpenVINO rows time an export whose outputs
    match PyTorch's."""
    model = benchmark.build_backbone('SepViT-T')
    rows = benchmark.measure_runtimes(model, 1, 1, shape=(64, 96))
    assert set(rows) == {'onnxruntime', 'openvino'}
    for figures in rows.values():
        assert figures['latency_64x96'] > 0
        assert figures['max_rel_error'] < 1e-4
