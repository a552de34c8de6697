"""Converted weights of the authors' released code reproduce its outputs."""
from pathlib import Path

import pytest
import torch
from launch import launch_python
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmsepvit.models import SepViT, convert_official_sepvit
from mmsepvit.utils.measure import relative_error

ROOT = Path(__file__).resolve().parents[1]
CONVERTER = ROOT / 'tools' / 'model_converters' / 'official2mmsepvit.py'


def convert_with_tool(tmp_path, state_dict: dict, name: str) -> str:
    src, dst = tmp_path / f'{name}_released.pth', tmp_path / f'{name}.pth'
    torch.save({'model': state_dict}, src)
    launch_python(CONVERTER, src, dst)
    return str(dst)


# Inference runs the linear layers on oneDNN's fused kernel, autograd on
# PyTorch's: both must reproduce the released code.
PATHS = pytest.mark.parametrize(
    'grad', [False, True], ids=['inference', 'autograd'])


@PATHS
def test_dense_backbone_parity(tmp_path, reference, grad):
    path = convert_with_tool(tmp_path, reference['dense_state_dict'], 'dense')
    model = SepViT(
        arch={k: reference['arch'][k]
              for k in SepViT.arch_keys},
        window_token='zero',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    model.init_weights()
    model.eval()
    for x, expected in zip(reference['dense_inputs'],
                           reference['dense_outputs']):
        with torch.set_grad_enabled(grad):
            outs = [out.detach() for out in model(x)]
        assert len(outs) == len(expected)
        for out, ref in zip(outs, expected):
            assert out.shape == ref.shape
            assert relative_error(out, ref) < 1e-5


@PATHS
def test_classifier_parity(tmp_path, reference, grad):
    path = convert_with_tool(tmp_path, reference['classifier_state_dict'],
                             'classifier')
    arch = {k: reference['arch'][k] for k in SepViT.arch_keys}
    init_default_scope('mmpretrain')
    classifier = MMPRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='SepViT',
                arch=arch,
                window_token='per_window',
                img_size=224,
                stage_norm=False,
                out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=10,
                in_channels=arch['embed_dims'][-1])))
    state_dict = torch.load(path, weights_only=True)['state_dict']
    classifier.load_state_dict(state_dict, strict=True)
    classifier.eval()
    with torch.set_grad_enabled(grad):
        logits = classifier(reference['classifier_input'], mode='tensor')
    assert relative_error(logits.detach(),
                          reference['classifier_logits']) < 1e-5


def test_converter_reports_layouts(reference):
    _, layout = convert_official_sepvit(reference['classifier_state_dict'])
    assert layout == 'classifier'
    converted, layout = convert_official_sepvit({
        f'backbone.{k}': v
        for k, v in reference['dense_state_dict'].items()
    })
    assert layout == 'dense'
    assert all(
        k.startswith('backbone.stages.') or k.startswith('backbone.norm')
        for k in converted)


def test_converter_rejects_foreign_keys(reference):
    state_dict = dict(reference['dense_state_dict'],
                      **{'cls_token': torch.zeros(1)})
    with pytest.raises(ValueError, match='cls_token'):
        convert_official_sepvit(state_dict)
    with pytest.raises(ValueError, match='no "patch_embeds." keys'):
        convert_official_sepvit({'conv1.weight': torch.zeros(1)})
