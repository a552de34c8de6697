"""The Shuffle Transformer configs hold the recipes their headers name: the
released ImageNet recipe (PEERS.md), Swin's UperNet 160K (mmseg) and Swin's
Mask R-CNN 1x (mmdet); every config builds."""
import os
import sys
from pathlib import Path

import pytest
import torch
from launch import launch
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmseg.registry import MODELS as MMSEG_MODELS

from mmsepvit.models.backbones import ShuffleTransformer

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
CHANNELS = dict(
    tiny=[96, 192, 384, 768],
    small=[96, 192, 384, 768],
    base=[128, 256, 512, 1024])


def load(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / f'{name}.py'))


REGISTRIES = dict(
    mmdet=MMDET_MODELS, mmseg=MMSEG_MODELS, mmpretrain=MMPRETRAIN_MODELS)


def build_on_meta(cfg: Config):
    """The config's whole model, built without memory."""
    init_default_scope(cfg.default_scope)
    with torch.device('meta'):
        return REGISTRIES[cfg.default_scope].build(cfg.model)


def check_dense_backbone(backbone, arch: str, drop_path: float, name: str):
    assert backbone.type == 'ShuffleTransformer' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    # BatchNorm over all GPUs with 2 images each.
    assert backbone.norm_cfg == dict(type='SyncBN')
    assert backbone.get('norm_eval', False) is False
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint=f'checkpoints/shuffle_{name}_in1k.pth',
        prefix='backbone.')


def check_no_decay_keys(cfg: Config):
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    for name in ('relative_position_bias_table', 'norm'):
        assert keys[name].decay_mult == 0


# name: (arch, drop path), Swin's UperNet 160K recipe.
SEG = {
    'upernet_shuffle_t_160k_ade20k': ('tiny', 0.3),
    'upernet_shuffle_s_160k_ade20k': ('small', 0.3),
    'upernet_shuffle_b_160k_ade20k': ('base', 0.3),
}


@pytest.mark.parametrize('name', sorted(SEG))
def test_upernet_recipe(name):
    arch, drop_path = SEG[name]
    cfg = load(name)
    check_dense_backbone(cfg.model.backbone, arch, drop_path, arch[0])
    assert cfg.model.pretrained is None
    assert cfg.model.decode_head.type == 'UPerHead'
    assert cfg.model.decode_head.in_channels == CHANNELS[arch]
    assert cfg.model.auxiliary_head.in_channels == CHANNELS[arch][2]
    assert cfg.model.decode_head.num_classes == 150
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == 6e-5
    assert optimizer.betas == (0.9, 0.999)
    assert optimizer.weight_decay == 0.01
    check_no_decay_keys(cfg)
    warmup, poly = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 1500
    assert warmup.start_factor == 1e-6 and not warmup.by_epoch
    assert poly.type == 'PolyLR' and poly.power == 1.0
    assert poly.eta_min == 0 and poly.begin == 1500 and poly.end == 160000
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.crop_size == (512, 512)


# name: (arch, drop path), Swin's Mask R-CNN 1x recipe.
DET = {
    'mask_rcnn_shuffle_t_1x_coco': ('tiny', 0.2),
    'mask_rcnn_shuffle_s_1x_coco': ('small', 0.3),
}


@pytest.mark.parametrize('name', sorted(DET))
def test_mask_rcnn_recipe(name):
    arch, drop_path = DET[name]
    cfg = load(name)
    check_dense_backbone(cfg.model.backbone, arch, drop_path, arch[0])
    assert cfg.model.type == 'MaskRCNN'
    assert cfg.model.neck.in_channels == CHANNELS[arch]
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == 1e-4
    assert optimizer.betas == (0.9, 0.999)
    assert optimizer.weight_decay == 0.05
    check_no_decay_keys(cfg)
    warmup, steps = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 1000
    assert warmup.start_factor == 0.001 and not warmup.by_epoch
    assert steps.type == 'MultiStepLR' and steps.milestones == [8, 11]
    assert cfg.train_cfg.max_epochs == 12
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.auto_scale_lr.base_batch_size == 16


