"""ShuffleTransformer: parity with the authors' released code, parameter
counts, the padding design, arguments and errors."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import load_fixture
from launch import launch_python
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from mmsepvit.models.backbones import SepViT, ShuffleTransformer
from mmsepvit.models.backbones.shuffle_transformer import (
    ShuffleWindowAttention, relative_position_index)
from mmsepvit.models.utils import convert_official_shuffle
from mmsepvit.utils.measure import relative_error

ROOT = Path(__file__).resolve().parents[1]
CONVERTER = ROOT / 'tools' / 'model_converters' / 'shuffle2mmsepvit.py'

# Inference runs the linear layers on oneDNN's fused kernel and the windows
# in place, autograd on PyTorch's ops and hand-written backwards: both must
# reproduce the released code.
PATHS = pytest.mark.parametrize(
    'grad', [False, True], ids=['inference', 'autograd'])


@pytest.fixture(scope='module')
def shuffle_reference() -> dict:
    """Weights, inputs and outputs of the released Shuffle Transformer for a
    micro architecture (see its 'about' entry)."""
    fx = load_fixture('shuffle_reference_micro.pt')
    scale = fx['input_scale']
    fx['classifier_input'] = fx['classifier_input'].float() * scale
    fx['dense_inputs'] = [x.float() * scale for x in fx['dense_inputs']]
    return fx


def micro_kwargs(fx: dict) -> dict:
    """The fixture's release constructor as ours: channels are 32 per head;
    the release's ``qkv_bias=True`` is ignored by its code (no bias)."""
    arch = fx['arch']
    return dict(
        arch=dict(
            embed_dims=[32 * h for h in arch['num_heads']],
            num_heads=arch['num_heads'],
            depths=arch['layers']),
        stem_channels=arch['token_dim'],
        window_size=arch['window_size'],
        mlp_ratio=arch['mlp_ratio'])


def convert_with_tool(tmp_path, state_dict: dict) -> str:
    """Save ``state_dict`` as the release saves checkpoints and convert it
    with tools/model_converters/shuffle2mmsepvit.py."""
    src, dst = tmp_path / 'released.pth', tmp_path / 'converted.pth'
    torch.save({'model': state_dict}, src)
    launch_python(CONVERTER, src, dst)
    return str(dst)


def classifier_cfg(backbone: dict, num_classes: int, in_channels: int):
    return dict(
        type='ImageClassifier',
        backbone=dict(
            type='ShuffleTransformer', out_indices=(3, ), **backbone),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=num_classes,
            in_channels=in_channels))


@pytest.fixture(scope='module')
def converted_path(shuffle_reference, tmp_path_factory) -> str:
    return convert_with_tool(
        tmp_path_factory.mktemp('shuffle'), shuffle_reference['state_dict'])


# Parity.
@PATHS
def test_dense_parity(shuffle_reference, converted_path, grad):
    """The converted checkpoint, loaded through init_cfg Pretrained, gives the
    release's stage outputs at every stored size."""
    model = ShuffleTransformer(
        **micro_kwargs(shuffle_reference),
        init_cfg=dict(
            type='Pretrained', checkpoint=converted_path, prefix='backbone.'))
    model.init_weights()
    model.eval()
    for x, expected in zip(shuffle_reference['dense_inputs'],
                           shuffle_reference['dense_outputs']):
        with torch.set_grad_enabled(grad):
            outs = model(x)
        assert len(outs) == len(expected) == 4
        for out, ref in zip(outs, expected):
            assert out.shape == ref.shape
            assert relative_error(out, ref) < 1e-5


