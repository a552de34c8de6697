"""ONNX export of detectors, segmentors and classifiers (mmsepvit.deploy,
tools/deployment/export_onnx.py), checked in ONNX Runtime and OpenVINO.

The toy configs run with a one-block-per-stage SepViT so that each export
takes seconds; the tests that export or launch the tool are ``slow``."""
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from launch import launch_python

from mmsepvit import deploy
from mmsepvit.deploy import (MissingDependencyError, ParityError,
                             build_model_for_export, check_parity, check_shape,
                             dynamic_trace_shape, example_input,
                             export_and_check, export_onnx, least_trace_side,
                             make_runner, min_input_size, run_onnx,
                             run_pytorch, second_shape)
from mmsepvit.models import SepViT
from mmsepvit.models.layers import fused_linear

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / 'tools' / 'deployment' / 'export_onnx.py'
MICRO = dict(
    embed_dims=[32, 64, 128, 256],
    num_heads=[1, 2, 4, 8],
    depths=[1, 1, 1, 1],
    window_sizes=[[7], [14], [7], [7]])
TOY = dict(
    detector='retinanet_sepvit_t_toy_coco',
    segmentor='fpn_sepvit_t_toy_ade20k',
    classifier='sepvit_lite_toy_imagenet')
DETECTOR_OUTPUTS = [f'cls_score_{i}'
                    for i in range(5)] + [f'bbox_pred_{i}' for i in range(5)]


@pytest.fixture(scope='module')
def configs(tmp_path_factory) -> dict:
    """The toy configs with the micro SepViT, as files."""
    folder = tmp_path_factory.mktemp('configs')
    paths = {}
    for task, name in TOY.items():
        neck = ('' if task == 'classifier' else
                f"neck=dict(in_channels={MICRO['embed_dims']}), ")
        path = folder / f'{name}_micro.py'
        path.write_text(
            f"_base_ = '{ROOT / 'configs' / 'toy' / name}.py'\n"
            f'model = dict({neck}backbone=dict(arch=dict(_delete_=True, '
            f'**{MICRO!r})))\n')
        paths[task] = str(path)
    return paths


def save_checkpoint(model: torch.nn.Module, path: Path) -> str:
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), path)
    return str(path)


def needs_padding(height: int, width: int) -> bool:
    """Whether some stage map of the micro SepViT is no whole number of
    windows."""
    strides = SepViT(arch=MICRO).strides
    for stride, sizes in zip(strides, MICRO['window_sizes']):
        for side in (height, width):
            if math.ceil(side / stride) % max(sizes):
                return True
    return False


def check_runtimes(model, path: str, shape, names) -> dict:
    """Every runtime's outputs at ``shape`` against PyTorch's."""
    inputs = example_input(shape, seed=3)
    reference = run_pytorch(model, inputs)
    errors = {}
    for runtime in deploy.RUNTIMES:
        outputs = make_runner(path, runtime)(inputs.numpy())
        errors[runtime] = check_parity(reference, outputs, names)
        assert [o.shape for o in outputs] == [r.shape for r in reference]
    return errors


@pytest.mark.slow
def test_detector_from_checkpoint(configs, tmp_path, monkeypatch):
    torch.manual_seed(0)
    trained = build_model_for_export(configs['detector'])
    checkpoint = save_checkpoint(trained.model, tmp_path / 'det.pth')
    model = build_model_for_export(configs['detector'], checkpoint)
    assert model.task == 'detector'
    inputs = example_input((96, 128))
    for ours, theirs in zip(
            run_pytorch(model, inputs), run_pytorch(trained, inputs)):
        np.testing.assert_array_equal(ours, theirs)

    # oneDNN's fused linear runs eagerly, and steps aside for the exporter.
    applies = []
    onednn_applies = fused_linear.onednn_applies

    def spy(x, weight):
        applies.append(
            (torch.compiler.is_exporting(), onednn_applies(x, weight)))
        return applies[-1][1]

    monkeypatch.setattr(fused_linear, 'onednn_applies', spy)
    info = export_onnx(model, (96, 128), str(tmp_path / 'det.onnx'))
    eager = [used for exporting, used in applies if not exporting]
    exported = [used for exporting, used in applies if exporting]
    assert exported and not any(exported)
    assert eager and all(eager) == fused_linear._onednn_usable

    assert info['output_names'] == DETECTOR_OUTPUTS
    errors = check_runtimes(model, info['path'], (96, 128),
                            info['output_names'])
    assert set(errors['onnxruntime']) == set(DETECTOR_OUTPUTS)
    assert max(errors['openvino'].values()) < 1e-4


