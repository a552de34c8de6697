"""tools/benchmark.py builds its peers from the installed packages and
reports ratios to SepViT-T (its timings are not tested)."""
import importlib.util
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