@PATHS
def test_classifier_parity(shuffle_reference, converted_path, grad):
    """The mmpretrain classifier (GAP + Linear) of the configs, loaded
    strictly from the converted checkpoint, gives the release's logits."""
    kwargs = micro_kwargs(shuffle_reference)
    init_default_scope('mmpretrain')
    classifier = MMPRETRAIN_MODELS.build(
        classifier_cfg(kwargs, shuffle_reference['arch']['num_classes'],
                       kwargs['arch']['embed_dims'][-1]))
    state_dict = torch.load(converted_path, weights_only=True)['state_dict']
    classifier.load_state_dict(state_dict, strict=True)
    classifier.eval()
    with torch.set_grad_enabled(grad):
        logits = classifier(
            shuffle_reference['classifier_input'], mode='tensor')
    assert relative_error(logits,
                          shuffle_reference['classifier_logits']) < 1e-5


def test_norm_eps_match_the_release(shuffle_reference):
    model = ShuffleTransformer(**micro_kwargs(shuffle_reference))
    converted, _ = convert_official_shuffle(shuffle_reference['state_dict'])
    # Each released norm maps to the module holding its converted weight.
    for name, eps in shuffle_reference['norm_eps'].items():
        ours = next(k for k in converted if converted[k] is
                    shuffle_reference['state_dict'][f'{name}.weight'])
        module = model.get_submodule(ours[len('backbone.'):-len('.weight')])
        assert isinstance(module, _BatchNorm) and module.eps == eps


# Parameter counts (PEERS.md, the release's eval logs).
@pytest.mark.parametrize('arch,with_head,without_head', [
    ('tiny', 28_532_482, 27_763_482),
    ('small', 50_076_178, 49_307_178),
    ('base', 88_398_560, 87_373_560),
])
def test_param_counts(arch, with_head, without_head):
    with torch.device('meta'):
        backbone = ShuffleTransformer(arch)
        head = nn.Linear(backbone.arch_settings['embed_dims'][-1], 1000)
    count = sum(p.numel() for p in backbone.parameters())
    assert count == without_head
    assert count + sum(p.numel() for p in head.parameters()) == with_head


def test_arch_aliases_and_strides():
    for name, alias in [('tiny', 't'), ('small', 's'), ('base', 'b')]:
        assert ShuffleTransformer.arch_zoo[name] is \
            ShuffleTransformer.arch_zoo[alias]
    with torch.device('meta'):
        model = ShuffleTransformer('b')
    assert model.strides == (4, 8, 16, 32)
    # As released: one drop-path rate per stage, linspace(0, 0.1, 4).
    rates = [[b.drop_path.drop_prob for b in stage.blocks]
             for stage in model.stages]
    expected = torch.linspace(0, 0.1, 4).tolist()
    assert rates == [[r] * len(stage.blocks)
                     for r, stage in zip(expected, model.stages)]
    # Regular then shuffled windows, in pairs.
    assert [b.attn.shuffled
            for b in model.stages[2].blocks] == [False, True] * 9


