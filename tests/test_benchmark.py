"""The benchmark (mmsepvit.benchmark, tools/benchmark.py) builds its peers
as their codebases publish them and reports ratios to SepViT-T (its timings
are not tested)."""
import json
import mmap
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import MODELS

from mmsepvit.benchmark.measure import (forward_step, matmul_rates,
                                        measure_runtimes, measure_sweep,
                                        training_step)
from mmsepvit.benchmark.models import (BACKBONES, backbone_config,
                                       build_backbone)
from mmsepvit.benchmark.profile import page_faults, profile_breakdown
from mmsepvit.benchmark.report import (COLUMNS, add_peak_shares, format_peak,
                                       format_table, with_multiply_adds)
from mmsepvit.benchmark.runtime_profile import (run_runtime_profile,
                                                runtime_breakdowns)
from mmsepvit.benchmark.sweep import (format_sweep, plot_sweep,
                                      sepvit_flop_shares)

ROOT = Path(__file__).resolve().parents[1]
# The config whose backbone each row of the table restates.
PUBLISHED = {
    'SepViT-T': 'configs/retinanet_sepvit_t_1x_coco.py',
    'SepViT-S': 'configs/retinanet_sepvit_s_1x_coco.py',
    'SepViT-B': 'configs/upernet_sepvit_b_160k_ade20k.py',
    'Swin-T': 'mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py',
    'Swin-S': 'mmdet::swin/mask-rcnn_swin-s-p4-w7_fpn_amp-ms-crop-3x_coco.py',
    'PVTv2-b2': 'mmdet::pvt/retinanet_pvtv2-b2_fpn_1x_coco.py',
    'Twins-SVT-S':
    'mmseg::twins/twins_svt-s_fpn_fpnhead_8xb4-80k_ade20k-512x512.py',
    'DualViT-S': 'configs/retinanet_dualvit_s_1x_coco.py',
    'Shuffle-T': 'configs/mask_rcnn_shuffle_t_1x_coco.py',
    'MSG-T': 'configs/cascade_mask_rcnn_msg_t_3x_ms_coco.py',
}
# What the rows leave out: weights and outputs, the same for every row.
NOT_RESTATED = ('init_cfg', 'pretrained', 'out_indices', 'convert_weights',
                '_delete_')
# A four-stage SepViT of 8 to 64 channels, to run the tool quickly.
MICRO_SEPVIT = ("mmsepvit.SepViT:arch={'embed_dims':[8,16,32,64],"
                "'num_heads':[1,1,2,2],'depths':[1,1,1,1],"
                "'window_sizes':[[7],[7],[7],[7]]},drop_path_rate=0.1")


def test_rows_restate_the_published_backbones():
    assert set(PUBLISHED) == set(BACKBONES)
    for name, path in PUBLISHED.items():
        cfg = get_config(path) if '::' in path else Config.fromfile(
            str(ROOT / path))
        published = {
            key: value
            for key, value in cfg.model.backbone.to_dict().items()
            if key not in NOT_RESTATED
        }
        ours = dict(BACKBONES[name])
        assert MODELS.get(ours.pop('type')) is MODELS.get(
            f"{cfg.default_scope}.{published.pop('type')}"), name
        assert ours == published, name


@pytest.mark.parametrize('name', list(BACKBONES))
def test_every_backbone_builds_with_four_outputs(name):
    model = build_backbone(name)
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert len(outs) == 4
    assert [out.shape[-1] for out in outs] == [16, 8, 4, 2]


def test_a_backbone_is_named_by_its_type_and_arguments():
    assert backbone_config('mmsepvit.SepViT:arch=lite,drop_path_rate=0.1') \
        == dict(type='mmsepvit.SepViT', arch='lite', drop_path_rate=0.1)
    assert backbone_config('mmdet.SwinTransformer:depths=(2, 2, 18, 2)') \
        == dict(type='mmdet.SwinTransformer', depths=(2, 2, 18, 2))
    model = build_backbone(MICRO_SEPVIT)
    assert model.arch_settings['embed_dims'] == [8, 16, 32, 64]
    assert list(model.out_indices) == [0, 1, 2, 3]
    assert list(
        build_backbone('mmsepvit.SepViT:out_indices=(3,)').out_indices) == [3]


