"""The toy ImageNet run through the tools, and its checkpoint carried into
the dense backbone."""
import re
from pathlib import Path

import pytest
import torch

from mmsepvit.datasets import IMAGENET_CLASSES
from mmsepvit.models import SepViT

ROOT = Path(__file__).resolve().parents[1]
TOY_CONFIG = ROOT / 'configs' / 'toy' / 'sepvit_lite_toy_imagenet.py'

pytestmark = pytest.mark.slow


def test_toy_imagenet_layout(toy_workspace):
    root = toy_workspace / 'data' / 'toy_imagenet'
    for split, count in (('train', 40), ('val', 10)):
        folders = sorted(p.name for p in (root / split).iterdir())
        assert folders == sorted(IMAGENET_CLASSES)
        assert sum(1 for _ in (root / split).glob('*/*.png')) == count


@pytest.fixture(scope='module')
def toy_checkpoint(toy_workspace, run_tool):
    """Three epochs (past the warm-up) of the toy config through
    tools/train.py."""
    work_dir = toy_workspace / 'work_dirs' / 'toy_classifier'
    run_tool(toy_workspace, ROOT / 'tools' / 'train.py', TOY_CONFIG,
             '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=3',
             'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3')
    return work_dir / 'epoch_3.pth'


def test_tools_test_reports_top1_and_draws(toy_workspace, toy_checkpoint,
                                           run_tool, read_metrics):
    work_dir = toy_workspace / 'work_dirs' / 'toy_classifier'
    run_tool(toy_workspace, ROOT / 'tools' / 'test.py', TOY_CONFIG,
             toy_checkpoint, '--work-dir', work_dir, '--show-dir', 'drawn')
    assert 0 <= read_metrics(work_dir)['accuracy/top1'] <= 100
    assert len(list((work_dir / 'drawn').glob('*.png'))) == 10


def test_trained_classifier_initialises_the_dense_backbone(toy_checkpoint):
    classifier = torch.load(toy_checkpoint, weights_only=True)['state_dict']
    dense = SepViT(
        arch='lite',
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(toy_checkpoint),
            prefix='backbone.'))
    dense.init_weights()
    backbone = {
        k[len('backbone.'):]: v
        for k, v in classifier.items() if k.startswith('backbone.')
    }
    dense_state = dense.state_dict()
    for name in backbone.keys() & dense_state.keys():
        torch.testing.assert_close(dense_state[name], backbone[name], msg=name)
    # Without a counterpart: pointwise attention of blocks that see a single
    # window at the classifier's size, and the stage norms 0-2.
    fresh = dense_state.keys() - backbone.keys()
    assert fresh and all(
        re.search(r'\.attn\.token_(norm|qk)\.|^norm[012]\.', k) for k in fresh)
    assert all(
        k.endswith('.window_token')
        for k in backbone.keys() - dense_state.keys())


def test_toy_classifier_learns_a_batch(fit_toy_batch):
    """The classifier learns: its loss on one batch of toy images halves
    (without Mixup and CutMix, whose random targets change every step)."""
    losses = fit_toy_batch(TOY_CONFIG, 10, **{'model.train_cfg': None})
    assert losses[-1] < 0.5 * losses[0], losses
