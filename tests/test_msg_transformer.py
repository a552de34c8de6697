"""MSG-Transformer: parity with the authors' released code, the padding
design, arguments, freezing, checkpointing and the converter."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import load_fixture
from launch import launch_python
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmsepvit.models.backbones import MSGTransformer, SepViT
from mmsepvit.models.backbones.msg_transformer import msg_shuffle
from mmsepvit.models.utils import convert_official_msg
from mmsepvit.utils.measure import relative_error

ROOT = Path(__file__).resolve().parents[1]
CONVERTER = ROOT / 'tools' / 'model_converters' / 'msg2mmsepvit.py'

# Inference runs the linear layers on oneDNN's fused kernel, autograd on
# PyTorch's: both must reproduce the released code.
PATHS = pytest.mark.parametrize(
    'grad', [False, True], ids=['inference', 'autograd'])


@pytest.fixture(scope='module')
def msg_reference() -> dict:
    """Weights, inputs and outputs of the released code for a micro arch
    (see its 'about' entry)."""
    fx = load_fixture('msg_reference_micro.pt')
    scale = fx['input_scale']
    fx['classifier_input'] = fx['classifier_input'].float() * scale
    fx['dense_inputs'] = [x.float() * scale for x in fx['dense_inputs']]
    return fx


def micro_arch(fx: dict) -> dict:
    arch = fx['arch']
    return dict(
        embed_dims=[arch['embed_dim'] * 2**i for i in range(4)],
        num_heads=arch['num_heads'],
        depths=arch['depths'],
        region_sizes=arch['shuffle_size'])


def backbone_state_dict(fx: dict) -> dict:
    converted, _ = convert_official_msg(fx['state_dict'])
    return {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }


def released_backbone(fx: dict, **kwargs) -> MSGTransformer:
    model = MSGTransformer(arch=micro_arch(fx), drop_path_rate=0., **kwargs)
    state_dict = backbone_state_dict(fx)
    if not model.final_norm:
        del state_dict['norm.weight'], state_dict['norm.bias']
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def classifier_cfg(arch, num_classes: int, in_channels: int) -> dict:
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='MSGTransformer',
            arch=arch,
            out_type='msg',
            final_norm=True,
            out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=in_channels))


def test_norm_eps_matches_the_release(msg_reference):
    assert set(msg_reference['norm_eps'].values()) == {1e-5}
    model = released_backbone(msg_reference, final_norm=True)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == len(msg_reference['norm_eps'])
    assert all(m.eps == 1e-5 for m in norms)


@PATHS
@pytest.mark.parametrize('out_type', ['pixels', 'msg'])
def test_dense_parity(msg_reference, grad, out_type):
    model = released_backbone(msg_reference, out_type=out_type)
    key = 'dense_outputs' if out_type == 'pixels' else 'msg_outputs'
    for x, expected in zip(msg_reference['dense_inputs'], msg_reference[key]):
        with torch.set_grad_enabled(grad):
            outs = model(x)
        assert outs[0].requires_grad == grad
        assert len(outs) == len(expected) == 4
        for out, ref in zip(outs, expected):
            assert out.shape == ref.shape
            assert relative_error(out.detach(), ref) < 1e-5


@PATHS
def test_classifier_parity(msg_reference, grad):
    arch = micro_arch(msg_reference)
    init_default_scope('mmpretrain')
    classifier = MMPRETRAIN_MODELS.build(classifier_cfg(arch, 10, 128))
    converted, layout = convert_official_msg(msg_reference['state_dict'])
    assert layout == 'classifier'
    classifier.load_state_dict(converted, strict=True)
    classifier.eval()
    with torch.set_grad_enabled(grad):
        logits = classifier(msg_reference['classifier_input'], mode='tensor')
    assert relative_error(logits.detach(),
                          msg_reference['classifier_logits']) < 1e-5


@pytest.mark.slow
def test_converter_cli_then_pretrained_parity(tmp_path, msg_reference):
    src, dst = tmp_path / 'released.pth', tmp_path / 'converted.pth'
    torch.save({'model': msg_reference['state_dict']}, src)
    launch_python(CONVERTER, src, dst)
    # The dense backbone drops the classifier's final norm.
    model = MSGTransformer(
        arch=micro_arch(msg_reference),
        init_cfg=dict(
            type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    model.init_weights()
    model.eval()
    for x, expected in zip(msg_reference['dense_inputs'],
                           msg_reference['dense_outputs']):
        with torch.no_grad():
            outs = model(x)
        for out, ref in zip(outs, expected):
            assert relative_error(out, ref) < 1e-5
    init_default_scope('mmpretrain')
    classifier = MMPRETRAIN_MODELS.build(
        classifier_cfg(micro_arch(msg_reference), 10, 128))
    state_dict = torch.load(dst, weights_only=True)['state_dict']
    classifier.load_state_dict(state_dict, strict=True)
    classifier.eval()
    with torch.no_grad():
        logits = classifier(msg_reference['classifier_input'], mode='tensor')
    assert relative_error(logits, msg_reference['classifier_logits']) < 1e-5


def test_converter_rejects_foreign_keys(msg_reference):
    state_dict = dict(msg_reference['state_dict'])
    state_dict['layers.0.blocks.0.attn.extra'] = torch.zeros(1)
    with pytest.raises(ValueError, match='layers.0.blocks.0.attn.extra'):
        convert_official_msg(state_dict)
    with pytest.raises(ValueError, match='no "msg_tokens" key'):
        convert_official_msg({'patch_embeds.0.proj.weight': torch.zeros(1)})


# Parameters of the release (PEERS.md): classifier with a 1000-class head,
# and without the head (the final LayerNorm kept).
PARAMS = {
    'tiny': (25_086_116, 24_573_116),
    'small': (55_968_514, 55_199_514),
    'base': (84_392_770, 83_623_770),
}


@pytest.mark.parametrize('arch', list(PARAMS))
def test_param_counts(arch):
    init_default_scope('mmpretrain')
    with torch.device('meta'):
        backbone = MSGTransformer(arch=arch, final_norm=True)
        embed_dims = backbone.arch_settings['embed_dims']
        classifier = MMPRETRAIN_MODELS.build(
            classifier_cfg(arch, 1000, embed_dims[-1]))
    with_head, without_head = PARAMS[arch]
    assert sum(p.numel() for p in backbone.parameters()) == without_head
    assert sum(p.numel() for p in classifier.parameters()) == with_head
    # The dense backbone has no final norm.
    with torch.device('meta'):
        dense = MSGTransformer(arch=arch[0])
    num_dense = sum(p.numel() for p in dense.parameters())
    assert num_dense == without_head - 2 * embed_dims[-1]


def test_arch_zoo():
    assert MSGTransformer.arch_zoo['t']['embed_dims'] == [64, 128, 256, 512]
    assert MSGTransformer.arch_zoo['b']['depths'] == [2, 4, 28, 4]
    assert all(v['region_sizes'] == [4, 4, 2, 1]
               for v in MSGTransformer.arch_zoo.values())
    for alias, name in [('t', 'tiny'), ('s', 'small'), ('b', 'base')]:
        assert MSGTransformer.arch_zoo[alias] is MSGTransformer.arch_zoo[name]
    with torch.device('meta'):
        assert MSGTransformer('S').arch_settings['num_heads'] == [3, 6, 12, 24]


def test_msg_shuffle_exchanges_channel_groups():
    msg = torch.arange(4 * 8.).view(1, 4, 8)  # G = 4 tokens, C = 8
    out = msg_shuffle(msg)
    # Token i: group i of tokens 0..3, in order.
    for i in range(4):
        expected = torch.cat([msg[0, j, 2 * i:2 * i + 2] for j in range(4)])
        assert torch.equal(out[0, i], expected)
    assert torch.equal(msg_shuffle(out), msg)
    single = torch.randn(2, 1, 8)
    assert torch.equal(msg_shuffle(single), single)


@pytest.mark.parametrize('out_type', ['pixels', 'msg'])
def test_any_size_is_the_zero_padded_multiple_of_224(msg_reference, out_type):
    """The promised invariance: an input is zero-padded at the bottom and
    right to a multiple of 224, run as the release runs it, and every output
    cropped to the real image; so an image and the same image zero-padded
    by hand give the same outputs on the real image."""
    model = released_backbone(msg_reference, out_type=out_type)
    assert model.pad_multiple == 224
    x = msg_reference['dense_inputs'][1][:, :, :200, :300]
    padded = F.pad(x, (0, 448 - 300, 0, 224 - 200))
    with torch.no_grad():
        outs, padded_outs = model(x), model(padded)
    for i, (out, full) in enumerate(zip(outs, padded_outs)):
        h, w = (math.ceil(s / model.strides[i]) for s in (200, 300))
        if out_type == 'msg':
            h, w = math.ceil(h / 7), math.ceil(w / 7)
        assert out.shape == (1, 16 * 2**i, h, w)
        torch.testing.assert_close(out, full[:, :, :h, :w], rtol=0, atol=0)
        # The hand-padded input is already a multiple of 224: not cropped.
        cell = model.strides[i] * (7 if out_type == 'msg' else 1)
        assert full.shape[2:] == (224 // cell, 448 // cell)


def test_small_and_odd_sizes_give_ceil_strided_maps(msg_reference):
    model = released_backbone(msg_reference)
    for size in [(32, 32), (33, 97), (230, 225)]:
        with torch.no_grad():
            outs = model(torch.randn(1, 3, *size))
        for out, stride in zip(outs, model.strides):
            assert out.shape[2:] == tuple(math.ceil(s / stride) for s in size)
            assert out.is_contiguous()


def test_classifier_pools_msg_tokens_at_other_sizes(msg_reference):
    """At 448x448 stage 4 has 2x2 MSG tokens (the release would return a
    row of logits for each); the classifier averages them after the final
    norm."""
    init_default_scope('mmpretrain')
    classifier = MMPRETRAIN_MODELS.build(
        classifier_cfg(micro_arch(msg_reference), 10, 128))
    classifier.load_state_dict(
        convert_official_msg(msg_reference['state_dict'])[0])
    classifier.eval()
    model = released_backbone(msg_reference, final_norm=True)
    x = torch.randn(1, 3, 448, 448)
    with torch.no_grad():
        logits = classifier(x, mode='tensor')
        pixels = model(x)[-1]
        tokens = classifier.backbone(x)[0]
    assert tokens.shape == (1, 128, 2, 2)
    assert pixels.shape == (1, 128, 14, 14)
    head = classifier.head.fc
    torch.testing.assert_close(logits, head(tokens.mean((2, 3))))


@pytest.mark.parametrize(
    'kwargs, error, match',
    [
        (dict(arch='huge'), ValueError, "unknown arch 'huge'"),
        (dict(arch=dict(embed_dims=[24, 48, 96, 192], num_heads=[1, 2, 4, 8],
                        depths=[1, 1, 1, 1], region_sizes=[4, 4, 2, 1])),
         ValueError, r'stage 0 embed_dims 24 is not divisible by its 16 MSG'),
        (dict(arch=dict(embed_dims=[16, 32], num_heads=[1, 2],
                        depths=[1, 1])), ValueError, 'missing'),
        (dict(out_type='both'), ValueError, "unknown out_type 'both'"),
        (dict(frozen_stages=5), ValueError, r'frozen_stages must be in'),
        (dict(drop_path_rate=1.), ValueError, 'drop_path_rate'),
        (dict(out_indices=4), ValueError, 'out_indices'),
    ])  # yapf: disable
def test_bad_arguments(kwargs, error, match):
    with torch.device('meta'), pytest.raises(error, match=match):
        MSGTransformer(**kwargs)


def test_bad_inputs(msg_reference):
    model = released_backbone(msg_reference)
    with pytest.raises(ValueError, match='built for 3 input channels, got 1'):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match='at least 32x32 pixels, got 31x64'):
        model(torch.zeros(1, 3, 31, 64))
    with pytest.raises(ValueError, match='expects a batch of images'):
        model(torch.zeros(3, 64, 64))


def test_checkpoint_of_another_model_is_refused(tmp_path, msg_reference):
    sepvit = SepViT(
        arch=dict(
            embed_dims=[16, 32, 64, 128],
            num_heads=[1, 2, 4, 8],
            depths=[1, 1, 1, 1],
            window_sizes=[[7]] * 4))
    path = tmp_path / 'sepvit.pth'
    torch.save({'state_dict': sepvit.state_dict()}, path)
    model = MSGTransformer(
        arch=micro_arch(msg_reference),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError) as info:
        model.init_weights()
    message = str(info.value)
    assert 'does not fit MSGTransformer' in message
    assert 'missing' in message and 'msg_tokens' in message
    assert 'unexpected' in message and 'norm0.weight' in message
    # The release's own layout: told to convert it.
    released = tmp_path / 'released.pth'
    torch.save({'model': msg_reference['state_dict']}, released)
    model = MSGTransformer(
        arch=micro_arch(msg_reference),
        init_cfg=dict(type='Pretrained', checkpoint=str(released)))
    with pytest.raises(ValueError, match='msg2mmsepvit.py'):
        model.init_weights()


def test_released_init(msg_reference):
    model = MSGTransformer(arch=micro_arch(msg_reference))
    model.init_weights()
    block = model.stages[0].blocks[0]
    assert torch.all(block.attn.qkv.bias == 0)
    assert torch.all(block.norm1.weight == 1)
    assert 0.01 < model.msg_tokens.std() < 0.03
    assert 0.01 < block.attn.relative_position_bias_table.std() < 0.03
    rates = [b.drop_path_rate for s in model.stages for b in s.blocks]
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.1)
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 2, 4])
def test_frozen_stages(msg_reference, frozen_stages):
    frozen = set()
    if frozen_stages >= 0:
        frozen.update({'patch_embed.', 'msg_tokens'})
    for i in range(frozen_stages):
        frozen.add(f'stages.{i}.')
    if frozen_stages == 4:
        frozen.add('norm.')
    model = MSGTransformer(
        arch=micro_arch(msg_reference),
        final_norm=True,
        frozen_stages=frozen_stages)
    for name, param in model.named_parameters():
        assert param.requires_grad != name.startswith(tuple(frozen)), name
    model.train()
    for name, param in model.named_parameters():
        assert param.requires_grad != name.startswith(tuple(frozen)), name
    for name, module in model.named_modules():
        if name and (name + '.').startswith(tuple(frozen)):
            assert not module.training, name
    assert model.stages[-1].training == (frozen_stages < 4)


def test_frozen_stages_same_outputs_no_gradient(msg_reference):
    plain = released_backbone(msg_reference)
    frozen = released_backbone(msg_reference, frozen_stages=2)
    x = msg_reference['dense_inputs'][0][:1]
    plain_outs, frozen_outs = plain(x), frozen(x)
    for a, b in zip(plain_outs, frozen_outs):
        torch.testing.assert_close(a, b)
    sum(o.square().sum() for o in plain_outs).backward()
    sum(o.square().sum() for o in frozen_outs).backward()
    grads = dict(plain.named_parameters())
    frozen_names = ('patch_embed.', 'msg_tokens', 'stages.0.', 'stages.1.')
    for name, param in frozen.named_parameters():
        if name.startswith(frozen_names):
            assert param.grad is None, name
        else:
            torch.testing.assert_close(param.grad, grads[name].grad)


def test_with_cp_same_outputs_and_gradients(msg_reference):
    plain = released_backbone(msg_reference).train()
    checkpointed = released_backbone(msg_reference, with_cp=True).train()
    x = msg_reference['dense_inputs'][1].clone().requires_grad_()
    outs = [model(x) for model in (plain, checkpointed)]
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)
    for model, out in zip((plain, checkpointed), outs):
        model.zero_grad()
        sum(o.square().sum() for o in out).backward()
    grads = dict(plain.named_parameters())
    for name, param in checkpointed.named_parameters():
        torch.testing.assert_close(param.grad, grads[name].grad)


def test_norm_eval_is_accepted_and_changes_nothing(msg_reference):
    """LayerNorms only: train and eval mode compute the same (no drop)."""
    model = released_backbone(msg_reference, norm_eval=True)
    x = msg_reference['dense_inputs'][0][:1]
    with torch.no_grad():
        evaluated = model(x)
        trained = model.train()(x)
    for a, b in zip(evaluated, trained):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_drop_path_trains(msg_reference):
    model = MSGTransformer(
        arch=micro_arch(msg_reference), drop_path_rate=0.5).train()
    model.init_weights()
    torch.manual_seed(0)
    outs = model(torch.randn(2, 3, 64, 64))
    sum(o.mean() for o in outs).backward()
    assert model.msg_tokens.grad is not None
    assert model.stages[-1].blocks[-1].mlp.fc2.weight.grad is not None
