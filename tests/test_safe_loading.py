"""Checkpoints are read with weights-only unpickling everywhere and must fit
the model; broken datasets name the file at fault; --amp trains on the CPU."""
import json
import os
from pathlib import Path

import pytest
import torch
from launch import launch_python
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmsepvit.datasets import make_toy_ade20k, make_toy_coco
from mmsepvit.engine import CPUAmpOptimWrapper, SafeRunner
from mmsepvit.models import SepViT

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / 'configs' / 'toy'


class Payload:
    """Unpickling this creates ``marker``: what an attacker's code could do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.makedirs, (self.marker, )


@pytest.fixture
def malicious(tmp_path):
    """A checkpoint that runs code when unpickled without weights-only."""
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'malicious.pth'
    torch.save(dict(state_dict={}, meta=Payload(str(marker))), path)
    yield str(path)
    assert not marker.exists(), 'the checkpoint ran its code'


def save(path: Path, model: torch.nn.Module) -> str:
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    return str(path)


def test_malicious_checkpoint_is_refused_by_the_runner(tmp_path, malicious,
                                                       tiny_runner):
    runner = tiny_runner(tmp_path / 'run')
    with pytest.raises(ValueError, match='needs the code of os.makedirs'):
        runner.load_checkpoint(malicious)
    resuming = tiny_runner(tmp_path / 'run', resume=True, load_from=malicious)
    with pytest.raises(ValueError, match='weights-only'):
        resuming.train()


def test_malicious_checkpoint_is_refused_by_init_cfg(malicious):
    model = SepViT(
        arch='lite', init_cfg=dict(type='Pretrained', checkpoint=malicious))
    with pytest.raises(ValueError, match='needs the code of os.makedirs'):
        model.init_weights()


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['test', 'converter'])
def test_malicious_checkpoint_is_refused_by_the_tools(tmp_path, malicious,
                                                      tool, toy_workspace):
    if tool == 'test':
        command = [
            ROOT / 'tools' / 'test.py', TOY / 'retinanet_sepvit_t_toy_coco.py',
            malicious, '--work-dir', tmp_path / 'work_dir'
        ]
    else:
        command = [
            ROOT / 'tools' / 'model_converters' / 'official2mmsepvit.py',
            malicious, tmp_path / 'converted.pth'
        ]
    result = launch_python(*command, cwd=toy_workspace, check=False)
    assert result.returncode != 0
    assert f'{malicious} needs the code of os.makedirs' in result.stderr


@pytest.mark.slow
def test_testing_another_models_checkpoint_names_the_keys(
        tmp_path, toy_workspace):
    other = save(tmp_path / 'classifier.pth', SepViT(arch='lite'))
    result = launch_python(
        ROOT / 'tools' / 'test.py',
        TOY / 'retinanet_sepvit_t_toy_coco.py',
        other,
        '--work-dir',
        tmp_path / 'work_dir',
        cwd=toy_workspace,
        check=False)
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert f'{other} does not fit RetinaNet' in message
    assert 'missing' in message and 'backbone.norm0.bias' in message
    assert 'unexpected' in message and ' norm0.bias' in message


def test_strict_and_resumed_loads_name_every_difference(tmp_path, tiny_runner):
    wider = save(tmp_path / 'wider.pth',
                 tiny_runner(tmp_path / 'other', width=3).model)
    runner = tiny_runner(tmp_path / 'run')
    with pytest.raises(
            ValueError,
            match=r'mismatched shapes 1: linear.weight '
            r'\(checkpoint \(1, 3\), model \(1, 2\)\)'):
        runner.load_checkpoint(wider, strict=True)
    resuming = tiny_runner(tmp_path / 'run', resume=True, load_from=wider)
    with pytest.raises(ValueError, match='does not fit TinyModel'):
        resuming.train()


def test_fine_tuning_loads_what_fits_but_not_a_foreign_model(
        tmp_path, tiny_runner):
    source = tiny_runner(tmp_path / 'source').model
    partial = source.state_dict()
    partial['head.weight'] = torch.zeros(3)  # e.g. another number of classes
    torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
    runner = tiny_runner(tmp_path / 'run')
    runner.load_checkpoint(str(tmp_path / 'partial.pth'))
    torch.testing.assert_close(runner.model.linear.weight,
                               source.linear.weight)

    foreign = save(tmp_path / 'foreign.pth', SepViT(arch='lite'))
    with pytest.raises(ValueError, match='shares no weight with TinyModel'):
        tiny_runner(tmp_path / 'run').load_checkpoint(foreign)


@pytest.fixture(scope='module')
def toy_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy')
    make_toy_coco(str(root / 'toy_coco'), num_train=2, num_val=1)
    make_toy_ade20k(str(root / 'toy_ade20k'), num_train=2, num_val=1)
    return root


def train_dataloader(config: str, data_root: Path) -> dict:
    cfg = Config.fromfile(str(TOY / config))
    init_default_scope(cfg.default_scope)
    loader = cfg.train_dataloader
    loader.dataset.data_root = str(data_root)
    loader.num_workers = 0
    loader.persistent_workers = False
    return loader


def test_corrupt_annotation_file_is_named(tmp_path):
    data_root = tmp_path / 'coco'
    (data_root / 'annotations').mkdir(parents=True)
    (data_root / 'annotations' / 'instances_train.json').write_text(
        '{"images": [')  # cut off mid-write
    loader = train_dataloader('retinanet_sepvit_t_toy_coco.py', data_root)
    with pytest.raises(RuntimeError) as error:
        SafeRunner.build_dataloader(loader)
    message = str(error.value)
    assert f"CocoDataset data_root='{data_root}'" in message
    assert "ann_file='annotations/instances_train.json'" in message
    assert 'JSONDecodeError' in message


def test_missing_annotation_file_is_named(tmp_path):
    loader = train_dataloader('retinanet_sepvit_t_toy_coco.py', tmp_path)
    with pytest.raises(
            RuntimeError,
            match=f'No such file or directory: '
            f"'{tmp_path}/annotations/instances_train.json'"):
        SafeRunner.build_dataloader(loader)


def test_unknown_dataset_path_is_named(tmp_path):
    missing = tmp_path / 'no_such_ade20k'
    loader = train_dataloader('fpn_sepvit_t_toy_ade20k.py', missing)
    with pytest.raises(
            RuntimeError,
            match=f"BaseSegDataset data_root='{missing}'.*"
            f'No such file or directory: '
            f"'{missing}/images/training'"):
        SafeRunner.build_dataloader(loader)


def test_image_missing_on_disk_is_named(toy_data, tmp_path):
    data_root = tmp_path / 'coco'
    (data_root / 'annotations').mkdir(parents=True)
    annotations = json.loads((toy_data / 'toy_coco' / 'annotations' /
                              'instances_train.json').read_text())
    (data_root / 'annotations' / 'instances_train.json').write_text(
        json.dumps(annotations))  # images not copied
    loader = SafeRunner.build_dataloader(
        train_dataloader('retinanet_sepvit_t_toy_coco.py', data_root))
    first = annotations['images'][0]['file_name']
    with pytest.raises(FileNotFoundError, match=f"'{data_root}/{first}'"):
        next(iter(loader))


@pytest.mark.slow
def test_amp_trains_in_bf16_on_the_cpu(toy_data, tmp_path):
    (tmp_path / 'data').symlink_to(toy_data)
    work_dir = tmp_path / 'work_dir'
    log = launch_python(
        ROOT / 'tools' / 'train.py',
        TOY / 'retinanet_sepvit_t_toy_coco.py',
        '--amp',
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=2',
        'train_cfg.val_interval=2',
        'train_dataloader.batch_size=1',
        'default_hooks.logger.interval=1',
        cwd=tmp_path).log
    assert 'CPUAmpOptimWrapper' in log
    losses = [
        float(line.split(' loss: ')[1].split()[0])
        for line in log.splitlines() if ' loss: ' in line
    ]
    assert len(losses) == 4 and all(
        map(torch.isfinite, map(torch.tensor, losses)))
    weights = torch.load(
        work_dir / 'epoch_2.pth', weights_only=True)['state_dict']
    assert all(
        torch.isfinite(v).all() for v in weights.values()
        if v.is_floating_point())


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU fallback')
def test_amp_optim_wrapper_runs_in_bf16_on_the_cpu(tmp_path, tiny_runner):
    """What the packages' own --amp asks for; mmengine's AmpOptimWrapper
    refuses to run without a GPU."""
    wrapper = tiny_runner(tmp_path).build_optim_wrapper(
        dict(
            type='AmpOptimWrapper',
            loss_scale='dynamic',
            optimizer=dict(type='SGD', lr=0.1)))
    assert isinstance(wrapper, CPUAmpOptimWrapper)
    assert wrapper.cast_dtype == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU fallback')
def test_cpu_runs_name_the_launchers_they_support(tmp_path, tiny_runner):
    with pytest.raises(ValueError, match="only launcher pytorch .* 'slurm'"):
        tiny_runner(tmp_path, launcher='slurm')
