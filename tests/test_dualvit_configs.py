"""Dual-ViT configs hold the release's recipes (shared/PEERS.md, section 1)
and build."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
CHANNELS = dict(small=[64, 128, 320, 448], base=[64, 128, 320, 512])

# name: (arch, lr, weight decay, epochs, lr steps).
DET = {
    'retinanet_dualvit_s_1x_coco': ('small', 1e-4, 1e-4, 12, [8, 11]),
    'retinanet_dualvit_b_1x_coco': ('base', 1e-4, 1e-4, 12, [8, 11]),
    'mask_rcnn_dualvit_s_1x_coco': ('small', 2e-4, 1e-4, 12, [8, 11]),
    'mask_rcnn_dualvit_b_1x_coco': ('base', 2e-4, 1e-4, 12, [8, 11]),
    'cascade_mask_rcnn_dualvit_s_3x_ms_coco':
    ('small', 1e-4, 0.05, 36, [27, 33]),
}
# name: (arch, drop path).
SEG = {
    'upernet_dualvit_s_160k_ade20k': ('small', 0.15),
    'upernet_dualvit_b_160k_ade20k': ('base', 0.3),
}
# name: (arch, drop path, gradient clip, parameters without the aux head).
CLS = {
    'dualvit_s_300e_in1k': ('small', 0.15, None, 24_605_000),
    'dualvit_b_300e_in1k': ('base', 0.15, None, 42_114_024),
    'dualvit_l_300e_in1k': ('large', 0.3, 1.0, 72_453_544),
}


def load(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / f'{name}.py'))


def test_every_config_is_present():
    found = sorted(p.stem for p in CONFIGS.glob('*dualvit*.py'))
    assert found == sorted([*DET, *SEG, *CLS])


def build_backbone(cfg: dict) -> torch.nn.Module:
    with torch.device('meta'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('name', sorted(DET))
def test_detection_recipe(name):
    arch, lr, weight_decay, epochs, steps = DET[name]
    cfg = load(name)
    backbone = cfg.model.backbone
    assert backbone.type == 'DualViT' and backbone.arch == arch
    assert backbone.drop_path_rate == 0.15
    # The release's stem BatchNorms: frozen affine, statistics updating.
    assert backbone.norm_cfg == dict(type='BN', requires_grad=False)
    assert not backbone.norm_eval
    assert backbone.get('eval_tile_size') is None
    assert backbone.init_cfg.type == 'Pretrained'
    assert backbone.init_cfg.prefix == 'backbone.'
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == lr
    assert optimizer.weight_decay == weight_decay
    assert cfg.train_cfg.max_epochs == epochs
    warmup, steps_cfg = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 500
    assert not warmup.by_epoch
    assert steps_cfg.milestones == steps
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.auto_scale_lr.base_batch_size == 16
    assert cfg.model.neck.in_channels == CHANNELS[arch]
    if name.startswith('retinanet'):
        assert cfg.model.neck.start_level == 1
        assert cfg.model.neck.add_extra_convs == 'on_input'
    if name.startswith('cascade'):
        keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
        assert keys == {'norm': dict(decay_mult=0.)}
        heads = cfg.model.roi_head.bbox_head
        assert len(heads) == 3
        for head in heads:
            assert (head.num_shared_convs, head.num_shared_fcs) == (4, 1)
            assert head.norm_cfg.type == 'SyncBN'
            assert head.loss_bbox.type == 'GIoULoss'
            assert head.reg_decoded_bbox
        choice = [t for t in cfg.train_pipeline if t.type == 'RandomChoice']
        assert len(choice) == 1 and len(choice[0].transforms) == 2
    else:
        assert 'paramwise_cfg' not in cfg.optim_wrapper
    model = build_backbone(backbone)
    assert sum(p.numel() for p in model.parameters()
               if p.requires_grad) == dict(
                   small=21_741_088, base=38_447_744)[arch]


@pytest.mark.parametrize('name', sorted(SEG))
def test_segmentation_recipe(name):
    arch, drop_path = SEG[name]
    cfg = load(name)
    backbone = cfg.model.backbone
    assert backbone.type == 'DualViT' and backbone.arch == arch
    assert backbone.drop_path_rate == drop_path
    assert backbone.norm_cfg == dict(type='SyncBN', requires_grad=True)
    assert backbone.eval_tile_size == 768  # the release's tiled test
    assert backbone.init_cfg.type == 'Pretrained'
    assert cfg.model.pretrained is None
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == 6e-5
    assert optimizer.weight_decay == 0.01
    assert optimizer.betas == (0.9, 0.999)
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    assert keys == {'norm': dict(decay_mult=0.)}
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.crop_size == (512, 512)
    warmup, poly = cfg.param_scheduler
    assert warmup.type == 'LinearLR' and warmup.end == 1500
    assert warmup.start_factor == 1e-6
    assert poly.type == 'PolyLR' and poly.power == 1.0 and poly.eta_min == 0
    assert poly.end == 160000
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.model.decode_head.in_channels == CHANNELS[arch]
    assert cfg.model.auxiliary_head.in_channels == CHANNELS[arch][2]
    assert cfg.model.auxiliary_head.loss_decode.loss_weight == 0.4
    assert cfg.model.decode_head.norm_cfg.type == 'SyncBN'
    # Whole image resized to fit (2048, 512), sides multiples of 16, no flip.
    assert cfg.model.test_cfg.mode == 'whole'
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        steps = {t.type: t for t in loader.dataset.pipeline}
        assert steps['Resize'].scale == (2048, 512)
        assert steps['Resize'].keep_ratio
        assert steps['ResizeToMultiple'].size_divisor == 16
        assert 'RandomFlip' not in steps
    model = build_backbone(backbone)
    assert sum(p.numel() for p in model.parameters()) == dict(
        small=21_741_280, base=38_448_128)[arch]


@pytest.mark.parametrize('name', sorted(CLS))
def test_classification_recipe(name):
    arch, drop_path, clip, params = CLS[name]
    cfg = load(name)
    assert cfg.model.backbone.arch == arch and cfg.model.backbone.classifier
    assert cfg.model.backbone.drop_path_rate == drop_path
    assert cfg.model.head.type == 'DualViTClsHead'
    assert not cfg.model.head.token_label  # no token-label maps
    assert cfg.model.neck is None
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW' and optimizer.lr == pytest.approx(1e-3)
    assert optimizer.weight_decay == 0.05
    if clip is None:
        assert cfg.optim_wrapper.clip_grad is None
    else:
        assert cfg.optim_wrapper.clip_grad.max_norm == clip
    assert cfg.train_dataloader.batch_size * 8 == 1024
    assert cfg.auto_scale_lr.base_batch_size == 1024
    warmup, cosine = cfg.param_scheduler
    assert warmup.start_factor == 1e-3 and warmup.end == 5  # from 1e-6
    assert cosine.eta_min == 1e-5 and cosine.begin == 5
    assert cosine.end == cfg.train_cfg.max_epochs == 310
    transforms = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    rand_augment = transforms['RandAugment']
    assert (rand_augment.policies, rand_augment.magnitude_level,
            rand_augment.magnitude_std) == ('timm_increasing', 9, 0.5)
    assert transforms['RandomErasing'].erase_prob == 0.25
    augments = {a.type: a.alpha for a in cfg.model.train_cfg.augments}
    assert augments == {'Mixup': 0.8, 'CutMix': 1.0}
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert 'ema' not in str(cfg.get('custom_hooks', [])).lower()
    init_default_scope('mmpretrain')
    with torch.device('meta'):
        model = MMPRETRAIN_MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == params


@pytest.mark.parametrize('name', sorted([*DET, *SEG]))
def test_whole_model_builds(name):
    """The detector or segmentor of each config builds: the backbone's
    channels fit the neck and heads."""
    scope = 'mmseg' if name in SEG else 'mmdet'
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    cfg = load(name)
    init_default_scope(scope)
    with torch.device('meta'):
        model = registry.build(cfg.model)
    assert type(model.backbone).__name__ == 'DualViT'
    assert model.backbone.embed_dims == CHANNELS[cfg.model.backbone.arch]
