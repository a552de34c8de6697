"""Segmentation configs and the train/test tools on toy ADE20K data."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmsepvit.datasets import ADE_CLASSES

ROOT = Path(__file__).resolve().parents[1]
SEG_CONFIGS = sorted((ROOT / 'configs').glob('*_sepvit_*_ade20k.py'))
TOY_FPN = ROOT / 'configs' / 'toy' / 'fpn_sepvit_t_toy_ade20k.py'
TOY_UPERNET = ROOT / 'configs' / 'toy' / 'upernet_sepvit_t_toy_ade20k.py'

# name: (arch, lr, weight decay, drop path, iterations), from the paper.
RECIPES = {
    'fpn_sepvit_t_80k_ade20k': ('tiny', 1e-4, 1e-4, 0.2, 80000),
    'fpn_sepvit_s_80k_ade20k': ('small', 1e-4, 1e-4, 0.3, 80000),
    'fpn_sepvit_b_80k_ade20k': ('base', 1e-4, 1e-4, 0.4, 80000),
    'upernet_sepvit_t_160k_ade20k': ('tiny', 6e-5, 0.01, 0.2, 160000),
    'upernet_sepvit_s_160k_ade20k': ('small', 6e-5, 0.01, 0.3, 160000),
    'upernet_sepvit_b_160k_ade20k': ('base', 6e-5, 0.03, 0.5, 160000),
}
CHANNELS = dict(
    tiny=[96, 192, 384, 768],
    small=[96, 192, 384, 768],
    base=[128, 256, 512, 1024])


def test_every_paper_config_is_present():
    assert sorted(p.stem for p in SEG_CONFIGS) == sorted(RECIPES)


@pytest.mark.parametrize('config', SEG_CONFIGS, ids=lambda p: p.stem)
def test_config_follows_the_paper(config):
    arch, lr, weight_decay, drop_path, iters = RECIPES[config.stem]
    cfg = Config.fromfile(str(config))
    backbone = cfg.model.backbone
    assert backbone.type == 'SepViT' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert backbone.init_cfg.type == 'Pretrained'
    assert cfg.model.pretrained is None
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == lr
    assert optimizer.weight_decay == weight_decay
    assert cfg.train_cfg.max_iters == iters
    assert cfg.crop_size == (512, 512)
    poly = cfg.param_scheduler[-1]
    assert poly.type == 'PolyLR' and poly.end == iters and poly.eta_min == 0
    if config.stem.startswith('fpn'):
        assert poly.power == 0.9 and len(cfg.param_scheduler) == 1
        assert cfg.train_dataloader.batch_size * 4 == 16
        assert cfg.model.neck.in_channels == CHANNELS[arch]
    else:
        warmup = cfg.param_scheduler[0]
        assert warmup.type == 'LinearLR' and warmup.end == 1500
        assert warmup.start_factor == 1e-6 and poly.power == 1.0
        assert optimizer.betas == (0.9, 0.999)
        assert cfg.train_dataloader.batch_size * 8 == 16
        assert cfg.model.decode_head.in_channels == CHANNELS[arch]
        assert cfg.model.auxiliary_head.in_channels == CHANNELS[arch][2]
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        for name in ('pos_embed', 'norm', 'window_token'):
            assert keys[name].decay_mult == 0
    ratios = [t.scale_factor for t in cfg.tta_pipeline[1].transforms[0]]
    assert ratios == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


@pytest.mark.slow
@pytest.mark.parametrize('config', SEG_CONFIGS, ids=lambda p: p.stem)
def test_config_trains_and_predicts_on_toy_data(config, toy_workspace):
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import DATASETS, MODELS
    cfg = Config.fromfile(str(config))
    init_default_scope('mmseg')
    cfg.model.backbone.init_cfg = None
    cfg.model.data_preprocessor.size = (64, 64)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    dataset = DATASETS.build(
        dict(
            type='BaseSegDataset',
            data_root=str(toy_workspace / 'data' / 'toy_ade20k'),
            metainfo=dict(classes=ADE_CLASSES),
            img_suffix='.jpg',
            seg_map_suffix='.png',
            reduce_zero_label=True,
            data_prefix=dict(
                img_path='images/training',
                seg_map_path='annotations/training'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', reduce_zero_label=True),
                dict(type='Resize', scale=(64, 64), keep_ratio=True),
                dict(type='PackSegInputs')
            ]))
    data = pseudo_collate([dataset[0], dataset[1]])
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    losses = model.train_step(data, optim_wrapper)
    assert all(torch.isfinite(v).all() for v in losses.values())
    model.eval()
    with torch.no_grad():
        results = model.test_step(data)
    assert len(results) == 2
    # Predicted at 64x64, returned at the images' original 128x128.
    assert results[0].pred_sem_seg.data.shape == (1, 128, 128)


@pytest.mark.slow
@pytest.mark.parametrize(
    'config', [TOY_FPN, TOY_UPERNET], ids=lambda p: p.stem)
def test_toy_run_evaluates_miou_through_tools_test(config, toy_workspace,
                                                   run_tool, read_metrics):
    work_dir = toy_workspace / 'work_dirs' / config.stem
    run_tool(toy_workspace,
             str(ROOT / 'tools' / 'train.py'), str(config), '--work-dir',
             str(work_dir), '--cfg-options', 'train_cfg.max_iters=4',
             'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4')
    checkpoint = work_dir / 'iter_4.pth'
    assert torch.load(checkpoint, weights_only=True)['meta']['iter'] == 4
    run_tool(toy_workspace, str(ROOT / 'tools' / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir), '--show-dir',
             'drawn')
    single_scale = read_metrics(work_dir)
    assert 0 <= single_scale['mIoU'] <= 100
    assert len(list((work_dir / 'drawn').rglob('*.png'))) == 4
    run_tool(toy_workspace, str(ROOT / 'tools' / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir), '--tta')
    multi_scale = read_metrics(work_dir)
    assert 0 <= multi_scale['mIoU'] <= 100


@pytest.mark.slow
def test_toy_fpn_learns_a_batch(fit_toy_batch):
    """The segmentor learns: its loss on one batch of toy scenes halves."""
    losses = fit_toy_batch(TOY_FPN, 10)
    assert losses[-1] < 0.5 * losses[0], losses