@pytest.mark.slow
def test_detector_dynamic(configs, tmp_path):
    torch.manual_seed(0)
    model = build_model_for_export(configs['detector'])
    info = export_onnx(
        model, (64, 96), str(tmp_path / 'det.onnx'), dynamic=True)
    # Traced where every stage has two windows a side; then any size.
    assert min(info['trace_shape']) > 224
    import onnx
    dims = onnx.load(info['path']).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[:2]] == [1, 3]
    assert all(d.dim_param for d in dims[2:])
    for shape in ((72, 100), (37, 161), (32, 45)):
        assert needs_padding(*shape)
        errors = check_runtimes(model, info['path'], shape,
                                info['output_names'])
        assert len(errors['openvino']) == len(DETECTOR_OUTPUTS)


@pytest.mark.slow
def test_dynamic_sizes_stay_symbolic(tmp_path):
    """mmseg's Upsample computes int(side * scale): rewritten for whole
    scales, and any other size fixed while tracing is an error."""
    from mmseg.models.utils import Upsample
    for scale in (2, 1.5):
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3),
            Upsample(scale_factor=scale, mode='bilinear')).eval()
        path = str(tmp_path / f'up{scale}.onnx')
        if scale == 2:
            info = export_onnx(model, (64, 80), path, dynamic=True)
            for shape in ((45, 70), (90, 33)):
                check_runtimes(model, path, shape, info['output_names'])
            continue
        with pytest.raises(
                ParityError,
                match='some size was fixed while '
                'tracing: output output: .* gives shape'):
            export_onnx(model, (64, 80), path, dynamic=True)
        assert not Path(path).exists()


@pytest.mark.slow
def test_segmentor_and_classifier(configs, tmp_path):
    torch.manual_seed(0)
    segmentor = build_model_for_export(configs['segmentor'])
    info = export_onnx(segmentor, (64, 96), str(tmp_path / 'seg.onnx'))
    assert info['output_names'] == ['seg_logits']
    inputs = example_input((64, 96), seed=5)
    logits, = run_onnx(info['path'], inputs)
    assert logits.shape == (1, 5, 16, 24)  # 5 classes at stride 4
    check_parity(run_pytorch(segmentor, inputs), [logits], ['seg_logits'])

    classifier = build_model_for_export(configs['classifier'])
    assert classifier.task == 'classifier'
    info = export_onnx(classifier, (64, 64), str(tmp_path / 'cls.onnx'))
    assert info['output_names'] == ['cls_score', 'pred_score']
    errors = check_runtimes(classifier, info['path'], (64, 64),
                            info['output_names'])
    assert set(errors['openvino']) == {'cls_score', 'pred_score'}
    scores = run_onnx(info['path'], example_input((64, 64)))[1]
    assert scores.shape == (1, 5) and np.isclose(scores.sum(), 1, atol=1e-5)
    # Per-window tokens fix the classifier's input size.
    with pytest.raises(ValueError, match='exactly 64x64'):
        export_onnx(
            classifier, (64, 64), str(tmp_path / 'x.onnx'), dynamic=True)


@pytest.mark.slow
def test_export_and_check_backbone(tmp_path):
    """Any module taking an image batch, such as a backbone (what
    tools/benchmark.py times): checked and timed in both runtimes."""
    torch.manual_seed(0)
    backbone = SepViT(arch=MICRO).eval()
    report = export_and_check(
        backbone, (64, 96), str(tmp_path / 'backbone.onnx'), runs=1, warmup=0)
    assert report['export']['output_names'] == [
        f'output_{i}' for i in range(4)
    ]
    assert set(report['latency_s']) == {'pytorch', *deploy.RUNTIMES}
    assert all(seconds > 0 for seconds in report['latency_s'].values())
    assert [c['runtime'] for c in report['checks']] == list(deploy.RUNTIMES)
    for check in report['checks']:
        assert 0 <= max(check['errors'].values()) < 1e-4


