"""tools/train.py's and tools/test.py's options, applied to configs of the
three codebases."""
import argparse
from pathlib import Path

import pytest
from mmengine.config import Config

from mmsepvit.utils.tool_config import (apply_test_options,
                                        apply_train_options, enable_drawing,
                                        enable_dumping, enable_tta,
                                        read_config)

TOY = Path(__file__).resolve().parents[1] / 'configs' / 'toy'
CONFIGS = {
    'mmdet': TOY / 'retinanet_sepvit_t_toy_coco.py',
    'mmseg': TOY / 'fpn_sepvit_t_toy_ade20k.py',
    'mmpretrain': TOY / 'sepvit_lite_toy_imagenet.py',
}


def load(scope: str) -> Config:
    cfg = Config.fromfile(str(CONFIGS[scope]))
    cfg.work_dir = 'work_dirs/toy'
    return cfg


@pytest.mark.parametrize(
    'scope,flag,key,folder',
    [('mmdet', 'draw', 'default_hooks.visualization.test_out_dir', 'vis'),
     ('mmseg', 'draw', 'visualizer.save_dir', 'work_dirs/toy/vis'),
     ('mmpretrain', 'enable', 'default_hooks.visualization.out_dir',
      'work_dirs/toy/vis')])
def test_show_dir_turns_on_each_codebases_drawing(scope, flag, key, folder):
    cfg = load(scope)
    enable_drawing(cfg, 'vis')
    hook = cfg.default_hooks.visualization
    assert hook[flag] is True and hook.interval == 1
    node = cfg
    for part in key.split('.'):
        node = node[part]
    assert node == folder


@pytest.mark.parametrize('scope,metric', [('mmdet', 'DumpDetResults'),
                                          ('mmseg', 'DumpResults'),
                                          ('mmpretrain', 'DumpResults')])
def test_out_adds_each_codebases_dump_metric(scope, metric):
    cfg = load(scope)
    evaluator = cfg.test_evaluator
    enable_dumping(cfg, 'predictions.pkl')
    assert cfg.test_evaluator[0] == evaluator
    assert cfg.test_evaluator[-1] == dict(
        type=metric, out_file_path='predictions.pkl')


def test_out_must_be_a_pickle():
    with pytest.raises(ValueError, match='--out must be a .pkl file'):
        enable_dumping(load('mmdet'), 'predictions.json')


def test_tta_wraps_the_model_and_needs_a_tta_pipeline():
    cfg = load('mmseg')
    model = cfg.model
    enable_tta(cfg)
    assert cfg.model.module == model
    assert cfg.test_dataloader.dataset.pipeline == cfg.tta_pipeline
    cfg = load('mmdet')
    cfg.pop('tta_model', None)
    with pytest.raises(ValueError, match='no tta_model and tta_pipeline'):
        enable_tta(cfg)


def test_unknown_codebase_is_named():
    cfg = load('mmdet')
    cfg.default_scope = 'mmocr'
    with pytest.raises(ValueError, match="'mmocr'; --show-dir needs one of"):
        enable_drawing(cfg, 'vis')


def test_missing_checkpoints_are_named(tmp_path):
    args = argparse.Namespace(
        checkpoint=str(tmp_path / 'none.pth'),
        show_dir=None,
        out=None,
        tta=False)
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        apply_test_options(load('mmdet'), args)
    args = argparse.Namespace(
        config='toy.py',
        amp=False,
        auto_scale_lr=False,
        resume=str(tmp_path / 'none.pth'))
    with pytest.raises(FileNotFoundError, match='--resume checkpoint'):
        apply_train_options(load('mmdet'), args)


def test_train_options():
    cfg = load('mmdet')
    args = argparse.Namespace(
        config='toy.py', amp=True, auto_scale_lr=True, resume='auto')
    apply_train_options(cfg, args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.auto_scale_lr.enable is True
    assert cfg.resume is True and cfg.load_from is None
    cfg.pop('auto_scale_lr')
    with pytest.raises(ValueError, match='no auto_scale_lr.base_batch_size'):
        apply_train_options(cfg, args)


@pytest.mark.parametrize(
    'config,backbone',
    [('mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py', 'SwinTransformer'),
     ('mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_'
      'ade20k-512x512.py', 'SwinTransformer'),
     ('mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py',
      'SwinTransformer')])
def test_installed_packages_configs_are_read_by_name(config, backbone):
    """The tools take an installed codebase's own config as
    PACKAGE::PATH, as mmengine's hub names it."""
    args = argparse.Namespace(
        config=config, cfg_options={'model.backbone.with_cp': True})
    cfg = read_config(args)
    assert cfg.model.backbone.type == backbone
    assert cfg.model.backbone.with_cp is True
    assert cfg.default_scope == config.split('::')[0]


def test_unknown_package_of_a_config_is_named():
    args = argparse.Namespace(config='mmfoo::a/b.py', cfg_options=None)
    with pytest.raises(ValueError, match="of .*mmdet.*, not 'mmfoo'"):
        read_config(args)


def test_mmseg_bases_resolve_when_the_fork_renamed_the_distribution(
        monkeypatch):
    """onedl-mmengine looks ``mmseg::`` up under 'mmsegmentation', which the
    fork installs as 'onedl-mmsegmentation': simulated by a table entry that
    names no installed distribution."""
    from importlib.metadata import packages_distributions

    from mmengine.config.utils import MODULE2PACKAGE

    from mmsepvit.utils.codebases import find_forked_config_packages

    # 'mmsegmentation' on the pinned stack, 'onedl-mmsegmentation' on forks.
    installed, = packages_distributions()['mmseg']
    monkeypatch.setitem(MODULE2PACKAGE, 'mmseg', 'renamed-mmsegmentation')
    with pytest.raises(ModuleNotFoundError, match='not installed'):
        load('mmseg')
    assert find_forked_config_packages() == {'mmseg': installed}
    assert load('mmseg').default_scope == 'mmseg'
    # With every expected distribution present nothing changes.
    assert find_forked_config_packages() == {}
