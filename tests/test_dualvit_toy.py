"""Dual-ViT's toy configs through tools/train.py and tools/test.py, and a
two-process training with frozen stages."""
import json
import os
import sys
from pathlib import Path

import pytest
import torch
from launch import launch

ROOT = Path(__file__).resolve().parents[1]
TOY = ROOT / 'configs' / 'toy'
TOY_RETINANET = TOY / 'retinanet_dualvit_s_toy_coco.py'

pytestmark = pytest.mark.slow

# config: (train options, test options, the metric tools/test.py reports).
# Training runs no validation: tools/test.py evaluates.
RUNS = {
    # From scratch, one epoch leaves RetinaNet's scores under its 0.05
    # threshold; testing with none still measures every box.
    'retinanet_dualvit_s_toy_coco':
    (['train_cfg.max_epochs=1', 'train_cfg.val_begin=100'],
     ['--cfg-options', 'model.test_cfg.score_thr=0.0'], 'coco/bbox_mAP'),
    'upernet_dualvit_s_toy_ade20k': ([
        'train_cfg.max_iters=2', 'train_cfg.val_begin=100',
        'default_hooks.checkpoint.interval=2'
    ], [], 'mIoU'),
    # Past the 2-epoch warm-up, after which the cosine schedule begins.
    'dualvit_s_toy_imagenet': ([
        'train_cfg.max_epochs=3', 'train_cfg.val_begin=100',
        'default_hooks.checkpoint.interval=3'
    ], [], 'accuracy/top1'),
}


@pytest.mark.parametrize('name', sorted(RUNS))
def test_toy_config_trains_and_tools_test_reports(name, toy_workspace,
                                                  run_tool):
    train_options, test_options, metric = RUNS[name]
    config = TOY / f'{name}.py'
    work_dir = toy_workspace / 'work_dirs' / name
    run_tool(toy_workspace, str(ROOT / 'tools' / 'train.py'), str(config),
             '--work-dir', str(work_dir), '--cfg-options', *train_options)
    checkpoint = next(work_dir / f
                      for f in ('epoch_1.pth', 'iter_2.pth', 'epoch_3.pth')
                      if (work_dir / f).is_file())
    state_dict = torch.load(checkpoint, weights_only=True)['state_dict']
    assert any(k.startswith('backbone.stages.3.') for k in state_dict)
    run_tool(toy_workspace, str(ROOT / 'tools' / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir), *test_options)
    assert 0 <= read_test_metrics(work_dir)[metric] <= 100


def read_test_metrics(work_dir: Path) -> dict:
    """The metrics of the newest run (tools/test.py's), from its json log:
    a test run writes them there, not to vis_data/scalars.json."""
    run = sorted(p for p in work_dir.iterdir() if p.is_dir())[-1]
    return json.loads((run / f'{run.name}.json').read_text().splitlines()[-1])


def test_frozen_stages_train_in_two_processes(toy_workspace):
    """Two processes (gloo) with the stem and stage 1 frozen, its semantic
    tokens' making included: DDP must not wait for their gradients, and
    they do not change; later stages train."""
    work_dir = toy_workspace / 'work_dirs' / 'dualvit_dist_frozen'
    log = launch(
        'bash',
        ROOT / 'tools' / 'dist_train.sh',
        TOY_RETINANET,
        '2',
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.interval=1',
        'model.backbone.frozen_stages=1',
        cwd=toy_workspace,
        env=dict(os.environ, PYTHON=sys.executable, PORT='29541')).log
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert 'Epoch(train) [2][1/1]' in log
    first, second = (
        torch.load(work_dir / f'epoch_{i}.pth',
                   weights_only=True)['state_dict'] for i in (1, 2))
    frozen = ('backbone.stages.0.', 'backbone.norm0.', 'backbone.norm_proxy0.')
    assert 'backbone.stages.0.semantic_embed.q' in first
    for name, value in first.items():
        if name.startswith(frozen):
            assert torch.equal(value, second[name]), name
    for trained in ('backbone.stages.1.blocks.0.attn.q.weight',
                    'backbone.stages.1.semantic_embed.proj.weight'):
        assert not torch.equal(first[trained], second[trained])