def test_config_without_model(tmp_path):
    config = tmp_path / 'no_model.py'
    config.write_text('train_cfg = dict(max_epochs=1)\n')
    with pytest.raises(ValueError, match=f'{config}.*has no model'):
        build_model_for_export(str(config))


def test_checkpoint_of_another_model(configs, tmp_path):
    classifier = build_model_for_export(configs['classifier'])
    checkpoint = save_checkpoint(classifier.model, tmp_path / 'cls.pth')
    with pytest.raises(ValueError) as error:
        build_model_for_export(configs['detector'], checkpoint)
    message = str(error.value)
    assert checkpoint in message and 'RetinaNet' in message
    assert re.search(r'missing \d+: backbone\.', message)
    assert re.search(r'unexpected 3: .*head\.fc\.weight', message)


def test_shape_under_32(configs, tmp_path):
    model = SepViT(arch=MICRO).eval()
    for shape in ((31, 64), (64, 8)):
        label = f'{shape[0]}x{shape[1]}'
        with pytest.raises(ValueError, match=f'{label} is under the 32-pixel'):
            export_onnx(model, shape, str(tmp_path / 'x.onnx'))
    with pytest.raises(ValueError, match='20x40 is under the 32-pixel'):
        export_and_check(
            model, (64, 64),
            str(tmp_path / 'x.onnx'),
            dynamic=True,
            second=(20, 40))
    assert not (tmp_path / 'x.onnx').exists()


class WideBackbone(torch.nn.Module):
    """Not a SepViT: states its own geometry, as the next backbones will."""
    min_input_size = 64
    strides = (8, 16)
    arch_settings = dict(window_sizes=[[4], [5, 10]])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_sizes_come_from_the_backbone():
    model = torch.nn.Sequential(torch.nn.Identity(), WideBackbone())
    assert min_input_size(model) == 64
    assert check_shape((64, 100), model) == (64, 100)
    with pytest.raises(
            ValueError,
            match='48x96 is under the 64-pixel minimum: WideBackbone needs '
            'at least 64x64'):
        check_shape((48, 96), model)
    # Two windows of 10 a side at stride 16: 16 * 10 + 1.
    assert least_trace_side(model) == 161
    assert dynamic_trace_shape(model, (64, 64)) == (177, 241)
    assert second_shape((64, 80), min_input_size(model)) == (101, 65)

    micro = SepViT(arch=MICRO)
    assert min_input_size(micro) == micro.min_input_size == 32
    assert least_trace_side(micro) == 32 * 7 + 1
    # A model that states no geometry takes the documented default.
    assert min_input_size(torch.nn.Conv2d(3, 4, 3)) == 32
    with pytest.raises(ValueError, match='16x40 .* the model needs'):
        check_shape((16, 40))


def test_config_of_another_codebase(tmp_path):
    config = tmp_path / 'ocr.py'
    config.write_text("default_scope = 'mmocr'\nmodel = dict(type='X')\n")
    with pytest.raises(
            ValueError,
            match=f"{config} has default_scope 'mmocr'; export needs one of "
            r"\['mmdet', 'mmpretrain', 'mmseg'\]"):
        build_model_for_export(str(config))


def test_former_module_name():
    """Scripts written against mmsepvit.deployment keep working."""
    from mmsepvit import deployment
    from mmsepvit.utils.measure import median_seconds, relative_error
    for name in ('RUNTIMES', 'RUNTIME_NAMES', 'INSTALL_HINT',
                 'MissingDependencyError', 'ParityError', 'TensorOutputs',
                 'build_model_for_export', 'load_config', 'check_shape',
                 'example_input', 'dynamic_trace_shape', 'second_shape',
                 'export_onnx', 'make_runner', 'run_onnx', 'run_pytorch',
                 'check_parity', 'export_and_check'):
        assert getattr(deployment, name) is getattr(deploy, name), name
    assert deployment.relative_error is relative_error
    assert deployment.median_seconds is median_seconds


