import pytest
from launch import launch_python
from mmengine.config import Config
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import init_default_scope

import mmsepvit  # noqa: F401
from mmsepvit.models import SepViT


def registries():
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
    from mmseg.registry import MODELS as MMSEG_MODELS
    return dict(
        mmdet=MMDET_MODELS, mmseg=MMSEG_MODELS, mmpretrain=MMPRETRAIN_MODELS)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
@pytest.mark.parametrize('type_name', ['SepViT', 'mmsepvit.SepViT'])
def test_builds_in_every_scope(scope, type_name):
    model = registries()[scope].build(
        dict(type=type_name, arch='lite', out_indices=(1, 2)))
    assert isinstance(model, SepViT) and model.out_indices == [1, 2]


def test_scoped_name_from_the_root_registry():
    assert MMENGINE_MODELS.get('mmsepvit.SepViT') is SepViT


def test_custom_imports_in_an_mmdet_config(tmp_path):
    config = tmp_path / 'retinanet_sepvit.py'
    config.write_text(
        "_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'\n"
        "custom_imports = dict(imports=['mmsepvit'], "
        'allow_failed_imports=False)\n'
        'model = dict(backbone=dict(_delete_=True, type="SepViT", '
        "arch='lite', out_indices=(1, 2, 3)),\n"
        '             neck=dict(in_channels=[64, 128, 256]))\n')
    cfg = Config.fromfile(str(config))
    init_default_scope('mmdet')
    model = registries()['mmdet'].build(cfg.model)
    assert isinstance(model.backbone, SepViT)


def test_custom_imports_in_an_mmseg_config(tmp_path):
    config = tmp_path / 'fpn_sepvit.py'
    config.write_text(
        "_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'\n"
        "custom_imports = dict(imports=['mmsepvit'])\n"
        'model = dict(backbone=dict(_delete_=True, type="SepViT", '
        "arch='lite'),\n"
        '             neck=dict(in_channels=[32, 64, 128, 256]))\n')
    cfg = Config.fromfile(str(config))
    cfg.model.pop('data_preprocessor')
    init_default_scope('mmseg')
    model = registries()['mmseg'].build(cfg.model)
    assert isinstance(model.backbone, SepViT)


@pytest.mark.slow
def test_importing_mmsepvit_leaves_mmdet_and_mmseg_alone():
    code = ('import sys, mmsepvit; '
            "print(sorted(m for m in ('mmdet', 'mmseg', 'mmpretrain') "
            'if m in sys.modules))')
    assert launch_python('-c', code).stdout.strip() == '[]'
