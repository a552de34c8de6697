"""Every way a user runs SepViT (and the peers' classifiers): the README's
launch scripts as printed (2 processes with gloo on the CPU, with the
fine-tuning options), mmdet's, mmseg's and mmpretrain's own tools, mim, and
the Inferencer APIs."""
import os
import pickle
import sys
from pathlib import Path

import mmdet
import mmpretrain
import mmseg
import pytest
import torch
from launch import launch
from mmdet.apis import DetInferencer
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.apis import ImageClassificationInferencer
from mmseg.apis import MMSegInferencer

from mmsepvit.datasets import ADE_CLASSES, IMAGENET_CLASSES, SHAPES

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / 'configs' / 'toy'
TOY_RETINANET = TOY / 'retinanet_sepvit_t_toy_coco.py'
TOY_FPN = TOY / 'fpn_sepvit_t_toy_ade20k.py'
TOY_CLASSIFIER = TOY / 'sepvit_lite_toy_imagenet.py'
VENV_BIN = str(Path(sys.executable).parent)

pytestmark = pytest.mark.slow


def readme_env(**extra: str) -> dict:
    """The environment of a user who runs the README's commands as printed:
    no PYTHON, no activated virtual environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('PYTHON', 'VIRTUAL_ENV', 'PYTHONPATH')
    }
    env['PATH'] = os.pathsep.join(
        p for p in env.get('PATH', '').split(os.pathsep) if p != VENV_BIN)
    return dict(env, **extra)


def package_tool(package, name: str) -> Path:
    return Path(package.__file__).parent / '.mim' / 'tools' / name


def load_predictions(path: Path) -> list:
    with open(path, 'rb') as f:
        return pickle.load(f)


def weights(checkpoint: Path) -> dict:
    return torch.load(checkpoint, weights_only=True)['state_dict']


# -- tools/dist_train.sh, dist_test.sh and slurm_train.sh as printed --------


def dist_train(workspace: Path, work_dir: Path, port: int, *options: str):
    """Two epochs of the toy RetinaNet in 2 processes, one step an epoch,
    a checkpoint after each."""
    return launch(
        'bash',
        ROOT / 'tools' / 'dist_train.sh',
        TOY_RETINANET,
        2,
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.interval=1',
        *options,
        cwd=workspace,
        env=readme_env(PORT=str(port)))


@pytest.fixture(scope='module')
def frozen_run(toy_workspace):
    work_dir = toy_workspace / 'work_dirs' / 'dist_frozen_stages'
    log = dist_train(toy_workspace, work_dir, 29531,
                     'model.backbone.frozen_stages=1').log
    return work_dir, log


def test_frozen_stages_train_in_two_processes(frozen_run):
    """mmengine wraps the model in DDP before train() runs; a backbone that
    froze only in train() made DDP wait for gradients that never came."""
    work_dir, log = frozen_run
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert 'Epoch(train) [2][1/1]' in log
    first, second = (weights(work_dir / f'epoch_{i}.pth') for i in (1, 2))
    frozen = ('backbone.stages.0.', 'backbone.norm0.')
    assert any(k.startswith(frozen) for k in first)
    for name, value in first.items():
        if name.startswith(frozen):
            assert torch.equal(value, second[name]), name
    trained = 'backbone.stages.1.blocks.0.attn.qkv.weight'
    assert not torch.equal(first[trained], second[trained])


@pytest.mark.parametrize(
    'options',
    [
        ['model.backbone.with_cp=True'],
        # mmdet's RetinaNet-Swin convention: FPN on the last three stages.
        [
            'model.backbone.out_indices=(1,2,3)',
            'model.neck.in_channels=[192,384,768]', 'model.neck.start_level=0'
        ],
    ],
    ids=['with_cp', 'out_indices'])
def test_fine_tuning_options_train_in_two_processes(toy_workspace, options):
    work_dir = toy_workspace / 'work_dirs' / f'dist_{len(options)}'
    log = dist_train(toy_workspace, work_dir, 29532 + len(options),
                     *options).log
    assert 'Epoch(train) [2][1/1]' in log
    first, second = (weights(work_dir / f'epoch_{i}.pth') for i in (1, 2))
    name = 'backbone.stages.0.blocks.0.attn.qkv.weight'
    assert not torch.equal(first[name], second[name])
    assert all(torch.isfinite(v).all() for v in second.values())


def test_dist_test_evaluates_in_two_processes(toy_workspace, frozen_run):
    work_dir, _ = frozen_run
    out = work_dir / 'predictions.pkl'
    log = launch(
        'bash',
        ROOT / 'tools' / 'dist_test.sh',
        TOY_RETINANET,
        work_dir / 'epoch_2.pth',
        2,
        '--work-dir',
        work_dir,
        '--out',
        out,
        cwd=toy_workspace,
        env=readme_env(PORT='29535')).log
    assert 'Epoch(test) [1/1]' in log  # 4 images, 2 a process
    assert len(load_predictions(out)) == 4  # gathered from both


def test_slurm_train_runs_the_project_environment(tmp_path):
    """srun is replaced by a stand-in that records what it was asked to
    run."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text('#!/bin/sh\necho "$@" > "$SRUN_ARGS_FILE"\n')
    srun.chmod(0o755)
    recorded = tmp_path / 'srun_args'
    env = readme_env(SRUN_ARGS_FILE=str(recorded))
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    launch(
        'bash',
        ROOT / 'tools' / 'slurm_train.sh',
        'partition',
        'job',
        TOY_RETINANET,
        tmp_path / 'work_dir',
        cwd=tmp_path,
        env=env)
    args = recorded.read_text().split()
    python = args.index(str(ROOT / '.venv' / 'bin' / 'python'))
    assert args[python + 1:python + 4] == [
        '-u', str(ROOT / 'tools' / 'train.py'),
        str(TOY_RETINANET)
    ]
    assert '--launcher' in args and 'slurm' in args