@pytest.mark.parametrize('package', ['onnx', 'onnxruntime', 'openvino'])
def test_missing_package(package, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, package, None)
    model = SepViT(arch=MICRO).eval()
    hint = f"{package} is not installed: pip install 'mmsepvit[deploy]'"
    with pytest.raises(MissingDependencyError) as error:
        if package == 'onnx':
            export_onnx(model, (64, 64), str(tmp_path / 'x.onnx'))
        else:
            export_and_check(
                model, (64, 64), str(tmp_path / 'x.onnx'), runtimes=[package])
    assert str(error.value) == hint
    assert isinstance(error.value, ImportError)
    assert not (tmp_path / 'x.onnx').exists()


def test_parity_error_names_the_output():
    reference = [np.ones((1, 4)), np.linspace(-2, 2, 8)]
    outputs = [reference[0] + 1e-6, reference[1] * (1 + 1e-3)]
    errors = check_parity(reference, outputs, ['a', 'b'], rtol=1e-2)
    assert errors['a'] == pytest.approx(1e-6)
    assert errors['b'] == pytest.approx(1e-3)
    with pytest.raises(ParityError, match='output b: .* by 0.001 relative'):
        check_parity(reference, outputs, ['a', 'b'], rtol=1e-4)
    with pytest.raises(ParityError, match=r'output a: .*shape \(4,\)'):
        check_parity(reference, [np.ones(4), reference[1]], ['a', 'b'])
    with pytest.raises(ParityError, match='output b'):
        check_parity(reference, [reference[0], reference[1] * np.nan],
                     ['a', 'b'])


@pytest.mark.slow
def test_imports_without_deploy_packages(configs, tmp_path):
    """mmsepvit imports without the extra; the tool names the missing
    package and the install command."""
    code = ('import runpy, sys\n'
            "for name in ('onnx', 'onnxscript', 'onnxruntime', 'openvino'):\n"
            '    sys.modules[name] = None\n'
            'import mmsepvit, mmsepvit.deploy, mmsepvit.deployment\n'
            f'sys.argv = [{str(TOOL)!r}, {configs["segmentor"]!r}, "--shape", '
            f'"64", "64", "--out", {str(tmp_path / "x.onnx")!r}]\n'
            f'runpy.run_path({str(TOOL)!r}, run_name="__main__")\n')
    result = launch_python('-c', code, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("MissingDependencyError: onnxruntime is not installed: pip "
            "install 'mmsepvit[deploy]'") in result.stderr
    assert not (tmp_path / 'x.onnx').exists()


@pytest.mark.slow
def test_tool_end_to_end(configs, tmp_path, run_tool):
    torch.manual_seed(0)
    model = build_model_for_export(configs['segmentor'])
    checkpoint = save_checkpoint(model.model, tmp_path / 'seg.pth')
    out = tmp_path / 'onnx' / 'seg.onnx'
    output = run_tool(tmp_path, TOOL, configs['segmentor'], checkpoint,
                      '--shape', '64', '96', '--dynamic', '--check-shape',
                      '45', '70', '--out', out, '--runs', '2', '--threads',
                      '1')
    assert out.is_file()
    assert f'to {out}: dynamic height and width' in output
    for runtime in ('ONNX Runtime', 'OpenVINO'):
        for size in ('64x96', '45x70'):
            assert f'Parity {runtime} at {size}: max relative error' in output
    latency = [
        line for line in output.splitlines()
        if line.startswith('Latency at 64x96')
    ]
    assert len(latency) == 1, output
    for runtime in ('PyTorch', 'ONNX Runtime', 'OpenVINO'):
        assert f'{runtime} ' in latency[0] and 'ms' in latency[0]
    assert '1 thread:' in latency[0]

    # The exported file is the checkpoint's model at any size.
    inputs = example_input((45, 70), seed=9)
    check_parity(
        run_pytorch(model, inputs), run_onnx(str(out), inputs), ['seg_logits'])
