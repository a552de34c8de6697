"""A killed toy training resumed with --resume ends with exactly the weights
of an uninterrupted run, and a crash during a save loses no checkpoint."""
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import mmengine.runner.runner as mmengine_runner
import pytest
import torch
from mmengine.registry import init_default_scope

from mmsepvit.engine import SafeRunner

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / 'configs' / 'toy'
DETERMINISTIC = ['randomness.seed=0', 'randomness.deterministic=True']


def train(workspace: Path,
          config: Path,
          work_dir: Path,
          *options: str,
          resume: bool = False) -> subprocess.CompletedProcess:
    """Run tools/train.py in a session of its own. A SIGKILL leaves its
    data-loading worker orphaned, maybe blocked writing a batch nobody reads;
    like a job scheduler, end the whole session once the trainer is gone."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent / 'plugins'))
    command = [
        sys.executable,
        str(ROOT / 'tools' / 'train.py'),
        str(config), '--work-dir',
        str(work_dir), *(['--resume'] if resume else []), '--cfg-options',
        *DETERMINISTIC, *options
    ]
    with tempfile.TemporaryFile('w+') as out, \
            tempfile.TemporaryFile('w+') as err:
        process = subprocess.Popen(
            command,
            cwd=workspace,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True)
        returncode = process.wait()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # nothing left
            pass
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(command, returncode, out.read(),
                                           err.read())


def weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)['state_dict']


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
    ],
    ids=['retinanet', 'fpn'])
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
