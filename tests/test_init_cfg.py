import pytest
import torch

from mmsepvit.models import SepViT


@pytest.fixture
def lite_checkpoint(tmp_path):
    """A detector-style checkpoint: backbone weights under 'backbone.'."""
    torch.manual_seed(0)
    source = SepViT(arch='lite')
    source.init_weights()
    state_dict = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state_dict['neck.conv.weight'] = torch.zeros(1)
    path = tmp_path / 'detector.pth'
    torch.save({'state_dict': state_dict, 'meta': {'epoch': 3}}, path)
    return str(path), source.state_dict()


def test_pretrained_with_prefix_loads_every_weight(lite_checkpoint):
    path, expected = lite_checkpoint
    model = SepViT(
        arch='lite',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    model.init_weights()
    state_dict = model.state_dict()
    assert state_dict.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(state_dict[name], value, msg=name)


def test_other_initialisers_still_work():
    model = SepViT(
        arch='lite', init_cfg=dict(type='Constant', layer='Linear', val=0.5))
    model.init_weights()
    assert (model.stages[0].blocks[0].attn.qkv.weight == 0.5).all()


def test_missing_checkpoint_is_named():
    model = SepViT(
        arch='lite',
        init_cfg=dict(type='Pretrained', checkpoint='/no/such/file.pth'))
    with pytest.raises(FileNotFoundError, match='/no/such/file.pth'):
        model.init_weights()


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('these are not weights')
    model = SepViT(
        arch='lite', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='notes.pth'):
        model.init_weights()


def test_wrong_prefix(lite_checkpoint):
    path, _ = lite_checkpoint
    model = SepViT(
        arch='lite',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='encoder.'))
    with pytest.raises(ValueError, match=r"prefix 'encoder.'.*'backbone.'"):
        model.init_weights()


def test_another_models_weights_are_named(lite_checkpoint):
    path, _ = lite_checkpoint
    model = SepViT(
        arch='small',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    with pytest.raises(ValueError) as info:
        model.init_weights()
    message = str(info.value)
    # Small has 14 blocks in stage 3 where Lite has 6, and wider layers.
    assert 'missing 128: stages.2.blocks.10.' in message  # 8 blocks x 16
    assert ('mismatched shapes 208: norm0.bias (checkpoint (32,), model '
            '(96,))') in message


def test_unexpected_keys_are_named(lite_checkpoint):
    path, _ = lite_checkpoint
    model = SepViT(
        arch='lite',
        window_token='learnable',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    with pytest.raises(ValueError, match=r'missing 11: .*window_token'):
        model.init_weights()


def test_released_layout_gets_a_hint(tmp_path):
    path = tmp_path / 'released.pth'
    torch.save({'model': {'patch_embeds.0.proj.weight': torch.zeros(1)}}, path)
    model = SepViT(
        arch='lite', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='official2mmsepvit.py'):
        model.init_weights()
