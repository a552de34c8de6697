"""Detection configs and the train/test tools on toy COCO data."""
import os
import pickle
import sys
from pathlib import Path

import pytest
import torch
from launch import launch, launch_python
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmsepvit.datasets import SHAPES

ROOT = Path(__file__).resolve().parents[1]
DET_CONFIGS = sorted(
    p for p in (ROOT / 'configs').glob('*_sepvit_*_coco.py')
    if p.name.startswith(('retinanet_', 'mask_rcnn_')))
TOY_RETINANET = ROOT / 'configs' / 'toy' / 'retinanet_sepvit_t_toy_coco.py'
TOY_MASK_RCNN = ROOT / 'configs' / 'toy' / 'mask_rcnn_sepvit_t_toy_coco.py'

# name: (arch, weight decay, drop path, epochs, lr steps), from the paper.
RECIPES = {
    'retinanet_sepvit_t_1x_coco': ('tiny', 1e-3, 0.2, 12, [8, 11]),
    'retinanet_sepvit_s_1x_coco': ('small', 1e-4, 0.3, 12, [8, 11]),
    'retinanet_sepvit_t_3x_ms_coco': ('tiny', 0.05, 0.3, 36, [27, 33]),
    'retinanet_sepvit_s_3x_ms_coco': ('small', 0.1, 0.3, 36, [27, 33]),
    'mask_rcnn_sepvit_t_1x_coco': ('tiny', 1e-3, 0.2, 12, [8, 11]),
    'mask_rcnn_sepvit_s_1x_coco': ('small', 1e-4, 0.3, 12, [8, 11]),
    'mask_rcnn_sepvit_t_3x_ms_coco': ('tiny', 0.05, 0.3, 36, [27, 33]),
    'mask_rcnn_sepvit_s_3x_ms_coco': ('small', 0.1, 0.3, 36, [27, 33]),
}


def test_every_paper_config_is_present():
    assert sorted(p.stem for p in DET_CONFIGS) == sorted(RECIPES)


@pytest.mark.parametrize('config', DET_CONFIGS, ids=lambda p: p.stem)
def test_config_follows_the_paper(config):
    arch, weight_decay, drop_path, epochs, steps = RECIPES[config.stem]
    cfg = Config.fromfile(str(config))
    backbone = cfg.model.backbone
    assert backbone.type == 'SepViT' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.prefix == 'backbone.'
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == 1e-4
    assert optimizer.weight_decay == weight_decay
    assert cfg.train_cfg.max_epochs == epochs
    warmup, steps_cfg = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 500
    assert not warmup.by_epoch
    assert steps_cfg.milestones == steps
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.auto_scale_lr.base_batch_size == 16
    channels = [96, 192, 384, 768]
    assert cfg.model.neck.in_channels == channels
    if config.stem.startswith('retinanet'):
        assert cfg.model.neck.start_level == 1
        assert cfg.model.neck.add_extra_convs == 'on_input'
    if '3x' in config.stem:
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        for name in ('pos_embed', 'norm', 'window_token'):
            assert keys[name].decay_mult == 0
        choice = [t for t in cfg.train_pipeline if t.type == 'RandomChoice']
        assert len(choice) == 1 and len(choice[0].transforms) == 2


@pytest.mark.slow
@pytest.mark.parametrize('config', DET_CONFIGS, ids=lambda p: p.stem)
def test_config_trains_and_predicts_on_toy_data(config, toy_workspace):
    from mmdet.registry import DATASETS, MODELS
    cfg = Config.fromfile(str(config))
    init_default_scope('mmdet')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.init_weights()
    with_mask = 'roi_head' in cfg.model
    dataset = DATASETS.build(
        dict(
            type='CocoDataset',
            data_root=str(toy_workspace / 'data' / 'toy_coco'),
            ann_file='annotations/instances_train.json',
            data_prefix=dict(img=''),
            metainfo=dict(classes=SHAPES),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(
                    type='LoadAnnotations',
                    with_bbox=True,
                    with_mask=with_mask),
                dict(type='Resize', scale=(96, 96), keep_ratio=True),
                dict(type='PackDetInputs')
            ]))
    data = pseudo_collate([dataset[0], dataset[1]])
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    before = model.backbone.stages[0].blocks[0].attn.qkv.weight.clone()
    losses = model.train_step(data, optim_wrapper)
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert not torch.equal(before,
                           model.backbone.stages[0].blocks[0].attn.qkv.weight)
    model.eval()
    with torch.no_grad():
        results = model.test_step(data)
    assert len(results) == 2
    predictions = results[0].pred_instances
    assert predictions.bboxes.shape[1] == 4
    if with_mask:
        assert predictions.masks.shape[-2:] == (128, 128)  # original size


