"""MSG-Transformer configs hold the recipes of PEERS.md (the release's
ImageNet-1K recipe; Swin's Cascade Mask R-CNN 3x protocol for COCO) and
build."""
import os
import sys
from pathlib import Path

import pytest
import torch
from launch import launch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmsepvit.models.backbones import MSGTransformer
from mmsepvit.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'

# variant: (arch, drop path, batch per GPU (x GPUs = 1024), channels)
IN1K = {
    't': ('tiny', 0.1, 128, 512),
    's': ('small', 0.3, 128, 768),
    'b': ('base', 0.5, 64, 768),
}
# variant: (arch, drop path as Swin's rows, FPN inputs)
COCO = {
    't': ('tiny', 0.2, [64, 128, 256, 512]),
    's': ('small', 0.2, [96, 192, 384, 768]),
    'b': ('base', 0.3, [96, 192, 384, 768]),
}


def build_backbone(backbone_cfg) -> MSGTransformer:
    cfg = dict(backbone_cfg, init_cfg=None)
    with torch.device('meta'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('variant', list(IN1K))
def test_in1k_recipe(variant):
    arch, drop_path, batch, channels = IN1K[variant]
    cfg = Config.fromfile(str(CONFIGS / f'msg_{variant}_300e_in1k.py'))
    backbone = cfg.model.backbone
    assert backbone.type == 'MSGTransformer' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert (backbone.out_type, backbone.final_norm,
            tuple(backbone.out_indices)) == ('msg', True, (3, ))
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    assert cfg.model.head.type == 'LinearClsHead'
    assert cfg.model.head.in_channels == channels
    assert cfg.model.head.num_classes == 1000
    assert cfg.model.head.loss.label_smooth_val == 0.1
    # AdamW, lr 5e-4 per 512 images at batch 1024.
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.lr == pytest.approx(5e-4 * 1024 / 512)
    assert optimizer.weight_decay == 0.05
    assert cfg.optim_wrapper.clip_grad.max_norm == 5.0
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.auto_scale_lr.base_batch_size == 1024
    # No decay on 1-D parameters, biases and the position tables; the
    # msg_tokens are decayed, as released.
    paramwise = cfg.optim_wrapper.paramwise_cfg
    assert paramwise.norm_decay_mult == paramwise.bias_decay_mult == 0
    assert paramwise.flat_decay_mult == 0
    assert set(paramwise.custom_keys) == {
        'relative_position_bias_table', 'rel_pos_msg'
    }
    assert all(v.decay_mult == 0 for v in paramwise.custom_keys.values())
    # 20 warm-up epochs from 1e-6, cosine to 1e-5, 300 epochs.
    warmup, cosine = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 20
    assert warmup.start_factor * optimizer.lr == pytest.approx(1e-6)
    assert cosine.type == 'CosineAnnealingLR' and cosine.begin == 20
    assert cosine.eta_min == 1e-5
    assert cfg.train_cfg.max_epochs == 300
    transforms = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    rand_augment = transforms['RandAugment']
    assert (rand_augment.policies, rand_augment.magnitude_level,
            rand_augment.magnitude_std) == ('timm_increasing', 9, 0.5)
    assert transforms['RandomErasing'].erase_prob == 0.25
    assert transforms['RandomResizedCrop'].scale == 224
    augments = {a.type: a.alpha for a in cfg.model.train_cfg.augments}
    assert augments == {'Mixup': 0.8, 'CutMix': 1.0}
    assert cfg.custom_imports.imports == ['mmsepvit']


@pytest.mark.parametrize('variant', list(IN1K))
def test_in1k_classifier_builds_with_the_release_param_count(variant):
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    cfg = Config.fromfile(str(CONFIGS / f'msg_{variant}_300e_in1k.py'))
    init_default_scope('mmpretrain')
    with torch.device('meta'):
        model = MMPRETRAIN_MODELS.build(cfg.model)
    count = sum(p.numel() for p in model.parameters())
    assert count == {
        't': 25_086_116,
        's': 55_968_514,
        'b': 84_392_770
    }[variant]


@pytest.mark.parametrize('variant', list(COCO))
def test_coco_recipe(variant):
    arch, drop_path, channels = COCO[variant]
    cfg = Config.fromfile(
        str(CONFIGS / f'cascade_mask_rcnn_msg_{variant}_3x_ms_coco.py'))
    backbone = cfg.model.backbone
    assert backbone.type == 'MSGTransformer' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert tuple(backbone.out_indices) == (0, 1, 2, 3)
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.prefix == 'backbone.'
    checkpoint = f'checkpoints/msg_{variant}_in1k.pth'
    assert backbone.init_cfg.checkpoint == checkpoint
    assert cfg.model.type == 'CascadeRCNN'
    assert cfg.model.neck.in_channels == channels
    # 4conv1fc box heads with SyncBN and GIoU, three stages.
    heads = cfg.model.roi_head.bbox_head
    assert len(heads) == 3
    for head in heads:
        assert head.type == 'ConvFCBBoxHead'
        assert (head.num_shared_convs, head.num_shared_fcs) == (4, 1)
        assert head.norm_cfg.type == 'SyncBN'
        assert head.loss_bbox.type == 'GIoULoss'
        assert head.reg_decoded_bbox
    assert 'mask_head' in cfg.model.roi_head
    # AdamW lr 1e-4, weight decay 0.05, none on norms and position tables.
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == 1e-4
    assert optimizer.weight_decay == 0.05
    assert cfg.optim_wrapper.constructor == 'DefaultOptimWrapperConstructor'
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert set(keys) == {'relative_position_bias_table', 'rel_pos_msg', 'norm'}
    assert all(v.decay_mult == 0 for v in keys.values())
    assert 'decay_rate' not in cfg.optim_wrapper.paramwise_cfg
    # 36 epochs, steps at 27 and 33, 500-iteration warm-up; batch 16.
    assert cfg.train_cfg.max_epochs == 36
    warmup, steps = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 500
    assert not warmup.by_epoch
    assert steps.milestones == [27, 33]
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.auto_scale_lr.base_batch_size == 16
    # DETR-style multi-scale: resize, or resize-crop-resize.
    choice = [t for t in cfg.train_pipeline if t.type == 'RandomChoice']
    assert len(choice) == 1 and len(choice[0].transforms) == 2
    scales = choice[0].transforms[0][0].scales
    assert scales[0] == (480, 1333) and scales[-1] == (800, 1333)
    used = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert used == [t.type for t in cfg.train_pipeline]
    assert cfg.custom_imports.imports == ['mmsepvit']
    assert cfg.runner_type == 'SafeRunner'


@pytest.mark.parametrize('config', [
    *(f'cascade_mask_rcnn_msg_{v}_3x_ms_coco.py'
      for v in COCO), *(f'msg_{v}_300e_in1k.py' for v in IN1K)
])
def test_config_backbone_builds(config):
    cfg = Config.fromfile(str(CONFIGS / config))
    backbone = build_backbone(cfg.model.backbone)
    assert isinstance(backbone, MSGTransformer)
    assert backbone.arch_settings == MSGTransformer.arch_zoo[
        cfg.model.backbone.arch]
    # The classifier keeps the final norm (the "no head" count of the
    # release); the dense backbone drops it.
    count = sum(p.numel() for p in backbone.parameters())
    no_head = {
        'tiny': 24_573_116,
        'small': 55_199_514,
        'base': 83_623_770
    }[cfg.model.backbone.arch]
    dims = backbone.arch_settings['embed_dims'][-1]
    assert count == (no_head if 'in1k' in config else no_head - 2 * dims)


# -- toy runs through the tools ---------------------------------------------
TOY = CONFIGS / 'toy'
TOOLS = CONFIGS.parent / 'tools'


@pytest.mark.slow
def test_toy_cascade_mask_rcnn_trains_and_tools_test_evaluates(
        toy_workspace, run_tool, read_metrics):
    config = TOY / 'cascade_mask_rcnn_msg_t_toy_coco.py'
    work_dir = toy_workspace / 'work_dirs' / 'msg_cascade'
    run_tool(toy_workspace, str(TOOLS / 'train.py'), str(config), '--work-dir',
             str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
             'train_cfg.val_interval=1')
    checkpoint = work_dir / 'epoch_1.pth'
    saved = torch.load(checkpoint, weights_only=True)
    assert saved['meta']['epoch'] == 1 and saved['meta']['iter'] == 2
    assert 'backbone.msg_tokens' in saved['state_dict']
    run_tool(toy_workspace, str(TOOLS / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir))
    metrics = read_metrics(work_dir)
    assert 0 <= metrics['coco/bbox_mAP'] <= 1
    assert 0 <= metrics['coco/segm_mAP'] <= 1


@pytest.mark.slow
def test_toy_classifier_trains_and_tools_test_evaluates(
        toy_workspace, run_tool, read_metrics):
    config = TOY / 'msg_t_toy_imagenet.py'
    work_dir = toy_workspace / 'work_dirs' / 'msg_classifier'
    run_tool(toy_workspace, str(TOOLS / 'train.py'), str(config), '--work-dir',
             str(work_dir), '--cfg-options', 'train_cfg.max_epochs=3',
             'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3')
    # Three epochs: past the two of warm-up.
    checkpoint = work_dir / 'epoch_3.pth'
    assert checkpoint.is_file()
    run_tool(toy_workspace, str(TOOLS / 'test.py'), str(config),
             str(checkpoint), '--work-dir', str(work_dir))
    assert 0 <= read_metrics(work_dir)['accuracy/top1'] <= 100
    # The classifier's trunk initialises the dense backbone (its final norm
    # dropped).
    dense = MSGTransformer(
        arch=Config.fromfile(str(config)).model.backbone.arch,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.'))
    dense.init_weights()
    trained = torch.load(checkpoint, weights_only=True)['state_dict']
    assert torch.equal(dense.msg_tokens, trained['backbone.msg_tokens'])


@pytest.mark.slow
def test_frozen_stages_train_in_two_processes(toy_workspace):
    """Two gloo processes on the CPU, frozen stem and stage 1: DDP is made
    before train() runs, so the backbone must freeze when built."""
    work_dir = toy_workspace / 'work_dirs' / 'msg_dist_frozen'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29541')
    log = launch(
        'bash',
        TOOLS / 'dist_train.sh',
        TOY / 'msg_t_toy_imagenet.py',
        '2',
        '--work-dir',
        work_dir,
        '--cfg-options',
        'train_cfg.max_epochs=3',  # past the two of warm-up
        'train_cfg.val_interval=10',
        'default_hooks.checkpoint.interval=1',
        'model.backbone.frozen_stages=1',
        cwd=toy_workspace,
        env=env).log
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    # 40 images, 32 per process per step, 2 processes: one step an epoch;
    # the toy config keeps the last two checkpoints.
    assert 'Epoch(train) [3][1/1]' in log
    first, second = (
        torch.load(work_dir / f'epoch_{i}.pth',
                   weights_only=True)['state_dict'] for i in (2, 3))
    frozen = ('backbone.patch_embed.', 'backbone.msg_tokens',
              'backbone.stages.0.')
    assert any(k.startswith(frozen) for k in first)
    for name, value in first.items():
        if name.startswith(frozen):
            assert torch.equal(value, second[name]), name
    trained = 'backbone.stages.1.blocks.0.attn.qkv.weight'
    assert not torch.equal(first[trained], second[trained])
