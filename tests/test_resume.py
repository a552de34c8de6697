"""Resumed runs end with exactly the weights of uninterrupted ones: a killed
toy training resumed with --resume, and a plain mmengine Runner that names
RandomStateHook in custom_hooks; a crash during a save loses no checkpoint;
mmsepvit's hooks and runner are found by name from every codebase."""
import importlib
import os
import random
from pathlib import Path

import mmengine.runner.runner as mmengine_runner
import numpy as np
import pytest
import torch
from launch import Launched, launch_python
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.runner import Runner

from mmsepvit.engine import CheckpointCheckHook, RandomStateHook, SafeRunner
from mmsepvit.utils.codebases import CODEBASES

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / 'configs' / 'toy'
DETERMINISTIC = ['randomness.seed=0', 'randomness.deterministic=True']


def train(workspace: Path,
          config: Path,
          work_dir: Path,
          *options: str,
          resume: bool = False) -> Launched:
    """Run tools/train.py deterministically (without failing the test: the
    caller checks how it ended), with the crash hooks importable."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent / 'plugins'))
    return launch_python(
        ROOT / 'tools' / 'train.py',
        config,
        '--work-dir',
        work_dir,
        *(['--resume'] if resume else []),
        '--cfg-options',
        *DETERMINISTIC,
        *options,
        cwd=workspace,
        env=env,
        check=False)


def weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)['state_dict']


@pytest.mark.slow
@pytest.mark.parametrize(
    'config,schedule,kill_after,final',
    [
        # 8 images, batch 4: 2 iterations an epoch; killed in epoch 2.
        ('retinanet_sepvit_t_toy_coco.py', [
            'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
            'default_hooks.checkpoint.interval=1'
        ], 3, 'epoch_2.pth'),
        # Killed after iteration 3, one past the checkpoint at 2.
        ('fpn_sepvit_t_toy_ade20k.py', [
            'train_cfg.max_iters=6', 'train_cfg.val_interval=2',
            'default_hooks.checkpoint.interval=2'
        ], 3, 'iter_6.pth'),
        # A BatchNorm backbone (its running statistics resume too) with
        # Mixup and CutMix: 40 images, batch 32, killed in epoch 3 (just past
        # the 2-epoch warm-up).
        ('shuffle_t_toy_imagenet.py', [
            'train_cfg.max_epochs=3', 'train_cfg.val_interval=3',
            'default_hooks.checkpoint.interval=1'
        ], 5, 'epoch_3.pth'),
    ],
    ids=['retinanet', 'fpn', 'shuffle-classifier'])
def test_killed_run_resumes_to_the_same_weights(toy_workspace, config,
                                                schedule, kill_after, final):
    config, workspace = TOY / config, toy_workspace
    work_dirs = workspace / 'work_dirs' / 'resume' / config.stem
    work_dirs.mkdir(parents=True)
    whole = train(workspace, config, work_dirs / 'whole', *schedule)
    assert whole.returncode == 0, whole.stderr[-3000:]

    crashing = work_dirs / f'{config.stem}_killed.py'
    crashing.write_text(
        f'_base_ = {str(config)!r}\n'
        "custom_imports = dict(imports=['mmsepvit', 'crash_hooks'])\n"
        f"custom_hooks = [dict(type='KillAfterIter', iters={kill_after})]\n")
    killed = train(workspace, crashing, work_dirs / 'killed', *schedule)
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert not (work_dirs / 'killed' / final).exists()
    resumed = train(
        workspace, config, work_dirs / 'killed', *schedule, resume=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch' in resumed.stdout + resumed.stderr

    expected = weights(work_dirs / 'whole' / final)
    actual = weights(work_dirs / 'killed' / final)
    assert expected.keys() == actual.keys()
    different = [
        k for k in expected if not torch.equal(expected[k], actual[k])
    ]
    assert not different, different[:5]


@pytest.mark.slow
def test_crash_during_a_save_keeps_the_previous_checkpoint(
        tmp_path, monkeypatch, tiny_runner):
    real_save = mmengine_runner.save_checkpoint

    def crash_on_second_epoch(checkpoint, filename, **kwargs):
        if checkpoint['meta']['epoch'] == 2:
            with open(filename, 'wb') as f:
                f.write(b'torn')  # half a file, then the machine dies
            raise OSError('disk gone')
        real_save(checkpoint, filename, **kwargs)

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint',
                        crash_on_second_epoch)
    with pytest.raises(OSError, match='disk gone'):
        tiny_runner(tmp_path / 'run').train()
    run = tmp_path / 'run'
    assert not (run / 'epoch_2.pth').exists()
    assert (run / 'last_checkpoint').read_text().endswith('epoch_1.pth')
    saved = torch.load(run / 'epoch_1.pth', weights_only=True)
    assert saved['meta']['epoch'] == 1
    assert 'random_state' in saved['meta']

    monkeypatch.setattr(mmengine_runner, 'save_checkpoint', real_save)
    tiny_runner(run, resume=True).train()
    assert torch.load(
        run / 'epoch_3.pth', weights_only=True)['meta']['epoch'] == 3


def test_other_tools_get_the_runner_from_the_config():
    from mmdet.registry import RUNNERS
    init_default_scope('mmdet')
    assert RUNNERS.get('SafeRunner') is SafeRunner


class NoisyModel(BaseModel):
    """A one-layer model whose loss draws from Python's, NumPy's and
    PyTorch's generators, as augmentations and dropout do."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        noise = random.gauss(0, 1) + float(np.random.randn())
        out = self.linear(inputs + torch.randn_like(inputs) + noise)
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