# The padding design.
def naive_window_attention(attn: ShuffleWindowAttention,
                           x: torch.Tensor) -> torch.Tensor:
    """What the class docstring promises, in plain loops: each real token
    attends to the real tokens of its window only, with the bias of their
    positions inside the window."""
    B, H, W, C = x.shape
    ws, heads = attn.window_size, attn.num_heads
    rows, cols = math.ceil(H / ws), math.ceil(W / ws)

    def groups(size: int, n: int):
        # (window, [(position, line)]) of the real lines along an axis.
        for i in range(n):
            if attn.shuffled:
                lines = [(k, i + k * n) for k in range(ws)]
            else:
                lines = [(k, i * ws + k) for k in range(ws)]
            yield [(k, line) for k, line in lines if line < size]

    qkv = attn.to_qkv(x)
    out = torch.zeros(B, H, W, C)
    table = attn.relative_position_bias_table
    for row_group in groups(H, rows):
        for col_group in groups(W, cols):
            tokens = [(kr * ws + kc, r, c) for kr, r in row_group
                      for kc, c in col_group]
            pos = torch.tensor([t[0] for t in tokens])
            r = torch.tensor([t[1] for t in tokens])
            c = torch.tensor([t[2] for t in tokens])
            q, k, v = qkv[:, r, c].view(B, -1, 3, heads,
                                        C // heads).permute(2, 0, 3, 1, 4)
            index = relative_position_index(ws)[pos][:, pos]
            bias = table[index.reshape(-1)].view(
                len(tokens), len(tokens), heads).permute(2, 0, 1)
            logits = q @ k.transpose(-2, -1) * (C // heads)**-0.5 + bias
            o = logits.softmax(-1) @ v
            out[:, r, c] = o.transpose(1, 2).reshape(B, -1, C)
    return attn.proj(out)


def random_attention(shuffled: bool) -> ShuffleWindowAttention:
    torch.manual_seed(0)
    attn = ShuffleWindowAttention(8, 2, 7, shuffled, qkv_bias=True)
    nn.init.normal_(attn.relative_position_bias_table)
    return attn


@PATHS
@pytest.mark.parametrize(
    'shuffled', [False, True], ids=['regular', 'shuffled'])
@pytest.mark.parametrize('size', [(10, 16), (14, 9), (5, 21), (14, 21)])
def test_padded_tokens_are_masked_out(shuffled, size, grad):
    """Every real token attends to the real tokens of its window only: for
    regular windows the 7x7 windows, for shuffled ones the dilated groups
    with n = ceil(H / 7), as the naive reference computes them without any
    padding. Hence neither the padding's values nor its amount (one more
    whole window of it would change nothing in the reference) reach a real
    output of a regular-window block; a shuffled block's groups follow from
    n, i.e. from H, not from the padding. (14, 21) needs no padding."""
    attn = random_attention(shuffled)
    x = torch.randn(2, *size, 8)
    with torch.set_grad_enabled(grad):
        out = attn(x)
    with torch.no_grad():
        expected = naive_window_attention(attn, x)
    assert out.shape == x.shape
    assert relative_error(out, expected) < 1e-5


def test_shuffled_equals_regular_with_one_window_per_side():
    regular, shuffled = random_attention(False), random_attention(True)
    x = torch.randn(1, 6, 7, 8)
    with torch.no_grad():
        assert torch.equal(regular(x), shuffled(x))


def test_any_size_of_at_least_32(shuffle_reference):
    model = ShuffleTransformer(**micro_kwargs(shuffle_reference)).eval()
    for size in [(32, 32), (100, 150), (250, 330), (33, 47)]:
        with torch.no_grad():
            outs = model(torch.randn(1, 3, *size))
        assert [tuple(o.shape[2:]) for o in outs] == [
            tuple(math.ceil(s / stride) for s in size)
            for stride in model.strides
        ]
        assert all(torch.isfinite(o).all() for o in outs)


def test_real_outputs_do_not_depend_on_the_fill(shuffle_reference,
                                                monkeypatch):
    """Whole model at 100x150 (every stage padded): filling padded tokens
    with large values instead of zeros changes nothing real."""
    import mmsepvit.models.backbones.shuffle_transformer as module
    model = ShuffleTransformer(**micro_kwargs(shuffle_reference)).eval()
    x = torch.randn(1, 3, 100, 150)
    with torch.no_grad():
        zero_fill = model(x)
        partition = module.window_partition

        def loud_fill(feature_map, window_size, fill, *args, **kwargs):
            # Feature maps only, not the one-channel map of real places
            # that the padding mask is made from.
            if feature_map.shape[-1] > 1:
                fill = fill + 1e3
            return partition(feature_map, window_size, fill, *args, **kwargs)

        monkeypatch.setattr(module, 'window_partition', loud_fill)
        other_fill = model(x)
    for a, b in zip(zero_fill, other_fill):
        assert relative_error(b, a) < 1e-6


# Arguments and errors.
@pytest.mark.parametrize('kwargs,error,match', [
    (dict(arch='huge'), ValueError, "unknown arch 'huge'"),
    (dict(arch=dict(embed_dims=[32], num_heads=[1])), ValueError,
     r"missing \['depths'\]"),
    (dict(arch=dict(embed_dims=[32, 64], num_heads=[1, 2], depths=[2, 3])),
     ValueError, 'stage 1 depth 3 must be a positive even number'),
    (dict(arch=dict(embed_dims=[32, 64], num_heads=[1, 3], depths=[2, 2])),
     ValueError, 'not divisible by num_heads'),
    (dict(out_indices=(4, )), ValueError, 'outside the 4 stages'),
    (dict(frozen_stages=5), ValueError, r'frozen_stages must be in \[-1, 4\]'),
    (dict(drop_path_rate=1.), ValueError, 'drop_path_rate'),
])
def test_bad_arguments(kwargs, error, match):
    with torch.device('meta'), pytest.raises(error, match=match):
        ShuffleTransformer(**kwargs)


def micro_model(**kwargs) -> ShuffleTransformer:
    """The fixture's micro arch with released init; no drop path unless
    asked, so that training and eval compute alike but for BatchNorm."""
    kwargs.setdefault('drop_path_rate', 0.)
    arch = dict(
        embed_dims=[32, 64, 96, 64],
        num_heads=[1, 2, 3, 2],
        depths=[2, 2, 2, 2])
    torch.manual_seed(0)
    model = ShuffleTransformer(arch, stem_channels=16, mlp_ratio=2, **kwargs)
    model.init_weights()
    return model


def test_bad_inputs():
    model = micro_model().eval()
    with pytest.raises(ValueError, match='built for 3 input channels, got 1'):
        model(torch.zeros(1, 1, 64, 64))
    with pytest.raises(ValueError, match='at least 32x32 pixels, got 31x64'):
        model(torch.zeros(1, 3, 31, 64))
    with pytest.raises(ValueError, match='expects a batch of images'):
        model(torch.zeros(3, 64, 64))


def test_checkpoint_of_another_model(tmp_path):
    with torch.device('meta'):
        sepvit = SepViT(arch='lite')
    path = tmp_path / 'sepvit.pth'
    torch.save(
        {
            'state_dict': {
                k: torch.zeros(v.shape)
                for k, v in sepvit.state_dict().items()
            }
        }, path)
    model = micro_model()
    model.init_cfg = dict(type='Pretrained', checkpoint=str(path))
    with pytest.raises(
            ValueError,
            match=r'sepvit.pth does not fit ShuffleTransformer: missing \d+: '
            r'.*; unexpected \d+: norm0\.bias.*; mismatched shapes'):
        model.init_weights()


def test_unconverted_release_checkpoint(shuffle_reference, tmp_path):
    path = tmp_path / 'released.pth'
    torch.save({'model': shuffle_reference['state_dict']}, path)
    model = ShuffleTransformer(
        **micro_kwargs(shuffle_reference),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='shuffle2mmsepvit.py'):
        model.init_weights()


@pytest.mark.parametrize('frozen_stages', [-1, 0, 2, 4])
def test_frozen_stages(frozen_stages):
    frozen = set()
    if frozen_stages >= 0:
        frozen.add('stem.')
    frozen.update(f'stages.{i}.' for i in range(frozen_stages))
    model = micro_model(frozen_stages=frozen_stages)
    for train in (False, True):
        model.train(train)
        for name, param in model.named_parameters():
            assert param.requires_grad != name.startswith(tuple(frozen)), name
        for name, module in model.named_modules():
            if name and (name + '.').startswith(tuple(frozen)):
                assert not module.training, name
    assert model.stages[-1].training == (frozen_stages < 4)
    if 0 <= frozen_stages < 4:
        # Frozen BatchNorms keep their statistics in training.
        before = model.stem.norm1.running_mean.clone()
        sum(o.sum() for o in model(torch.randn(2, 3, 64, 64))).backward()
        assert torch.equal(model.stem.norm1.running_mean, before)
        assert all(p.grad is None for n, p in model.named_parameters()
                   if n.startswith(tuple(frozen)))
        assert model.stages[-1].blocks[0].fc1.weight.grad is not None


def test_norm_eval_keeps_batchnorm_statistics():
    x = torch.randn(2, 3, 64, 64)
    model = micro_model(norm_eval=True)
    with torch.no_grad():
        expected = model.eval()(x)
        model.train()
        assert not any(m.training
                       for m in model.modules() if isinstance(m, _BatchNorm))
        outs = model(x)
    for out, ref in zip(outs, expected):
        assert torch.equal(out, ref)
    # Without it, training normalises with the batch's statistics.
    model = micro_model(norm_eval=False).train()
    with torch.no_grad():
        assert not torch.allclose(model(x)[0], expected[0])


def test_with_cp_matches_plain():
    x = torch.randn(2, 3, 64, 96)
    results = []
    for with_cp in (False, True):
        model = micro_model(with_cp=with_cp).train()
        outs = model(x)
        sum((o * o).sum() for o in outs).backward()
        results.append((outs, {
            n: p.grad
            for n, p in model.named_parameters()
        }))
    (plain, plain_grads), (cp, cp_grads) = results
    for a, b in zip(plain, cp):
        assert relative_error(b, a) < 1e-6
    for name, grad in plain_grads.items():
        assert relative_error(cp_grads[name], grad) < 1e-5, name


def test_syncbn_config_builds_sync_batchnorm():
    model = micro_model(norm_cfg=dict(type='SyncBN')).eval()
    assert isinstance(model.stages[0].blocks[0].norm1, nn.SyncBatchNorm)
    with torch.no_grad():
        assert len(model(torch.randn(1, 3, 64, 64))) == 4


# The converter (its CLI runs in the parity tests above).
def test_converter_layouts_and_keys(shuffle_reference):
    released = shuffle_reference['state_dict']
    converted, layout = convert_official_shuffle(released)
    assert layout == 'classifier'
    assert sorted(k for k in converted if not k.startswith('backbone.')) == [
        'head.fc.bias', 'head.fc.weight'
    ]
    # Everything but the derived position indices is carried over.
    assert len(converted) == len(
        [k for k in released if not k.endswith('relative_position_index')])
    assert converted['backbone.stages.3.blocks.1.attn.to_qkv.weight'].shape \
        == (192, 64)
    backbone_only, layout = convert_official_shuffle({
        k: v
        for k, v in released.items() if not k.startswith('head.')
    })
    assert layout == 'backbone'
    assert all(k.startswith('backbone.') for k in backbone_only)


def test_converter_rejects_what_the_release_does_not_produce(
        shuffle_reference):
    released = shuffle_reference['state_dict']
    with pytest.raises(ValueError, match='cls_token'):
        convert_official_shuffle(dict(released, cls_token=torch.zeros(1)))
    with pytest.raises(ValueError, match='no "to_token." keys'):
        convert_official_shuffle({'patch_embeds.0.proj.weight': torch.ones(1)})
    key = 'stage2.layers.0.1.attn.relative_position_index'
    with pytest.raises(ValueError, match=f'{key} is not the relative'):
        convert_official_shuffle(
            dict(released, **{key: released[key].flip(0)}))


def test_traced_graph_serves_every_size():
    """The TRACE path (tracers, exporters) builds the padding mask and pads
    odd maps whatever the size, so one traced graph computes what eager
    does at sizes with and without padding."""
    model = micro_model().eval()
    model.requires_grad_(False)
    with torch.no_grad():
        traced = torch.jit.trace(
            model, torch.randn(1, 3, 224, 224), check_trace=False)
        for size in [(224, 224), (100, 150)]:
            x = torch.randn(1, 3, *size)
            for out, ref in zip(traced(x), model(x)):
                assert relative_error(out, ref) < 1e-6
