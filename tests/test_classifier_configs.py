from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[1] / 'configs'


def build(variant: str, device: str = 'cpu'):
    cfg = Config.fromfile(str(CONFIGS / f'sepvit_{variant}_300e_in1k.py'))
    init_default_scope('mmpretrain')
    with torch.device(device):
        return MODELS.build(cfg.model), cfg


# Counted from the released classifier with a 1000-class head.
@pytest.mark.parametrize('variant,millions', [('lite', 3.66), ('t', 31.18),
                                              ('s', 46.57), ('b', 82.38)])
def test_classifier_parameter_counts(variant, millions):
    model, _ = build(variant, device='meta')
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6, 2) == millions


@pytest.mark.parametrize('variant,drop_path,weight_decay,warmup',
                         [('lite', 0.1, 0.05, 5), ('t', 0.2, 0.05, 5),
                          ('s', 0.3, 0.05, 5), ('b', 0.5, 0.1, 20)])
def test_recipe(variant, drop_path, weight_decay, warmup):
    _, cfg = build(variant, device='meta')
    assert cfg.model.backbone.drop_path_rate == drop_path
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(1e-3)
    assert cfg.optim_wrapper.optimizer.weight_decay == weight_decay
    assert cfg.optim_wrapper.clip_grad.max_norm == 5.0
    assert cfg.param_scheduler[0].end == warmup
    assert cfg.param_scheduler[1].begin == warmup
    assert cfg.auto_scale_lr.base_batch_size == 1024
    assert cfg.train_dataloader.batch_size * 16 == 1024
    # Augmentation and regularisation shared by all variants.
    transforms = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    rand_augment = transforms['RandAugment']
    assert (rand_augment.policies, rand_augment.magnitude_level,
            rand_augment.magnitude_std) == ('timm_increasing', 9, 0.5)
    assert transforms['RandomErasing'].erase_prob == 0.25
    assert transforms['RandomResizedCrop'].scale == 224
    augments = {a.type: a.alpha for a in cfg.model.train_cfg.augments}
    assert augments == {'Mixup': 0.8, 'CutMix': 1.0}
    assert cfg.model.train_cfg.get('probs') is None  # one of the two, 50/50
    assert cfg.model.head.loss.label_smooth_val == 0.1
    assert cfg.train_cfg.max_epochs == 300


def test_lite_classifier_predicts():
    model, _ = build('lite')
    model.init_weights()
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 224, 224), mode='tensor')
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
