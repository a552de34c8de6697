# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Post-training INT8 quantization with NNCF, calibrated on the config's own
training images and evaluated against the float model on its val set.

The exported graph (:mod:`.model`: the tensor forward before decoding) is
read into OpenVINO and quantized by ``nncf.quantize`` with the transformer
model type (its default preset for transformers, ``mixed``: symmetric
weights, asymmetric activations, which suits the GELU and softmax outputs
SepViT feeds its matrix products). Calibration runs the training images
through the *val* pipeline and the model's data preprocessor: deployment
inputs, without the training augmentations. Calibrating on the val set
that is then evaluated would leak it into the result.

Evaluation runs the float (OpenVINO f32) and the INT8 model on each val
image in turn and lets the PyTorch model decode their outputs: its feature
extraction passes the batch through and its head's forward is the runtime
call, so ``predict`` (mmdet's ``predict_by_feat``, mmseg's resize and
``postprocess_result``, mmpretrain's head) builds the data samples the
config's evaluator reads, as ``tools/test.py`` would.

nncf is part of the ``[deploy]`` extra, imported only here, when used.
"""
import contextlib
import copy
import logging
import os
import os.path as osp
import re
import statistics
import time
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config

from mmsepvit.utils.measure import relative_error
from .export import export_onnx
from .model import TensorOutputs, build_model_for_export, load_config
from .runtimes import openvino_compiled, require
from .shapes import check_shape

PRESETS = ('mixed', 'performance')
DEFAULT_CALIB_SIZE = 300
# The metric each codebase's tools report first.
MAIN_METRICS = dict(
    detector='coco/bbox_mAP', segmentor='mIoU', classifier='accuracy/top1')
# Runtimes by name, each ``run(inputs) -> [outputs]``.
Runners = Dict[str, Callable[[np.ndarray], List[np.ndarray]]]


class MissingDataError(FileNotFoundError):
    """The images or annotations calibration or evaluation needs are not
    where the config says."""


def calibration_size(requested: int, available: int) -> int:
    """The number of calibration images: ``requested``, capped at the
    ``available`` training images.

    Raises:
        ValueError: ``requested`` is under 1, or there are no images.
    """
    if requested < 1:
        raise ValueError(f'--calib-size must be at least 1, got {requested}')
    if available < 1:
        raise ValueError('the training set is empty: nothing to calibrate on')
    return min(int(requested), int(available))


def calibration_indices(size: int, available: int) -> List[int]:
    """``size`` indices spread evenly over ``available`` images (datasets
    are often sorted by scene or class, so not the first ``size``)."""
    return sorted(
        {int(i)
         for i in np.linspace(0, available - 1, size).round()})


def _leaf_datasets(cfg: dict, key: str) -> Iterator[Tuple[str, dict]]:
    """The dataset dicts under ``cfg`` (through RepeatDataset-like
    ``dataset`` and ConcatDataset ``datasets`` wrappers), with their keys."""
    if 'dataset' in cfg and isinstance(cfg['dataset'], dict):
        yield from _leaf_datasets(cfg['dataset'], f'{key}.dataset')
    elif 'datasets' in cfg:
        for i, sub in enumerate(cfg['datasets']):
            yield from _leaf_datasets(sub, f'{key}.datasets.{i}')
    else:
        yield key, cfg


def _joined(root: str, path: str) -> str:
    # As mmengine's BaseDataset joins them: an absolute path stays.
    return path if not root or osp.isabs(path) else osp.join(root, path)


def _missing_paths(dataset: dict, key: str) -> List[Tuple[str, str]]:
    """``(path, config key)`` of each file or folder of ``dataset`` that
    does not exist."""
    root = dataset.get('data_root') or ''
    if root and not osp.isdir(root):
        return [(root, f'{key}.data_root')]
    missing = []
    ann_file = dataset.get('ann_file') or ''
    if ann_file and not osp.exists(_joined(root, ann_file)):
        missing.append((_joined(root, ann_file), f'{key}.ann_file'))
    prefix = dataset.get('data_prefix') or {}
    prefixes = prefix.items() if isinstance(prefix, dict) else [('', prefix)]
    for name, folder in prefixes:
        if folder and not osp.isdir(_joined(root, folder)):
            suffix = f'.{name}' if name else ''
            missing.append((_joined(root,
                                    folder), f'{key}.data_prefix{suffix}'))
    return missing


def check_data(cfg: Config) -> None:
    """Check that the training images (calibration), the val images and the
    evaluator's annotation file (evaluation) exist, before anything is
    exported.

    Raises:
        MissingDataError: Naming each missing path and the config key that
            points at it.
    """
    missing = []
    for use, loader in (('calibration', 'train_dataloader'),
                        ('evaluation', 'val_dataloader')):
        if not isinstance(cfg.get(loader), dict):
            raise MissingDataError(
                f'{cfg.filename or "the config"} has no {loader}, which '
                f'{use} reads')
        for key, dataset in _leaf_datasets(cfg[loader]['dataset'],
                                           f'{loader}.dataset'):
            missing += [(use, path, k)
                        for path, k in _missing_paths(dataset, key)]
    evaluators = cfg.get('val_evaluator') or []
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    for i, evaluator in enumerate(evaluators):
        ann_file = evaluator.get('ann_file')
        key = 'val_evaluator' + (f'.{i}' if len(evaluators) > 1 else '')
        if ann_file and not osp.exists(ann_file):
            missing.append(('evaluation', ann_file, f'{key}.ann_file'))
    if missing:
        lines = '\n'.join(f'  {path} ({use} data, from {key})'
                          for use, path, key in missing)
        raise MissingDataError(
            f'data missing for quantization of '
            f'{cfg.filename or "the config"}:\n{lines}\nGenerate or link '
            'the dataset there (the toy data: tools/misc/make_toy_data.py), '
            'or point these keys at it with --cfg-options; paths are read '
            f'from the current directory ({os.getcwd()}).')


def _calibration_dataset_cfg(cfg: Config) -> dict:
    """The training dataset with the val pipeline (deployment inputs, not
    augmented ones)."""
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    pipeline = next(d
                    for _, d in _leaf_datasets(cfg.val_dataloader.dataset, '')
                    if 'pipeline' in d)['pipeline']
    for _, leaf in _leaf_datasets(dataset, ''):
        leaf['pipeline'] = copy.deepcopy(pipeline)
    return dataset


def _build_dataset(dataset_cfg: dict):
    from mmengine.registry import DATASETS
    return DATASETS.build(dataset_cfg)


def prepare(tensor_model: TensorOutputs, sample: dict,
            shape: Optional[Tuple[int, int]]) -> Tuple[torch.Tensor, list]:
    """One dataset item through the model's data preprocessor, padded with
    zeros at the bottom and right to ``shape`` (as the preprocessor pads
    normalised images), with the metadata of the padded batch.

    Raises:
        ValueError: The image is larger than ``shape``.
    """
    from mmengine.dataset import pseudo_collate
    model = tensor_model.model
    with torch.no_grad():
        data = model.data_preprocessor(pseudo_collate([sample]), False)
    inputs, samples = data['inputs'], data.get('data_samples')
    height, width = inputs.shape[-2:]
    if shape is None:
        return inputs, samples
    full_h, full_w = shape
    if height > full_h or width > full_w:
        path = samples[0].metainfo.get('img_path', '') if samples else ''
        raise ValueError(
            f'a preprocessed image {path} is {height}x{width}, larger than '
            f'the export shape {full_h}x{full_w}: pass a --shape that holds '
            'every val and calibration image')
    pad_h, pad_w = full_h - height, full_w - width
    if pad_h or pad_w:
        inputs = F.pad(inputs, (0, pad_w, 0, pad_h))
    for data_sample in samples or []:
        meta = dict(batch_input_shape=(full_h, full_w))
        if tensor_model.task == 'segmentor':
            # mmseg resizes logits to pad_shape, then crops padding_size.
            left, right, top, bottom = data_sample.metainfo.get(
                'padding_size', [0] * 4)
            meta.update(
                pad_shape=(full_h, full_w),
                padding_size=[left, right + pad_w, top, bottom + pad_h])
        elif tensor_model.task == 'detector':
            meta.update(pad_shape=(full_h, full_w))
        data_sample.set_metainfo(meta)
    return inputs, samples


def _group_outputs(names: Sequence[str], arrays: Sequence[np.ndarray]) -> list:
    """The flat outputs regrouped as the head returned them: ``x_0``,
    ``x_1``, ... into one list, other names as single tensors."""
    groups: List[Tuple[str, list]] = []
    for name, array in zip(names, arrays):
        match = re.fullmatch(r'(.+)_(\d+)', name)
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if (match and groups and groups[-1][0] == match[1]
                and isinstance(groups[-1][1], list)
                and int(match[2]) == len(groups[-1][1])):
            groups[-1][1].append(tensor)
        elif match and int(match[2]) == 0:
            groups.append((match[1], [tensor]))
        else:
            groups.append((name, tensor))
    return [value for _, value in groups]


def _head_of(tensor_model: TensorOutputs):
    """The head whose forward the exported graph ends with, and how its
    outputs are regrouped."""
    model, task = tensor_model.model, tensor_model.task
    if task == 'detector':
        from mmdet.models.detectors import SingleStageDetector
        if not isinstance(model, SingleStageDetector):
            raise TypeError(
                f'cannot evaluate a quantized {type(model).__name__}: its '
                'RoI head runs outside the exported graph; single-stage '
                'detectors, segmentors and classifiers are supported')
        return model.bbox_head, tuple
    if task == 'segmentor':
        from mmseg.models.segmentors import (CascadeEncoderDecoder,
                                             EncoderDecoder)
        if (not isinstance(model, EncoderDecoder)
                or isinstance(model, CascadeEncoderDecoder)):
            raise TypeError(f'cannot evaluate a quantized '
                            f'{type(model).__name__}: EncoderDecoder only')
        return model.decode_head, lambda groups: groups[0]
    if task == 'classifier':
        return model.head, lambda groups: groups[0]
    raise TypeError(f'cannot quantize a {task}: classifiers, detectors and '
                    'segmentors only')


@contextlib.contextmanager
def runtime_forward(tensor_model: TensorOutputs, names: Sequence[str]):
    """Within the context the model's feature extraction passes the batch
    through and its head's forward is ``runner(batch)`` (set on the
    yielded state), so the model's own ``predict`` decodes a runtime's
    outputs. The raw outputs of the last call are kept in
    ``state['outputs']``."""
    model = tensor_model.model
    head, regroup = _head_of(tensor_model)
    state = dict(runner=None, outputs=None)

    def extract_feat(inputs, *args, **kwargs):
        return inputs

    def forward(inputs, *args, **kwargs):
        arrays = state['runner'](inputs.numpy())
        state['outputs'] = arrays
        return regroup(_group_outputs(names, arrays))

    model.extract_feat = extract_feat
    head.forward = forward
    try:
        yield state
    finally:
        del model.extract_feat
        del head.forward


def _check_runnable(tensor_model: TensorOutputs) -> None:
    """Configurations whose test path the runtime cannot stand in for."""
    _head_of(tensor_model)
    test_cfg = getattr(tensor_model.model, 'test_cfg', None) or {}
    if tensor_model.task == 'segmentor' and test_cfg.get('mode') == 'slide':
        raise ValueError(
            'slide inference runs the model on crops; quantize evaluates '
            "whole images: --cfg-options model.test_cfg.mode=whole")


class _CalibrationData:
    """Preprocessed calibration batches as arrays, made anew on each pass
    (NNCF passes over them more than once; storing them all would not fit
    at real sizes)."""

    def __init__(self, tensor_model, dataset, indices, shape) -> None:
        self.tensor_model = tensor_model
        self.dataset = dataset
        self.indices = indices
        self.shape = shape

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in self.indices:
            inputs, _ = prepare(self.tensor_model, self.dataset[index],
                                self.shape)
            yield inputs.numpy()


def quantize_openvino(onnx_path: str,
                      calibration,
                      size: int,
                      preset: str = 'mixed'):
    """The ONNX model read into OpenVINO and quantized to INT8 by NNCF
    (transformer model type, ``preset``) on ``size`` items of
    ``calibration`` (an iterable of input arrays)."""
    ov = require('openvino')
    nncf = require('nncf')
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from {PRESETS}')
    nncf.set_log_level(logging.ERROR)
    model = ov.Core().read_model(onnx_path)
    return nncf.quantize(
        model,
        nncf.Dataset(calibration),
        preset=getattr(nncf.QuantizationPreset, preset.upper()),
        model_type=nncf.ModelType.TRANSFORMER,
        target_device=nncf.TargetDevice.CPU,
        subset_size=size)


def _interleaved_latency(runners: Runners, inputs: np.ndarray, runs: int,
                         warmup: int) -> Dict[str, float]:
    """Median seconds of each runner on ``inputs``, timed in turn within
    each round so that load from other processes hits all alike."""
    times: Dict[str, List[float]] = {name: [] for name in runners}
    for round_ in range(warmup + runs):
        for name, run in runners.items():
            start = time.perf_counter()
            run(inputs)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _scalars(metrics: dict) -> Dict[str, float]:
    return {
        k: float(v)
        for k, v in metrics.items() if isinstance(v, (int, float, np.number))
    }


def _file_size(*paths: str) -> int:
    return sum(osp.getsize(p) for p in paths)


def quantize_config(config,
                    checkpoint: Optional[str] = None,
                    work_dir: Optional[str] = None,
                    calib_size: int = DEFAULT_CALIB_SIZE,
                    shape: Optional[Sequence[int]] = None,
                    threads: int = 2,
                    runs: int = 20,
                    warmup: int = 3,
                    preset: str = 'mixed',
                    log: Callable[[str], None] = lambda message: None) -> dict:
    """Export a config's model, quantize it to INT8 with NNCF on its
    training images, and evaluate and time the INT8 and the float model on
    its val set.

    Args:
        config (str | Config): A detector (single-stage), segmentor or
            classifier config.
        checkpoint (str, optional): Its weights (default: initialised).
        work_dir (str, optional): Where the ONNX file and the float and INT8
            OpenVINO models go (default: work_dirs/CONFIG_NAME).
        calib_size (int): Calibration images, capped at the training set's
            size.
        shape (tuple[int, int], optional): Export height and width; images
            are padded to it. Default: the first val image's preprocessed
            size.
        threads (int): OpenVINO threads of both models.
        runs, warmup (int): Timed and untimed latency rounds.
        preset (str): NNCF preset, 'mixed' (the transformer default) or
            'performance'.
        log (callable): Called with a line at each step.

    Returns:
        dict: ``task``, ``shape``, ``calibration`` (``size``, ``available``,
        ``requested``), ``val_size``, ``metrics`` ('float' and 'int8' to
        dicts), ``main_metric``, ``latency_s`` ('float', 'int8'),
        ``size_bytes`` ('float', 'int8'), ``output_errors`` (each raw
        output's largest relative error of INT8 against float over the val
        set), ``files``, ``threads``, ``preset``, ``runs``.

    Raises:
        MissingDataError: Calibration or evaluation data are missing (before
            any export).
        MissingDependencyError: nncf or openvino is not installed.
    """
    cfg = load_config(config)
    check_data(cfg)
    require('openvino')
    require('nncf')
    require('onnx')
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose from {PRESETS}')
    name = osp.splitext(osp.basename(cfg.filename or 'model'))[0]
    work_dir = work_dir or osp.join('work_dirs', name)
    os.makedirs(work_dir, exist_ok=True)

    tensor_model = build_model_for_export(cfg, checkpoint)
    _check_runnable(tensor_model)
    val_set = _build_dataset(cfg.val_dataloader.dataset)
    train_set = _build_dataset(_calibration_dataset_cfg(cfg))
    size = calibration_size(calib_size, len(train_set))
    if shape is None:
        shape = tuple(prepare(tensor_model, val_set[0], None)[0].shape[-2:])
    shape = check_shape(shape, tensor_model)

    log(f'Exporting at {shape[0]}x{shape[1]}')
    onnx_path = osp.join(work_dir, f'{name}.onnx')
    info = export_onnx(tensor_model, shape, onnx_path)
    names = info['output_names']

    ov = require('openvino')
    float_xml = osp.join(work_dir, f'{name}_fp32.xml')
    int8_xml = osp.join(work_dir, f'{name}_int8.xml')
    ov.save_model(
        ov.Core().read_model(onnx_path), float_xml, compress_to_fp16=False)

    log(f'Calibrating on {size} of {len(train_set)} training images')
    start = time.perf_counter()
    calibration = _CalibrationData(tensor_model, train_set,
                                   calibration_indices(size, len(train_set)),
                                   shape)
    quantized = quantize_openvino(onnx_path, calibration, len(calibration),
                                  preset)
    ov.save_model(quantized, int8_xml, compress_to_fp16=False)
    quantize_seconds = time.perf_counter() - start

    runners = dict(
        float=openvino_compiled(float_xml, threads),
        int8=openvino_compiled(int8_xml, threads))
    log(f'Evaluating both on {len(val_set)} val images')
    results = evaluate(cfg, tensor_model, runners, names, val_set, shape)
    first, _ = prepare(tensor_model, val_set[0], shape)
    latency = _interleaved_latency(runners, first.numpy(), runs, warmup)
    return dict(
        task=tensor_model.task,
        config=cfg.filename,
        shape=shape,
        calibration=dict(
            size=len(calibration),
            requested=calib_size,
            available=len(train_set)),
        val_size=len(val_set),
        metrics=results['metrics'],
        main_metric=MAIN_METRICS.get(tensor_model.task),
        output_errors=results['output_errors'],
        latency_s=latency,
        size_bytes=dict(
            float=_file_size(float_xml, float_xml[:-4] + '.bin'),
            int8=_file_size(int8_xml, int8_xml[:-4] + '.bin')),
        files=dict(onnx=onnx_path, float=float_xml, int8=int8_xml),
        quantize_seconds=quantize_seconds,
        threads=threads,
        preset=preset,
        runs=runs)


def evaluate(cfg: Config, tensor_model: TensorOutputs, runners: Runners,
             names: Sequence[str], val_set, shape: Tuple[int, int]) -> dict:
    """Each runner's metrics on ``val_set`` (with the config's
    ``val_evaluator``), image by image at ``shape``, decoded by the model's
    own ``predict``; and each raw output's largest relative error of every
    runner against the first.

    Returns:
        dict: ``metrics`` (runner name to metrics), ``output_errors``
        (runner name, beyond the first, to output name to error).
    """
    from mmengine.dataset import pseudo_collate
    from mmengine.evaluator import Evaluator
    evaluators = {}
    for runner in runners:
        evaluators[runner] = Evaluator(copy.deepcopy(cfg.val_evaluator))
        evaluators[runner].dataset_meta = val_set.metainfo
    reference = next(iter(runners))
    errors = {
        runner: dict.fromkeys(names, 0.)
        for runner in runners if runner != reference
    }
    model = tensor_model.model
    with runtime_forward(tensor_model, names) as state, torch.no_grad():
        for index in range(len(val_set)):
            item = val_set[index]
            inputs, samples = prepare(tensor_model, item, shape)
            outputs = {}
            for runner, run in runners.items():
                state['runner'] = run
                predictions = model(
                    inputs, copy.deepcopy(samples), mode='predict')
                outputs[runner] = state['outputs']
                evaluators[runner].process(
                    data_samples=predictions,
                    data_batch=pseudo_collate([item]))
            for runner, worst in errors.items():
                for name, out, ref in zip(names, outputs[runner],
                                          outputs[reference]):
                    worst[name] = max(worst[name], relative_error(out, ref))
    metrics = {
        runner: _scalars(evaluator.evaluate(len(val_set)))
        for runner, evaluator in evaluators.items()
    }
    return dict(metrics=metrics, output_errors=errors)


def _number(value: Optional[float]) -> str:
    return 'none' if value is None else f'{value:.4f}'


def format_report(report: dict) -> str:
    """The report of :func:`quantize_config` as lines of text with a
    Markdown table."""
    calib = report['calibration']
    height, width = report['shape']
    capped = ''
    if calib['requested'] > calib['available']:
        capped = (f', --calib-size {calib["requested"]} capped at the '
                  'training set')
    lines = [
        f"INT8 (NNCF, preset {report['preset']}, model type transformer) "
        f"of {report['config']} ({report['task']}), at "
        f'{height}x{width}',
        f"Calibrated on {calib['size']} of {calib['available']} training "
        f'images (val pipeline{capped}); evaluated on '
        f"{report['val_size']} val images; quantized in "
        f"{report['quantize_seconds']:.1f} s", '',
        '| | float (OpenVINO f32) | INT8 | difference |', '|---|---|---|---|'
    ]
    metrics = report['metrics']
    main = report['main_metric']
    keys = sorted({*metrics['float'], *metrics['int8']},
                  key=lambda k: (k != main, k))
    for key in keys:
        value, int8 = metrics['float'].get(key), metrics['int8'].get(key)
        diff = 'n/a' if None in (value, int8) else f'{int8 - value:+.4f}'
        lines.append(f'| {key} | {_number(value)} | {_number(int8)} | '
                     f'{diff} |')
    if not keys:
        lines.append('| metrics | none | none | the evaluator returned none '
                     '(no predictions: an untrained model?) |')
    latency = report['latency_s']
    threads = report['threads']
    lines.append(
        f"| latency (ms, batch 1, {threads} thread{'s' * (threads > 1)}, "
        f"median of {report['runs']}) | {latency['float'] * 1e3:.1f} | "
        f"{latency['int8'] * 1e3:.1f} | speed-up "
        f"{latency['float'] / latency['int8']:.2f}x |")
    sizes = report['size_bytes']
    lines.append(f"| model size (MB) | {sizes['float'] / 1e6:.1f} | "
                 f"{sizes['int8'] / 1e6:.1f} | "
                 f"{sizes['int8'] / sizes['float']:.2f}x |")
    errors = report['output_errors']['int8']
    worst = max(errors, key=errors.get)
    lines += [
        '', f'Raw outputs, INT8 against float: largest relative error '
        f'{errors[worst]:.3f} ({worst}) over the val images',
        f"INT8 model: {report['files']['int8']} (float: "
        f"{report['files']['float']})"
    ]
    return '\n'.join(lines)
