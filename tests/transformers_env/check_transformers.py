"""SepViT in Hugging Face transformers, offline: TimmBackbone and DETR.

transformers breaks ``import mmpretrain.models`` (mmpretrain 1.2 imports
helpers it removed), so it lives apart, in .venv/transformers, and
tests/test_timm.py runs this file in a process with it on the path. The name
keeps the main suite from collecting it.
"""
import huggingface_hub.constants
import pytest
import test_timm
import torch
import transformers as hf_transformers
from test_timm import create

lite_checkpoint = test_timm.lite_checkpoint  # the fixture


@pytest.fixture
def transformers(monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    return hf_transformers


def backbone_config(transformers, out_indices):
    return transformers.TimmBackboneConfig(
        backbone='sepvit_lite',
        out_indices=list(out_indices),
        use_pretrained_backbone=False)


def test_transformers_timm_backbone(transformers, lite_checkpoint):
    config = backbone_config(transformers, (0, 1, 2, 3))
    backbone = transformers.AutoBackbone.from_config(config).eval()
    assert isinstance(backbone, transformers.TimmBackbone)
    assert backbone.channels == [32, 64, 128, 256]
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        maps = backbone(x).feature_maps
    assert [tuple(m.shape[2:]) for m in maps] == [(16, 24), (8, 12), (4, 6),
                                                  (2, 3)]
    # Local weights: timm's keyword arguments pass through TimmBackbone.
    loaded = transformers.TimmBackbone(
        backbone_config(transformers, (3, )),
        pretrained=True,
        pretrained_cfg_overlay=dict(file=lite_checkpoint)).eval()
    sepvit = create(path=lite_checkpoint, features_only=True, out_indices=[3])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x).feature_maps[0], sepvit(x)[0])


def test_detr_pitfalls(transformers):
    """DETR's timm shortcut asks for five CNN levels; backbone_kwargs sends
    the backbone's name to the Hub."""
    detr = transformers.DetrForObjectDetection
    with pytest.raises(ValueError, match=r'out_indices \[1, 2, 3, 4\]'):
        detr(transformers.DetrConfig(backbone='sepvit_lite'))
    with pytest.raises(Exception, match='offline mode is enabled'):
        transformers.DetrConfig(
            backbone='sepvit_lite', backbone_kwargs=dict(out_indices=[3]))


def test_detr_training_step(transformers, lite_checkpoint):
    """A small DETR on the SepViT-Lite backbone, started from local weights,
    takes one training step on a toy batch."""
    config = transformers.DetrConfig(
        backbone_config=backbone_config(transformers, (3, )),
        num_queries=5,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_labels=3)
    torch.manual_seed(0)
    model = transformers.DetrForObjectDetection(config)
    sepvit = model.model.backbone.model.model
    sepvit.load_pretrained(lite_checkpoint)
    model.train()
    labels = [
        dict(
            class_labels=torch.tensor([0, 2]),
            boxes=torch.tensor([[.3, .3, .2, .2], [.6, .6, .3, .4]])),
        dict(class_labels=torch.tensor([1]), boxes=torch.tensor([[.5] * 4]))
    ]
    loss = model(pixel_values=torch.randn(2, 3, 64, 96), labels=labels).loss
    assert torch.isfinite(loss)
    loss.backward()
    grad = sepvit.backbone.stages[0].patch_embed.projection.weight.grad
    assert grad is not None and grad.abs().sum() > 0