# name: (arch, drop path), the released ImageNet recipe.
CLS = {
    'shuffle_t_300e_in1k': ('tiny', 0.1),
    'shuffle_s_300e_in1k': ('small', 0.3),
    'shuffle_b_300e_in1k': ('base', 0.5),
}


@pytest.mark.parametrize('name', sorted(CLS))
def test_imagenet_recipe(name):
    arch, drop_path = CLS[name]
    cfg = load(name)
    backbone = cfg.model.backbone
    assert backbone.type == 'ShuffleTransformer' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert backbone.out_indices == (3, )
    # BatchNorm per GPU, as released.
    assert backbone.get('norm_cfg', dict(type='BN')) == dict(type='BN')
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    assert cfg.model.head.type == 'LinearClsHead'
    assert cfg.model.head.in_channels == CHANNELS[arch][-1]
    assert cfg.model.head.loss.label_smooth_val == 0.1
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.lr == pytest.approx(1e-3)
    assert optimizer.weight_decay == 0.05
    paramwise = cfg.optim_wrapper.paramwise_cfg
    # None on 1-D parameters (norms, biases) and position tables.
    assert paramwise.flat_decay_mult == paramwise.bias_decay_mult == 0
    assert paramwise.norm_decay_mult == 0
    assert paramwise.custom_keys['.relative_position_bias_table'] \
        .decay_mult == 0
    assert cfg.optim_wrapper.clip_grad.max_norm == 5.0
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 20
    assert warmup.start_factor * 1e-3 == pytest.approx(1e-6)
    assert cosine.type == 'CosineAnnealingLR' and cosine.begin == 20
    assert cosine.eta_min == 1e-5
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.train_dataloader.batch_size * 8 == 1024
    assert cfg.auto_scale_lr.base_batch_size == 1024
    transforms = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    rand_augment = transforms['RandAugment']
    assert (rand_augment.policies, rand_augment.num_policies,
            rand_augment.magnitude_level,
            rand_augment.magnitude_std) == ('timm_increasing', 2, 9, 0.5)
    assert transforms['RandomErasing'].erase_prob == 0.25
    assert transforms['RandomResizedCrop'].scale == 224
    augments = {a.type: a.alpha for a in cfg.model.train_cfg.augments}
    assert augments == {'Mixup': 0.8, 'CutMix': 1.0}
    test = {t.type: t for t in cfg.test_dataloader.dataset.pipeline}
    assert test['ResizeEdge'].scale == 256
    assert test['CenterCrop'].crop_size == 224


# Parameter counts of the classifiers with 1000 classes (PEERS.md).
@pytest.mark.parametrize('name,count', [('shuffle_t_300e_in1k', 28_532_482),
                                        ('shuffle_s_300e_in1k', 50_076_178),
                                        ('shuffle_b_300e_in1k', 88_398_560)])
def test_classifier_configs_build_with_the_released_counts(name, count):
    model = build_on_meta(load(name))
    assert sum(p.numel() for p in model.parameters()) == count


@pytest.mark.parametrize('name', sorted(SEG) + sorted(DET))
def test_dense_configs_build(name):
    cfg = load(name)
    model = build_on_meta(cfg)
    arch = cfg.model.backbone.arch
    backbone = model.backbone
    assert type(backbone).__name__ == 'ShuffleTransformer'
    assert backbone.arch_settings['embed_dims'] == CHANNELS[arch]
    assert isinstance(backbone.stem.norm1, torch.nn.SyncBatchNorm)


# Toy runs through the tools (slow).
TOY = CONFIGS / 'toy'


@pytest.mark.slow
def test_toy_upernet_trains_and_tools_test_evaluates(toy_workspace, run_tool,
                                                     read_metrics):
    config = TOY / 'upernet_shuffle_t_toy_ade20k.py'
    work_dir = toy_workspace / 'work_dirs' / 'shuffle_upernet'
    run_tool(
        toy_workspace,
        str(ROOT / 'tools' / 'train.py'),
        str(config),
        '--work-dir',
        str(work_dir),
        '--cfg-options',
        'train_cfg.max_iters=4',
        # tools/test.py evaluates; no validation while training.
        'train_cfg.val_interval=8',
        'default_hooks.checkpoint.interval=4')
    checkpoint = work_dir / 'iter_4.pth'
    assert torch.load(checkpoint, weights_only=True)['meta']['iter'] == 4
    run_tool(toy_workspace, str(ROOT / 'tools' / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir))
    assert 0 <= read_metrics(work_dir)['mIoU'] <= 100


