import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from launch import launch_python
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DATASETS, MODELS, init_default_scope

from mmsepvit.datasets import make_toy_ade20k, make_toy_coco, make_toy_imagenet
from mmsepvit.engine import SafeRunner

# Reference data lives beside the checkout (../shared), never inside it.
SHARED = Path(
    os.environ.get('MMSEPVIT_SHARED',
                   Path(__file__).resolve().parents[2] / 'shared'))
FIXTURES = SHARED / 'fixtures'


def pytest_configure(config) -> None:
    config.addinivalue_line(
        'markers', 'slow: trains, exports or launches tools; '
        '`bash tools/run_tests.sh --fast` leaves these out')


def load_fixture(name: str) -> dict:
    """A reference fixture of ``../shared/fixtures``.

    Outside CI a missing fixture skips the test, saying where to put it; in
    CI (``CI=true``) it fails the test.
    """
    path = FIXTURES / name
    if not path.is_file():
        message = (f'reference fixture missing: {path} (put the shared '
                   'fixtures/ folder there, or set MMSEPVIT_SHARED to the '
                   'folder holding fixtures/)')
        if os.environ.get('CI', '').lower() == 'true':
            pytest.fail(message)
        pytest.skip(message)
    return torch.load(path, weights_only=True)


@pytest.fixture(scope='session')
def reference() -> dict:
    """Weights, inputs and outputs of the authors' released code for a micro
    architecture (see its 'about' entry)."""
    return load_fixture('sepvit_reference_micro.pt')


@pytest.fixture(scope='session')
def toy_workspace(tmp_path_factory) -> Path:
    """A folder holding ``data/toy_coco`` and ``data/toy_ade20k`` (8 training
    and 4 validation images each) and ``data/toy_imagenet`` (40 and 10), where
    the toy configs expect them. Tests run tools from it and write their work
    dirs under it; the data is read only."""
    workspace = tmp_path_factory.mktemp('workspace')
    data = workspace / 'data'
    make_toy_coco(str(data / 'toy_coco'), num_train=8, num_val=4)
    make_toy_ade20k(str(data / 'toy_ade20k'), num_train=8, num_val=4)
    make_toy_imagenet(str(data / 'toy_imagenet'), num_train=40, num_val=10)
    return workspace


def _run_tool(cwd: Path, *args: str) -> str:
    """Run ``python *args`` in ``cwd``; fail with its log's tail if it
    fails, else return the log."""
    return launch_python(*args, cwd=cwd).log


@pytest.fixture(scope='session')
def run_tool():
    return _run_tool


def _newest_metrics(work_dir: Path) -> dict:
    """The last scalars mmengine wrote (the metrics of a test or validation
    run) in the newest run under ``work_dir``."""
    scalars = sorted(work_dir.glob('*/vis_data/scalars.json'))[-1]
    return json.loads(scalars.read_text().splitlines()[-1])


@pytest.fixture(scope='session')
def read_metrics():
    return _newest_metrics


@pytest.fixture(scope='session')
def fit_toy_batch(toy_workspace):
    """Train the model of a toy config on the first 4 images of its training
    data, ``steps`` times over; return the losses. Keyword arguments change
    the config first (``merge_from_dict``)."""

    def fit(config: Path, steps: int, **changes) -> list:
        cfg = Config.fromfile(str(config))
        cfg.merge_from_dict(changes)
        dataset_cfg = cfg.train_dataloader.dataset
        dataset_cfg.data_root = str(toy_workspace / dataset_cfg.data_root)
        init_default_scope(cfg.default_scope)
        # Augmentations draw from NumPy's and Python's generators too.
        torch.manual_seed(0)
        np.random.seed(0)
        random.seed(0)
        dataset = DATASETS.build(dataset_cfg)
        model = MODELS.build(cfg.model)
        model.init_weights()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        data = pseudo_collate([dataset[i] for i in range(4)])
        model.train()
        return [
            float(model.train_step(data, optim_wrapper)['loss'])
            for _ in range(steps)
        ]

    return fit


class TinyModel(BaseModel):
    """A one-layer model for runner tests."""

    def __init__(self, width: int = 2) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(width, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        return dict(loss=out.pow(2).mean()) if mode == 'loss' else out


@pytest.fixture
def tiny_runner():
    """Make a SafeRunner of a :class:`TinyModel` of ``width`` inputs: 2
    shuffled batches an epoch, a checkpoint every epoch, seed 0, a logger of
    its own."""

    def make(work_dir: Path,
             max_epochs: int = 3,
             width: int = 2,
             **kwargs) -> SafeRunner:
        # Runners made in the same second would share a logger.
        kwargs.setdefault('experiment_name', str(work_dir))
        return SafeRunner(
            model=TinyModel(width),
            work_dir=str(work_dir),
            train_dataloader=dict(
                dataset=[dict(inputs=torch.randn(2)) for _ in range(4)],
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                batch_size=2),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
            train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=1)),
            randomness=dict(seed=0),
            **kwargs)

    return make