class RandomStateProbe(Hook):
    """Records PyTorch's generator as training starts, after every other
    hook's ``before_train``."""
    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        self.state = torch.get_rng_state()


def plain_runner(work_dir: Path,
                 *hooks,
                 max_epochs: int = 3,
                 **kwargs) -> Runner:
    """mmengine's own Runner of a :class:`NoisyModel` with ``hooks`` as
    ``custom_hooks``: 2 shuffled batches an epoch, a checkpoint every
    epoch, seed 0. Named after its work dir, so that runners made in the
    same second share no logger or message hub."""
    return Runner(
        model=NoisyModel(),
        work_dir=str(work_dir),
        experiment_name=str(work_dir),
        train_dataloader=dict(
            dataset=[
                dict(inputs=inputs)
                for inputs in torch.linspace(-1, 1, 8).view(4, 2)
            ],
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        custom_hooks=list(hooks),
        randomness=dict(seed=0),
        **kwargs)


@pytest.mark.slow
def test_plain_runner_resumes_with_the_random_state(tmp_path):
    by_name = dict(type='RandomStateHook')
    plain_runner(tmp_path / 'whole', by_name).train()
    first_epoch = str(tmp_path / 'whole' / 'epoch_1.pth')
    expected = weights(tmp_path / 'whole' / 'epoch_3.pth')

    plain_runner(
        tmp_path / 'resumed', by_name, resume=True,
        load_from=first_epoch).train()
    resumed = weights(tmp_path / 'resumed' / 'epoch_3.pth')
    assert all(torch.equal(resumed[k], expected[k]) for k in expected)

    # Without the hook the resumed run draws other noise: the test can tell.
    plain_runner(
        tmp_path / 'unhooked', resume=True, load_from=first_epoch).train()
    unhooked = weights(tmp_path / 'unhooked' / 'epoch_3.pth')
    assert not all(torch.equal(unhooked[k], expected[k]) for k in expected)


@pytest.mark.slow
def test_fine_tuning_keeps_the_seeded_random_state(tmp_path):
    plain_runner(tmp_path / 'source', max_epochs=1).train()
    fresh, tuned = RandomStateProbe(), RandomStateProbe()
    plain_runner(
        tmp_path / 'fresh', RandomStateHook(), fresh, max_epochs=1).train()
    plain_runner(
        tmp_path / 'tuned',
        RandomStateHook(),
        tuned,
        max_epochs=1,
        load_from=str(tmp_path / 'source' / 'epoch_1.pth')).train()
    assert torch.equal(tuned.state, fresh.state)


@pytest.mark.parametrize('scope', ['mmengine', *CODEBASES])
def test_hooks_are_built_by_name_in_every_scope(scope):
    hooks = importlib.import_module(f'{scope}.registry').HOOKS
    with DefaultScope.overwrite_default_scope(scope):
        for hook in (RandomStateHook, CheckpointCheckHook):
            assert type(hooks.build(dict(type=hook.__name__))) is hook


def test_safe_runner_registers_its_hooks_once(tmp_path, tiny_runner):
    runner = tiny_runner(tmp_path, custom_hooks=[dict(type='RandomStateHook')])
    for hook_type in (RandomStateHook, CheckpointCheckHook):
        assert sum(isinstance(h, hook_type) for h in runner.hooks) == 1


def test_checkpoint_check_hook_warns_it_checks_nothing_elsewhere(
        tmp_path, capsys):
    runner = plain_runner(tmp_path, dict(type='CheckpointCheckHook'))
    runner.call_hook('before_run')
    assert 'Runner loads them unchecked' in capsys.readouterr().out