@pytest.mark.slow
def test_toy_mask_rcnn_trains_and_tools_test_evaluates(toy_workspace, run_tool,
                                                       read_metrics):
    config = TOY / 'mask_rcnn_shuffle_t_toy_coco.py'
    work_dir = toy_workspace / 'work_dirs' / 'shuffle_mask_rcnn'
    run_tool(toy_workspace,
             str(ROOT / 'tools' / 'train.py'), str(config), '--work-dir',
             str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
             'train_cfg.val_interval=2')
    checkpoint = work_dir / 'epoch_1.pth'
    assert torch.load(checkpoint, weights_only=True)['meta']['iter'] == 2
    run_tool(toy_workspace, str(ROOT / 'tools' / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir))
    metrics = read_metrics(work_dir)
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    assert 0 <= metrics['coco/segm_mAP'] <= 1


@pytest.mark.slow
def test_toy_classifier_trains_and_tools_test_evaluates(
        toy_workspace, run_tool, read_metrics):
    config = TOY / 'shuffle_t_toy_imagenet.py'
    work_dir = toy_workspace / 'work_dirs' / 'shuffle_classifier'
    run_tool(
        toy_workspace,
        str(ROOT / 'tools' / 'train.py'),
        str(config),
        '--work-dir',
        str(work_dir),
        '--cfg-options',
        'train_cfg.max_epochs=3',
        # Past the 2-epoch warm-up; no validation while training.
        'train_cfg.val_interval=4',
        'default_hooks.checkpoint.interval=3')
    checkpoint = work_dir / 'epoch_3.pth'
    run_tool(toy_workspace, str(ROOT / 'tools' / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir))
    assert 0 <= read_metrics(work_dir)['accuracy/top1'] <= 100
    # The classifier's backbone initialises the dense backbone.
    backbone = Config.fromfile(str(config)).model.backbone.to_dict()
    backbone.pop('type')
    backbone.update(
        out_indices=(0, 1, 2, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.'))
    dense = ShuffleTransformer(**backbone)
    dense.init_weights()


@pytest.mark.slow
def test_frozen_stages_train_in_two_processes(toy_workspace):
    """Two epochs of the toy Mask R-CNN in 2 gloo processes on the CPU, one
    step an epoch, with the stem and stage 1 frozen: DDP must not wait for
    their gradients, and neither their weights nor their BatchNorm
    statistics may move. The backbone keeps its multi-GPU SyncBN, which
    PyTorch refuses on CPU tensors: the runner makes it per-process
    BatchNorm."""
    work_dir = toy_workspace / 'work_dirs' / 'shuffle_dist_frozen'
    log = launch(
        'bash',
        ROOT / 'tools' / 'dist_train.sh',
        TOY / 'mask_rcnn_shuffle_t_toy_coco.py',
        2,
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=2',
        'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=1',
        'model.backbone.frozen_stages=1',
        'model.backbone.norm_cfg.type=SyncBN',
        cwd=toy_workspace,
        env=dict(os.environ, PYTHON=sys.executable, PORT='29571')).log
    assert 'Distributed training: True' in log
    assert 'Epoch(train) [2][1/1]' in log
    first, second = (
        torch.load(work_dir / f'epoch_{i}.pth',
                   weights_only=True)['state_dict'] for i in (1, 2))
    frozen = ('backbone.stem.', 'backbone.stages.0.')
    assert any(
        k.endswith('running_mean') and k.startswith(frozen) for k in first)
    for name, value in first.items():
        if name.startswith(frozen):
            assert torch.equal(value, second[name]), name
    trained = 'backbone.stages.1.blocks.0.attn.to_qkv.weight'
    assert not torch.equal(first[trained], second[trained])
