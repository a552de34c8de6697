import contextlib
from unittest import mock

import pytest
import torch
from mmengine.logging import MMLogger

from mmsepvit.models import SepViT


@contextlib.contextmanager
def patch_logger_warning():
    messages = []
    logger = MMLogger.get_current_instance()
    with mock.patch.object(logger, 'warning', side_effect=messages.append):
        yield messages


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


def test_pretrained_in_an_init_cfg_list(lite_checkpoint):
    """A list with a Pretrained entry loads like the dict form; the other
    entries initialise first."""
    path, expected = lite_checkpoint
    model = SepViT(
        arch='lite',
        init_cfg=[
            dict(type='Constant', layer='Linear', val=0.5),
            dict(type='Pretrained', checkpoint=path, prefix='backbone.')
        ])
    model.init_weights()
    state_dict = model.state_dict()
    for name, value in expected.items():
        torch.testing.assert_close(state_dict[name], value, msg=name)


def test_two_pretrained_checkpoints_are_refused(lite_checkpoint):
    path, _ = lite_checkpoint
    model = SepViT(
        arch='lite', init_cfg=[dict(type='Pretrained', checkpoint=path)] * 2)
    with pytest.raises(ValueError, match='more than one Pretrained'):
        model.init_weights()


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


def test_unexpected_keys_are_named(tmp_path):
    state_dict = SepViT(arch='lite').state_dict()
    state_dict['stages.0.adapter.weight'] = torch.zeros(3)
    path = tmp_path / 'extra.pth'
    torch.save(state_dict, path)
    model = SepViT(
        arch='lite', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(
            ValueError, match=r'unexpected 1: stages.0.adapter.weight'):
        model.init_weights()


def test_window_token_mode_change_is_a_logged_transfer(lite_checkpoint):
    path, expected = lite_checkpoint
    model = SepViT(
        arch='lite',
        window_token='learnable',
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'))
    with patch_logger_warning() as warnings:
        model.init_weights()
    assert len(warnings) == 1
    assert 'Starting from initialisation: [' in warnings[0]
    assert "'stages.0.blocks.0.window_token'" in warnings[0]
    for name, value in expected.items():
        torch.testing.assert_close(model.state_dict()[name], value)
    assert all((m == 0).all() for n, m in model.named_parameters()
               if n.endswith('window_token'))


def test_released_layout_gets_a_hint(tmp_path):
    path = tmp_path / 'released.pth'
    torch.save({'model': {'patch_embeds.0.proj.weight': torch.zeros(1)}}, path)
    model = SepViT(
        arch='lite', init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='official2mmsepvit.py'):
        model.init_weights()


def test_classifier_checkpoint_transfers_into_the_dense_backbone(tmp_path):
    """Every classifier weight with a counterpart is carried over unchanged;
    exactly the layout-specific rest is dropped or starts fresh."""
    torch.manual_seed(0)
    classifier = SepViT(
        arch='lite',
        window_token='per_window',
        img_size=224,
        stage_norm=False,
        out_indices=(3, ))
    classifier.init_weights()
    for param in classifier.parameters():  # distinguishable from any init
        param.data.uniform_(-1, 1)
    source = classifier.state_dict()
    path = tmp_path / 'classifier.pth'
    torch.save(
        {
            'state_dict': {
                **{
                    f'backbone.{k}': v
                    for k, v in source.items()
                }, 'head.fc.weight': torch.zeros(10, 256)
            }
        }, path)

    dense = SepViT(
        arch='lite',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    fresh_reference = SepViT(arch='lite')
    torch.manual_seed(1)
    dense.init_weights()
    torch.manual_seed(1)
    fresh_reference.init_weights()
    loaded = dense.state_dict()

    carried = set(source) & set(loaded)
    dropped = set(source) - set(loaded)
    fresh = set(loaded) - set(source)
    assert dropped and all(k.endswith('.window_token') for k in dropped)
    # Stage 3's second, fourth, sixth block and stage 4 see one window at 224.
    assert {k.rsplit('.attn.', 1)[0]
            for k in fresh if '.attn.' in k} == {
                'stages.2.blocks.1', 'stages.2.blocks.3', 'stages.2.blocks.5',
                'stages.3.blocks.0', 'stages.3.blocks.1'
            }
    assert {k
            for k in fresh if '.attn.' not in k} == {
                f'norm{i}.{p}'
                for i in range(3)
                for p in ('weight', 'bias')
            }
    for name in carried:
        torch.testing.assert_close(loaded[name], source[name], msg=name)
    for name in fresh:
        torch.testing.assert_close(
            loaded[name], fresh_reference.state_dict()[name], msg=name)