@pytest.mark.slow
def test_toy_retinanet_learns_a_batch(fit_toy_batch):
    """The detector learns: its loss on one batch of toy images falls. From
    scratch RetinaNet spikes now and then, so the best step counts; the lr is
    the paper's, as the toy run's 4e-4 relies on its warm-up."""
    losses = fit_toy_batch(TOY_RETINANET, 8,
                           **{'optim_wrapper.optimizer.lr': 1e-4})
    assert min(losses[1:]) < 0.75 * losses[0], losses


@pytest.mark.slow
def test_toy_retinanet_learns_padded_batches_as_fast(fit_toy_batch):
    """Images of mixed sizes, padded with zeros to the batch's largest (as
    every COCO batch is): from scratch, the detector learns as fast as on
    unpadded images. (AdamW scales each parameter's step, so the gradient
    a zero-initialised stem bias once had on padded borders does not show in
    a few steps' loss; tests/test_sepvit.py holds the gradient itself.)"""
    pipeline = Config.fromfile(
        str(TOY_RETINANET)).train_dataloader.dataset.pipeline
    resize = next(i for i, t in enumerate(pipeline) if t.type == 'Resize')
    pipeline[resize] = dict(
        type='RandomResize',
        scale=(128, 128),
        ratio_range=(0.5, 1.0),
        keep_ratio=True)
    lr = {'optim_wrapper.optimizer.lr': 1e-4}
    plain = fit_toy_batch(TOY_RETINANET, 6, **lr)
    padded = fit_toy_batch(TOY_RETINANET, 6, **lr,
                           **{'train_dataloader.dataset.pipeline': pipeline})
    assert min(padded[1:]) < 0.75 * padded[0], padded
    assert (min(padded[1:]) / padded[0]
            < min(plain[1:]) / plain[0] + 0.1), (padded, plain)


@pytest.mark.slow
def test_toy_mask_rcnn_trains_and_tools_test_evaluates(toy_workspace, run_tool,
                                                       read_metrics):
    work_dir = toy_workspace / 'work_dirs' / 'mask_rcnn'
    run_tool(toy_workspace, str(ROOT / 'tools' / 'train.py'),
             str(TOY_MASK_RCNN), '--work-dir', str(work_dir), '--cfg-options',
             'train_cfg.max_epochs=1', 'train_cfg.val_interval=1')
    checkpoint = work_dir / 'epoch_1.pth'
    assert checkpoint.is_file()
    saved = torch.load(checkpoint, weights_only=True)
    assert saved['meta']['epoch'] == 1 and saved['meta']['iter'] == 2

    out = toy_workspace / 'predictions.pkl'
    run_tool(toy_workspace,
             str(ROOT / 'tools' / 'test.py'), str(TOY_MASK_RCNN),
             str(checkpoint), '--work-dir', str(work_dir), '--show-dir',
             'drawn', '--out', str(out))
    metrics = read_metrics(work_dir)
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    assert 0 <= metrics['coco/segm_mAP'] <= 1
    drawn = list(work_dir.glob('*/drawn/*.png'))
    assert len(drawn) == 4
    with open(out, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 4 and 'pred_instances' in dumped[0]


@pytest.mark.slow
def test_resume_continues_from_the_saved_epoch(toy_workspace, run_tool):
    work_dir = toy_workspace / 'work_dirs' / 'retinanet_resume'
    train = [
        str(ROOT / 'tools' / 'train.py'),
        str(TOY_RETINANET), '--work-dir',
        str(work_dir), '--cfg-options', 'default_hooks.checkpoint.interval=1'
    ]
    run_tool(toy_workspace, *train, 'train_cfg.max_epochs=1')
    log = run_tool(toy_workspace, *train, 'train_cfg.max_epochs=2', '--resume')
    assert 'resumed epoch: 1, iter: 2' in log
    # On the CPU the tool sets the allocator up first (test_allocator.py).
    assert log.startswith('allocator: ')
    assert 'Epoch(train) [1]' not in log.split('resumed epoch')[1]
    saved = torch.load(work_dir / 'epoch_2.pth', weights_only=True)
    assert saved['meta']['epoch'] == 2 and saved['meta']['iter'] == 4
    assert 'optimizer' in saved and 'message_hub' in saved


@pytest.mark.slow
def test_missing_resume_checkpoint_is_named(toy_workspace):
    result = launch_python(
        ROOT / 'tools' / 'train.py',
        TOY_RETINANET,
        '--resume',
        'no/such.pth',
        cwd=toy_workspace,
        check=False)
    assert result.returncode != 0
    assert 'checkpoint not found: no/such.pth' in result.stderr


@pytest.mark.slow
def test_two_process_cpu_training(toy_workspace):
    work_dir = toy_workspace / 'work_dirs' / 'retinanet_dist'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29517')
    log = launch(
        'bash',
        ROOT / 'tools' / 'dist_train.sh',
        TOY_RETINANET,
        '2',
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=1',
        cwd=toy_workspace,
        env=env).log
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    saved = torch.load(work_dir / 'epoch_1.pth', weights_only=True)
    # 8 images, 4 per process per step, 2 processes: one step per epoch.
    assert saved['meta']['iter'] == 1