@pytest.mark.parametrize('name,problem', [
    ('Swin-X', "unknown backbone 'Swin-X'.*'SepViT-T'"),
    ('SepViT:arch=lite', 'registry type with its scope'),
    ('mmsepvit.SepViT:arch=', 'cannot read the arguments'),
    ('mmsepvit.SepViT:lite', 'every argument needs a name'),
    ('mmsepvit.SepViT:arch=lite(1)', 'cannot read the arguments'),
])
def test_a_bad_backbone_name_says_what_is_wrong(name, problem):
    with pytest.raises(ValueError, match=problem):
        backbone_config(name)


def test_table_has_ratios_to_sepvit_t():
    figures = {key: 2.0 for key, *_ in COLUMNS}
    table = format_table({
        'SepViT-T': figures,
        'Swin-T': {
            key: 3.0
            for key in figures
        }
    })
    header, rule, sepvit, swin = table.splitlines()
    assert 'lat 800x1280 (ms)' in header and set(rule) <= {'|', '-'}
    assert sepvit.count('(1.00x)') == len(COLUMNS)
    assert swin.count('(1.50x)') == len(COLUMNS)


def test_rates_are_shares_of_the_matmul_peak():
    """A runtime row runs the exported PyTorch forward: the same
    multiply-adds, at its own latency."""
    figures = {
        'SepViT-T':
        dict(
            gmacs_800x1280=100.,
            latency_800x1280=1000.,
            gmacs_per_s_800x1280=100.,
            train_gmacs_per_s=50.),
        'SepViT-T (OpenVINO)':
        dict(latency_800x1280=500.),
    }
    with_multiply_adds({'SepViT-T (OpenVINO)': figures['SepViT-T (OpenVINO)']},
                       figures['SepViT-T']['gmacs_800x1280'])
    for row in figures.values():
        add_peak_shares(row, peak=400.)
    assert figures['SepViT-T']['peak_share_800x1280'] == 0.25
    assert figures['SepViT-T']['train_peak_share'] == 0.125
    runtime = figures['SepViT-T (OpenVINO)']
    assert runtime['gmacs_per_s_800x1280'] == 200.
    assert runtime['peak_share_800x1280'] == 0.5
    assert 'train_peak_share' not in runtime


def test_matmul_peak_is_the_fastest_kernel_library():
    """PyTorch's BLAS and oneDNN are both probed on the CPU (they differ
    by about twice on AMD CPUs), and the peak named is the faster."""
    rates = matmul_rates('cpu', runs=2, size=256)
    assert set(rates) == {'BLAS matmul', 'oneDNN'}
    assert all(rate > 0 for rate in rates.values())
    line = format_peak({'BLAS matmul': 95., 'oneDNN': 213.})
    assert '213 G multiply-adds/s (oneDNN; BLAS matmul 95)' in line
    assert format_peak({'BLAS matmul': 95.}).endswith('(BLAS matmul)')


@pytest.mark.slow
def test_allocator_comparison_keeps_freed_memory(tmp_path, run_tool):
    """--allocators: the same training step in two workers, the second with
    glibc keeping freed memory, which the page faults show."""
    log = run_tool(tmp_path, ROOT / 'tools' / 'benchmark.py', '--allocators',
                   '--models', MICRO_SEPVIT, '--runs', '2', '--threads', '1',
                   '--json', 'figures.json')
    assert 'page faults per step' in log
    figures = json.loads((tmp_path / 'figures.json').read_text())
    default = figures[f'{MICRO_SEPVIT} (glibc default)']
    keep = figures[f'{MICRO_SEPVIT} (keep freed)']
    assert keep['train_page_faults'] < default['train_page_faults'] / 2
    assert keep['train_ms'] > 0


@pytest.mark.slow
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
    model = build_backbone('SepViT-T')
    x = torch.randn(1, 3, 64, 96)
    forward_step(model, x, amp=True)()
    assert calls and set(calls) == {(torch.bfloat16, 32, 32, 32, None, 1)}
    training_step(model, x, amp=True)()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.slow
