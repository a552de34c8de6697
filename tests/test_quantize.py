"""Post-training INT8 quantization with NNCF (mmsepvit.deploy.quantize,
tools/deployment/quantize.py): missing data named before any export, the
calibration size capped at the training set, and one end-to-end run of the
tool on an untrained micro segmentor (``slow``)."""
import re
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from mmsepvit.deploy import (DEFAULT_CALIB_SIZE, MissingDataError,
                             build_model_for_export, calibration_size,
                             check_data, quantize_config)
from mmsepvit.deploy.quantize import (_group_outputs, calibration_indices,
                                      prepare)

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'deployment' / 'quantize.py'
TOY = ROOT / 'configs' / 'toy'
MICRO = dict(
    embed_dims=[32, 64, 128, 256],
    num_heads=[1, 2, 4, 8],
    depths=[1, 1, 1, 1],
    window_sizes=[[7], [14], [7], [7]])
# INT8 against float on the raw logits: 8-bit activations carry about 2
# significant digits and the micro model quantizes about ten matrix products
# and convolutions in a row. Measured: 0.03 on this test's untrained micro
# segmentor (its initialisation is not seeded), 0.10 at worst over the 60
# val images of the micro segmentor trained 100 iterations. A broken
# quantization (wrong scales, unnormalised calibration inputs) shows as
# errors of order 1.
INT8_RTOL = 0.15


def micro_config(folder: Path, name: str) -> Path:
    """A toy config with the one-block-per-stage SepViT, as a file."""
    path = folder / f'{name}_micro.py'
    path.write_text(
        f"_base_ = '{TOY / name}.py'\n"
        f"model = dict(neck=dict(in_channels={MICRO['embed_dims']}), "
        f'backbone=dict(arch=dict(_delete_=True, **{MICRO!r})))\n')
    return path


def test_calibration_size_is_capped():
    assert DEFAULT_CALIB_SIZE == 300
    assert calibration_size(300, 8) == 8
    assert calibration_size(5, 8) == 5
    with pytest.raises(ValueError, match='--calib-size must be at least 1'):
        calibration_size(0, 8)
    with pytest.raises(ValueError, match='training set is empty'):
        calibration_size(300, 0)
    # Spread over the set, first and last included, no repeats.
    indices = calibration_indices(4, 320)
    assert indices[0] == 0 and indices[-1] == 319 and len(indices) == 4
    assert calibration_indices(8, 8) == list(range(8))


@pytest.mark.parametrize(
    'name', ['retinanet_sepvit_t_toy_coco', 'fpn_sepvit_t_toy_ade20k'])
def test_missing_data_is_named_before_export(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/ here
    cfg = Config.fromfile(str(TOY / f'{name}.py'))
    root = cfg.train_dataloader.dataset.data_root
    with pytest.raises(MissingDataError) as error:
        quantize_config(cfg, work_dir=str(tmp_path / 'out'))
    message = str(error.value)
    assert f'{root} (calibration data, from ' \
           'train_dataloader.dataset.data_root)' in message
    assert 'val_dataloader.dataset.data_root' in message
    assert 'make_toy_data.py' in message
    assert not (tmp_path / 'out').exists()  # nothing built or exported


def test_missing_annotation_file_is_named(toy_workspace, tmp_path,
                                          monkeypatch):
    monkeypatch.chdir(toy_workspace)
    cfg = Config.fromfile(str(TOY / 'retinanet_sepvit_t_toy_coco.py'))
    check_data(cfg)  # the workspace has all of it
    cfg.train_dataloader.dataset.ann_file = 'annotations/none.json'
    with pytest.raises(MissingDataError) as error:
        check_data(cfg)
    assert ('data/toy_coco/annotations/none.json (calibration data, from '
            'train_dataloader.dataset.ann_file)') in str(error.value)
    assert 'val_dataloader' not in str(error.value)


def test_outputs_regrouped_as_the_head_returns_them():
    names = ['cls_score_0', 'cls_score_1', 'bbox_pred_0', 'bbox_pred_1']
    arrays = [np.full((1, 2), i, np.float32) for i in range(4)]
    groups = _group_outputs(names, arrays)
    assert [[float(t[0, 0]) for t in g] for g in groups] == [[0, 1], [2, 3]]
    seg = _group_outputs(['seg_logits'], arrays[:1])
    assert len(seg) == 1 and seg[0].shape == (1, 2)
    cls = _group_outputs(['cls_score', 'pred_score'], arrays[:2])
    assert [float(t[0, 0]) for t in cls] == [0, 1]


def test_padding_to_the_export_shape(toy_workspace, tmp_path, monkeypatch):
    """Inputs are padded like the preprocessor pads; a segmentor's padding
    is recorded so its logits are cropped back; a larger image is an
    error."""
    from mmengine.registry import DATASETS
    monkeypatch.chdir(toy_workspace)
    config = micro_config(tmp_path, 'fpn_sepvit_t_toy_ade20k')
    model = build_model_for_export(str(config))
    cfg = Config.fromfile(str(config))
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    plain, _ = prepare(model, dataset[0], None)
    assert tuple(plain.shape) == (1, 3, 128, 128)
    padded, samples = prepare(model, dataset[0], (160, 192))
    assert tuple(padded.shape) == (1, 3, 160, 192)
    assert padded[..., :128, :128].equal(plain)
    assert not padded[..., 128:, :].any() and not padded[..., 128:].any()
    assert samples[0].padding_size == [0, 64, 0, 32]
    assert samples[0].pad_shape == (160, 192)
    with pytest.raises(ValueError, match='larger than the export shape 96x'):
        prepare(model, dataset[0], (96, 192))


@pytest.mark.slow
def test_tool_end_to_end(toy_workspace, tmp_path, run_tool):
    """An untrained micro segmentor: the tool calibrates, quantizes,
    evaluates both models and times them; the INT8 logits stay close to
    the float ones."""
    config = micro_config(tmp_path, 'fpn_sepvit_t_toy_ade20k')
    work_dir = tmp_path / 'int8'
    output = run_tool(toy_workspace, TOOL, config, '--work-dir', work_dir,
                      '--calib-size', '300', '--runs', '3', '--threads', '1')
    assert ('Calibrated on 8 of 8 training images (val pipeline, '
            '--calib-size 300 capped at the training set); evaluated on 4 '
            'val images') in output
    for metric in ('mIoU', 'aAcc', 'mAcc'):
        row = re.search(
            rf'^\| {metric} \| ([\d.]+) \| ([\d.]+) \| '
            r'([-+][\d.]+) \|$', output, re.M)
        assert row, output
        float_, int8, diff = (float(v) for v in row.groups())
        assert diff == pytest.approx(int8 - float_, abs=2e-4)
    latency = re.search(
        r'^\| latency \(ms, batch 1, 1 thread, median of 3\) \| ([\d.]+) \| '
        r'([\d.]+) \| speed-up ([\d.]+)x \|$', output, re.M)
    assert latency, output
    assert float(latency[1]) > 0 and float(latency[2]) > 0
    error = re.search(r'largest relative error ([\d.]+) \(seg_logits\)',
                      output)
    assert error and float(error[1]) < INT8_RTOL, output
    name = config.stem
    for suffix in ('_int8.xml', '_int8.bin', '_fp32.xml', '.onnx'):
        assert (work_dir / f'{name}{suffix}').is_file()