def test_launch_scripts_take_the_python_the_user_names(tmp_path):
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\necho "fake python $@"\n')
    fake.chmod(0o755)
    log = launch(
        'bash',
        ROOT / 'tools' / 'dist_train.sh',
        TOY_RETINANET,
        2,
        cwd=tmp_path,
        env=readme_env(PYTHON=str(fake))).log
    assert log.startswith('fake python -m torch.distributed.run')


# -- the installed packages' own tools and mim -------------------------------


@pytest.fixture(scope='module')
def mmdet_checkpoint(toy_workspace):
    """The toy RetinaNet through mmdet's own tools/train.py: one epoch, then
    a second one resumed."""
    work_dir = toy_workspace / 'work_dirs' / 'mmdet_tools'
    train = [
        sys.executable,
        package_tool(mmdet, 'train.py'), TOY_RETINANET, '--work-dir', work_dir,
        '--cfg-options', 'default_hooks.checkpoint.interval=1'
    ]
    launch(*train, 'train_cfg.max_epochs=1', cwd=toy_workspace)
    log = launch(
        *train, 'train_cfg.max_epochs=2', '--resume', cwd=toy_workspace).log
    assert 'resumed epoch: 1, iter: 2' in log
    return work_dir / 'epoch_2.pth'


def test_mmdet_train_runs_on_the_safe_runner(mmdet_checkpoint):
    saved = torch.load(mmdet_checkpoint, weights_only=True)
    assert saved['meta']['epoch'] == 2
    # Written by SafeRunner's RandomStateHook: an exact resume is possible.
    assert {'python', 'numpy', 'torch'} <= set(saved['meta']['random_state'])
    assert not list(mmdet_checkpoint.parent.glob('.*.partial'))


def test_mmdet_test_evaluates(toy_workspace, mmdet_checkpoint, tmp_path):
    out = tmp_path / 'predictions.pkl'
    log = launch(
        sys.executable,
        package_tool(mmdet, 'test.py'),
        TOY_RETINANET,
        mmdet_checkpoint,
        '--work-dir',
        tmp_path,
        '--out',
        out,
        cwd=toy_workspace).log
    assert f'Load checkpoint from {mmdet_checkpoint}' in log
    assert 'Epoch(test) [1/1]' in log
    assert len(load_predictions(out)) == 4


def test_mmdet_test_loads_strictly(toy_workspace, mmdet_checkpoint, tmp_path):
    """mmengine alone would warn and evaluate a partly random model."""
    checkpoint = torch.load(mmdet_checkpoint, weights_only=True)
    state_dict = checkpoint['state_dict']
    del state_dict['bbox_head.retina_cls.bias']
    state_dict['bbox_head.extra.weight'] = torch.zeros(1)
    doctored = tmp_path / 'doctored.pth'
    torch.save(checkpoint, doctored)
    result = launch(
        sys.executable,
        package_tool(mmdet, 'test.py'),
        TOY_RETINANET,
        doctored,
        '--work-dir',
        tmp_path,
        cwd=toy_workspace,
        check=False)
    assert result.returncode != 0
    assert 'bbox_head.retina_cls.bias' in result.stderr
    assert 'bbox_head.extra.weight' in result.stderr


@pytest.fixture(scope='module')
def mmseg_checkpoint(toy_workspace):
    work_dir = toy_workspace / 'work_dirs' / 'mmseg_tools'
    launch(
        sys.executable,
        package_tool(mmseg, 'train.py'),
        TOY_FPN,
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_iters=4',
        'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=4',
        cwd=toy_workspace)
    return work_dir / 'iter_4.pth'