def test_sweep_measures_plots_and_tabulates(tmp_path):
    sizes = [(64, 64), (64, 96), (96, 128)]
    model = build_backbone('SepViT-T')
    forward = measure_sweep(
        model,
        'cpu',
        1,
        False,
        training=False,
        max_pixels=float('inf'),
        sizes=sizes)
    training = measure_sweep(
        model, 'cpu', 1, False, training=True, max_pixels=64 * 96, sizes=sizes)
    assert list(forward) == ['64x64', '64x96', '96x128']
    assert list(training) == ['64x64', '64x96']  # the pixel limit
    assert all(f['ms'] > 0 and f['peak_mib'] >= 0 for f in forward.values())
    sizes = list(forward)
    report = dict(
        device='cpu',
        sizes=sizes,
        models={'SepViT-T': dict(forward=forward, training=training)},
        sepvit_t_flops=sepvit_flop_shares(sizes))
    shares = [s['pointwise'] for s in report['sepvit_t_flops'].values()]
    assert 0 < shares[0] < shares[-1] < 1  # quadratic in the windows
    plot_sweep(report, str(tmp_path / 'sweep.png'))
    assert (tmp_path / 'sweep.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    table = format_sweep(report).splitlines()
    assert len(table) == 1 + len(sizes) and table[1].startswith('| 64x64 |')


def test_profile_breakdown_sorts_time_by_kind():
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 256), torch.nn.GELU(), torch.nn.LayerNorm(256))
    totals = profile_breakdown(
        training_step(model, torch.randn(512, 64), amp=False))
    assert totals['linear layers (GEMM)'] > 0
    assert totals['LayerNorm'] > 0 and totals['optimizer'] > 0
    assert totals['attention'] == 0


@pytest.mark.slow
def test_runtime_profile_counts_the_exported_graph(capsys):
    """Both runtimes' counters see the micro SepViT's matrix products, and
    the printed tables hold the times they return."""
    breakdowns = run_runtime_profile(
        MICRO_SEPVIT, threads=1, shape=(64, 96), runs=2)
    openvino, onnxruntime = breakdowns['openvino'], breakdowns['onnxruntime']
    assert openvino['FullyConnected'] > 0
    assert onnxruntime.get('MatMul', 0) + onnxruntime.get('Gemm', 0) > 0
    printed = capsys.readouterr().out
    assert 'exported at 64x96' in printed
    assert f"| total | {sum(openvino.values()):.1f} |" in printed


class TrainReturnsNone(torch.nn.Sequential):
    """Overrides ``train`` without returning self, as mmdet's Swin does."""

    def train(self, mode=True):
        super().train(mode)


def test_runtime_breakdowns_of_a_backbone_whose_train_returns_none():
    model = TrainReturnsNone(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    breakdowns = runtime_breakdowns(model, (32, 32), threads=1, runs=1)
    assert sum(breakdowns['openvino'].values()) > 0
    assert sum(breakdowns['onnxruntime'].values()) > 0


def test_page_faults_count_the_pages_a_step_maps_anew():
    size = 64 * 2**20
    data = b'\1' * size

    def fresh():  # anonymous memory, mapped by the kernel on first touch
        with mmap.mmap(-1, size) as buffer:
            buffer[:] = data

    kept = torch.zeros(size // 4)

    def reuse():
        kept.fill_(1)

    faults = page_faults(fresh)
    assert faults >= size // (2 * 2**20)  # one per page, or per huge page
    assert page_faults(reuse) * 10 < faults


@pytest.mark.slow
def test_runtime_rows_are_checked_exports():
    """The ONNX Runtime and OpenVINO rows time an export whose outputs
    match PyTorch's."""
    model = build_backbone('SepViT-T')
    rows = measure_runtimes(model, 1, 1, shape=(64, 96))
    assert set(rows) == {'onnxruntime', 'openvino'}
    for figures in rows.values():
        assert figures['latency_64x96'] > 0
        assert figures['max_rel_error'] < 1e-4


@pytest.mark.slow
def test_tool_measures_a_backbone_in_worker_processes(tmp_path, run_tool):
    """The default run end to end: a backbone outside the table, measured
    in a worker process per part, as a table and as JSON."""
    log = run_tool(tmp_path, ROOT / 'tools' / 'benchmark.py', '--models',
                   MICRO_SEPVIT, '--devices', 'cpu', '--runs', '1',
                   '--threads', '1', '--json', 'figures.json')
    assert '## cpu: 1 threads' in log and 'matmul peak' in log
    figures = json.loads((tmp_path / 'figures.json').read_text())
    row = figures['cpu']['models'][MICRO_SEPVIT]
    assert set(row) == {key for key, *_ in COLUMNS}
    assert f'| {MICRO_SEPVIT} |' in log and '(1.00x)' not in log
    assert 0 < row['params_m'] < 1 and row['train_gmacs'] > 0