def test_mmseg_tools_train_and_test(toy_workspace, mmseg_checkpoint):
    log = launch(
        sys.executable,
        package_tool(mmseg, 'test.py'),
        TOY_FPN,
        mmseg_checkpoint,
        '--work-dir',
        mmseg_checkpoint.parent,
        cwd=toy_workspace).log
    assert 'mIoU' in log
    saved = torch.load(mmseg_checkpoint, weights_only=True)
    assert 'random_state' in saved['meta']


@pytest.fixture(scope='module')
def mim_checkpoint(toy_workspace):
    """The toy classifier through ``mim train mmpretrain``, which runs
    mmpretrain's own tools/train.py: 3 epochs, just past the warm-up."""
    work_dir = toy_workspace / 'work_dirs' / 'mim'
    launch(
        Path(VENV_BIN) / 'mim',
        'train',
        'mmpretrain',
        TOY_CLASSIFIER,
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=3',
        'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=3',
        cwd=toy_workspace)
    return work_dir / 'epoch_3.pth'


def test_mim_train_and_test(toy_workspace, mim_checkpoint):
    saved = torch.load(mim_checkpoint, weights_only=True)
    assert 'random_state' in saved['meta']
    log = launch(
        Path(VENV_BIN) / 'mim',
        'test',
        'mmpretrain',
        TOY_CLASSIFIER,
        '--checkpoint',
        mim_checkpoint,
        '--work-dir',
        mim_checkpoint.parent,
        cwd=toy_workspace).log
    assert 'accuracy/top1' in log


@pytest.mark.parametrize('config', [
    'dualvit_s_toy_imagenet.py', 'shuffle_t_toy_imagenet.py',
    'msg_t_toy_imagenet.py'
])
def test_peers_train_and_test_with_mmpretrains_tools(toy_workspace, config):
    """The peers' classifiers (Dual-ViT's own head among them) through
    mmpretrain's own train.py and test.py, which know them only through the
    config's custom_imports: 3 epochs, just past the warm-up."""
    work_dir = toy_workspace / 'work_dirs' / 'peers' / config
    launch(
        sys.executable,
        package_tool(mmpretrain, 'train.py'),
        TOY / config,
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=3',
        'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=3',
        cwd=toy_workspace)
    checkpoint = work_dir / 'epoch_3.pth'
    assert 'random_state' in torch.load(checkpoint, weights_only=True)['meta']
    log = launch(
        sys.executable,
        package_tool(mmpretrain, 'test.py'),
        TOY / config,
        checkpoint,
        '--work-dir',
        work_dir,
        cwd=toy_workspace).log
    assert 'accuracy/top1' in log


# -- the Inferencer APIs -----------------------------------------------------


def test_det_inferencer(toy_workspace, mmdet_checkpoint, tmp_path):
    cfg = Config.fromfile(str(TOY_RETINANET))
    # A model trained for 4 steps is not yet confident: keep every box.
    cfg.model.test_cfg.score_thr = 0.
    inferencer = DetInferencer(
        model=cfg, weights=str(mmdet_checkpoint), device='cpu')
    assert inferencer.model.dataset_meta['classes'] == SHAPES
    image = next((toy_workspace / 'data' / 'toy_coco' / 'val').glob('*.png'))
    result = inferencer(str(image), out_dir=str(tmp_path), no_save_pred=False)
    prediction = result['predictions'][0]
    assert len(prediction['bboxes']) == len(prediction['labels']) > 0
    assert all(0 <= label < len(SHAPES) for label in prediction['labels'])
    assert (tmp_path / 'vis' / image.name).is_file()
    assert (tmp_path / 'preds' / f'{image.stem}.json').is_file()


def test_seg_inferencer(toy_workspace, mmseg_checkpoint, tmp_path):
    inferencer = MMSegInferencer(
        model=str(TOY_FPN), weights=str(mmseg_checkpoint), device='cpu')
    assert list(inferencer.model.dataset_meta['classes']) == list(ADE_CLASSES)
    image = next((toy_workspace / 'data' / 'toy_ade20k' / 'images' /
                  'validation').glob('*.jpg'))
    result = inferencer(str(image), out_dir=str(tmp_path))
    assert result['predictions'].shape == (128, 128)
    assert result['predictions'].max() < len(ADE_CLASSES)
    assert (tmp_path / 'vis' / image.name).is_file()


def test_classification_inferencer(toy_workspace, mim_checkpoint):
    image = next((toy_workspace / 'data' / 'toy_imagenet' / 'val' /
                  'circle').glob('*.png'))
    # mmpretrain's Inferencer builds its pipeline in whatever registry scope
    # is current (the other Inferencers leave theirs behind).
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        inferencer = ImageClassificationInferencer(
            model=str(TOY_CLASSIFIER),
            pretrained=str(mim_checkpoint),
            device='cpu')
        result = inferencer(str(image))[0]
    assert result['pred_class'] in IMAGENET_CLASSES
    assert result['pred_scores'].shape == (len(IMAGENET_CLASSES), )
