import math

import pytest
import torch

from mmsepvit.benchmark.measure import init_gradient_norms
from mmsepvit.models import SepViT
from mmsepvit.models.backbones.sepvit import SepViTBlock


def stage_sizes(height: int, width: int) -> list:
    """Map sizes of the four stages: ceil(/4), then ceil(/2) each stage."""
    sizes = [(math.ceil(height / 4), math.ceil(width / 4))]
    for _ in range(3):
        sizes.append(tuple(math.ceil(s / 2) for s in sizes[-1]))
    return sizes


@pytest.mark.parametrize('height,width', [(224, 224), (512, 512), (511, 383),
                                          (33, 47)])
def test_output_shapes(height, width):
    model = SepViT(arch='lite').eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, height, width))
    assert isinstance(outs, tuple) and len(outs) == 4
    for out, channels, size in zip(outs, [32, 64, 128, 256],
                                   stage_sizes(height, width)):
        assert out.shape == (2, channels, *size)
        assert out.is_contiguous()
        assert torch.isfinite(out).all()


def test_tiny_at_224():
    model = SepViT(arch='t').eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 224, 224))
    assert [tuple(o.shape)
            for o in outs] == [(1, 96, 56, 56), (1, 192, 28, 28),
                               (1, 384, 14, 14), (1, 768, 7, 7)]


def test_outputs_are_normed_stage_features():
    """Each output is its stage's LayerNorm output: per-pixel channel mean 0
    and variance 1 when the norms have unit weight and zero bias."""
    model = SepViT(arch='lite').eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    for out in outs:
        assert torch.allclose(out.mean(1), torch.zeros(()), atol=1e-4)
        assert torch.allclose(
            out.var(1, unbiased=False), torch.ones(()), atol=1e-3)


@pytest.mark.parametrize('out_indices,expected', [((0, ), [0]),
                                                  ((1, 3), [1, 3]), (-1, [3]),
                                                  ((2, -1), [2, 3])])
def test_out_indices(out_indices, expected):
    torch.manual_seed(0)
    full = SepViT(arch='lite').eval()
    subset = SepViT(arch='lite', out_indices=out_indices).eval()
    subset.load_state_dict(full.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        all_outs, outs = full(x), subset(x)
    assert len(outs) == len(expected)
    for out, index in zip(outs, expected):
        torch.testing.assert_close(out, all_outs[index])


@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 2, 4])
def test_frozen_stages(frozen_stages):
    frozen = set()
    if frozen_stages >= 0:
        frozen.add('stages.0.patch_embed.')
    for i in range(frozen_stages):
        frozen.update({f'stages.{i}.', f'norm{i}.'})
    model = SepViT(arch='lite', frozen_stages=frozen_stages)
    # Frozen from construction: mmengine wraps the model in DDP before it
    # calls train(), and DDP must not wait for gradients of frozen weights.
    for name, param in model.named_parameters():
        assert param.requires_grad != name.startswith(tuple(frozen)), name
    model.train()
    for name, param in model.named_parameters():
        assert param.requires_grad != name.startswith(tuple(frozen)), name
    for name, module in model.named_modules():
        if name and (name + '.').startswith(tuple(frozen)):
            assert not module.training, name
    assert model.stages[-1].training == (frozen_stages < 4)


def test_frozen_stages_get_no_gradient():
    model = SepViT(arch='lite', frozen_stages=1)
    model.train()
    sum(o.sum() for o in model(torch.randn(1, 3, 64, 64))).backward()
    assert model.stages[0].blocks[0].attn.qkv.weight.grad is None
    assert model.stages[1].blocks[0].attn.qkv.weight.grad is not None


def test_norm_eval_is_accepted_and_changes_nothing():
    """LayerNorms keep no statistics: configs written for BatchNorm
    backbones may set norm_eval, and training computes the same."""
    x = torch.randn(2, 3, 64, 64)
    outs = []
    for norm_eval in (False, True):
        torch.manual_seed(0)
        model = SepViT(arch='lite', norm_eval=norm_eval).train()
        torch.manual_seed(1)
        outs.append(model(x))
    for with_flag, without in zip(*outs):
        torch.testing.assert_close(with_flag, without, rtol=0, atol=0)


def test_with_cp_matches_plain():
    torch.manual_seed(0)
    plain = SepViT(arch='lite', drop_path_rate=0.3)
    checkpointed = SepViT(arch='lite', drop_path_rate=0.3, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 80)
    results = []
    for model in (plain, checkpointed):
        model.train()
        torch.manual_seed(1)  # same drop-path draws for both
        outs = model(x)
        sum((o * o).mean() for o in outs).backward()
        results.append((outs, {
            n: p.grad.clone()
            for n, p in model.named_parameters()
        }))
    (plain_outs, plain_grads), (cp_outs, cp_grads) = results
    for a, b in zip(plain_outs, cp_outs):
        torch.testing.assert_close(a, b)
    assert plain_grads.keys() == cp_grads.keys()
    for name in plain_grads:
        torch.testing.assert_close(plain_grads[name], cp_grads[name])


def test_drop_path_schedule():
    model = SepViT(arch='small', drop_path_rate=0.3)
    rates = [
        m.drop_path.drop_prob for m in model.modules()
        if isinstance(m, SepViTBlock)
    ]
    assert len(rates) == 1 + 2 + 14 + 2
    expected = torch.linspace(0, 0.3, len(rates)).tolist()
    assert rates == pytest.approx(expected)
    assert rates[0] == 0 and rates[-1] == pytest.approx(0.3)


def test_drop_path_is_random_in_train_and_off_in_eval():
    model = SepViT(arch='lite', drop_path_rate=0.5)
    x = torch.randn(1, 3, 64, 64)
    model.train()
    torch.manual_seed(0)
    a = model(x)[-1]
    torch.manual_seed(1)
    b = model(x)[-1]
    assert not torch.allclose(a, b)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x)[-1], model(x)[-1])


@pytest.mark.parametrize('window_token', ['zero', 'learnable'])
def test_window_token_modes_take_any_size(window_token):
    model = SepViT(arch='lite', window_token=window_token).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 96, 160))
    assert outs[-1].shape == (1, 256, 3, 5)
    tokens = [
        m.window_token for m in model.modules() if isinstance(m, SepViTBlock)
    ]
    if window_token == 'zero':
        assert all(t is None for t in tokens)
    else:
        assert all(t.shape == (1, 1, 1, m)
                   for t, m in zip(tokens, [32] + [64] * 2 + [128] * 6 +
                                   [256] * 2))
        assert all((t == 0).all() for t in tokens)


def test_learnable_token_starts_equal_to_zero_token():
    torch.manual_seed(0)
    zero = SepViT(arch='lite').eval()
    learnable = SepViT(arch='lite', window_token='learnable').eval()
    learnable.load_state_dict(zero.state_dict(), strict=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(zero(x), learnable(x)):
            torch.testing.assert_close(a, b)
    assert any('window_token' in n for n, _ in learnable.named_parameters())


def test_per_window_tokens_follow_the_release():
    model = SepViT(
        arch='tiny',
        window_token='per_window',
        img_size=224,
        stage_norm=False,
        out_indices=(3, ))
    blocks = [[b for b in stage.blocks] for stage in model.stages]
    # Windows at 224: 8x8 in stage 1; 4x4 and 2x2 in stage 2; 2x2 and one in
    # stage 3; one in stage 4.
    assert [b.window_token.shape[1] for b in blocks[0]] == [64]
    assert [b.window_token.shape[1] for b in blocks[1]] == [16, 4]
    for j, block in enumerate(blocks[2]):
        single = j % 2 == 1
        assert (block.window_token is None) == single
        assert hasattr(block.attn, 'token_qk') != single
    assert all(b.window_token is None and not b.attn.pointwise
               for b in blocks[3])
    assert [n for n, _ in model.named_children()
            if n.startswith('norm')] == ['norm3']
    with torch.no_grad():
        (out, ) = model.eval()(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 768, 7, 7)
    with pytest.raises(ValueError, match='exactly 224x224'):
        model(torch.randn(1, 3, 256, 256))


def test_per_window_tokens_at_a_size_that_needs_padding():
    model = SepViT(
        arch='lite',
        window_token='per_window',
        img_size=(64, 96),
        stage_norm=False,
        out_indices=(3, ))
    # Stage maps 16x24 and 8x12, padded to whole 7- and 14-windows.
    tokens = [[
        None if b.window_token is None else b.window_token.shape[1]
        for b in stage.blocks
    ] for stage in model.stages]
    assert tokens == [[12], [4, None], [None] * 6, [None] * 2]
    with torch.no_grad():
        (out, ) = model.eval()(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 256, 2, 3)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(arch='huge'), ValueError, "unknown arch 'huge'"),
    (dict(arch=42), TypeError, 'arch must be a name or a dict'),
    (dict(arch=dict(embed_dims=[32], num_heads=[1], depths=[1])), ValueError,
     r"missing \['window_sizes'\]"),
    (dict(
        arch=dict(
            embed_dims=[32],
            num_heads=[1],
            depths=[1],
            window_sizes=[[7]],
            mlp_ratio=4)), ValueError, r"unexpected \['mlp_ratio'\]"),
    (dict(
        arch=dict(
            embed_dims=[32, 64],
            num_heads=[1],
            depths=[1, 1],
            window_sizes=[[7], [7]])), ValueError, 'one value per stage'),
    (dict(
        arch=dict(
            embed_dims=[30], num_heads=[4], depths=[1], window_sizes=[[7]])),
     ValueError, 'not divisible'),
    (dict(
        arch=dict(
            embed_dims=[32], num_heads=[1], depths=[2], window_sizes=[[7]])),
     ValueError, 'depth 2 but 1 window'),
    (dict(
        arch=dict(
            embed_dims=[32], num_heads=[1], depths=[1], window_sizes=[[0]])),
     ValueError, 'positive integers'),
    (dict(out_indices=(0, 4)), ValueError, 'outside the 4 stages'),
    (dict(out_indices=()), TypeError, 'non-empty'),
    (dict(frozen_stages=5), ValueError, r'frozen_stages must be in \[-1, 4\]'),
    (dict(frozen_stages=-2), ValueError, 'frozen_stages'),
    (dict(window_token='random'), ValueError, "unknown window_token 'random'"),
    (dict(window_token='per_window'), ValueError, 'needs the fixed input'),
    (dict(img_size=224), ValueError, 'img_size only applies'),
    (dict(window_token='per_window', img_size=(224, 16)), ValueError,
     'below the smallest input, 32 pixels'),
    (dict(stage_norm=False), ValueError, r'out_indices must be \(3, \)'),
    (dict(drop_path_rate=1.0), ValueError, 'drop_path_rate'),
    (dict(pretrained=3), TypeError, 'checkpoint path'),
    (dict(
        pretrained='a.pth',
        init_cfg=dict(type='Pretrained',
                      checkpoint='b.pth')), ValueError, 'not both'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SepViT(**kwargs)


def test_unknown_keyword_is_rejected():
    with pytest.raises(TypeError, match='window_size'):
        SepViT(arch='lite', window_size=7)


@pytest.mark.parametrize('shape,match', [
    ((3, 64, 64), r'\(B, C, H, W\).*\(3, 64, 64\)'),
    ((1, 1, 64, 64), 'built for 3 input channels, got 1'),
    ((1, 3, 31, 64), 'at least 32x32 pixels, got 31x64'),
    ((1, 3, 64, 20), 'at least 32x32 pixels, got 64x20'),
])
def test_bad_inputs(shape, match):
    model = SepViT(arch='lite')
    with pytest.raises(ValueError, match=match):
        model(torch.randn(*shape))


@pytest.mark.parametrize('bad_value', [float('nan'), float('inf')])
def test_non_finite_pixels_stay_in_their_image(bad_value):
    """Documented behaviour: values are not checked (that would cost a device
    sync per forward); a NaN or inf makes its own image's features
    non-finite and leaves the rest of the batch as it would be alone."""
    model = SepViT(arch='lite').eval()
    images = torch.randn(2, 3, 64, 96)
    images[0, 1, 10, 20] = bad_value
    with torch.no_grad():
        batch = model(images)
        alone = model(images[1:])
    for out, ref in zip(batch, alone):
        assert not torch.isfinite(out[0]).all()
        torch.testing.assert_close(out[1:], ref)


def test_smallest_allowed_input():
    with torch.no_grad():
        outs = SepViT(arch='lite').eval()(torch.randn(1, 3, 32, 32))
    assert [o.shape[-2:] for o in outs] == [(8, 8), (4, 4), (2, 2), (1, 1)]


@pytest.mark.parametrize('arch,millions', [('tiny', 33.655), ('small', 50.223),
                                           ('base', 89.213)])
def test_dense_parameter_counts(arch, millions):
    with torch.device('meta'):
        model = SepViT(arch=arch)
    count = sum(p.numel() for p in model.parameters())
    assert round(count / 1e6, 3) == millions


def test_default_init_follows_the_release():
    torch.manual_seed(0)
    model = SepViT(arch='tiny')
    model.init_weights()
    qkv = model.stages[2].blocks[0].attn.qkv
    assert qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert (qkv.bias == 0).all()
    conv = model.stages[1].patch_embed.projection
    fan_out = 3 * 3 * conv.out_channels
    assert conv.weight.std().item() == pytest.approx(
        math.sqrt(2 / fan_out), rel=0.05)
    cpe = model.stages[1].pos_embed.proj
    assert cpe.weight.std().item() == pytest.approx(
        math.sqrt(2 / (3 * 3)), rel=0.1)
    norm = model.norm2
    assert (norm.weight == 1).all() and (norm.bias == 0).all()
    assert norm.eps == 1e-6 and model.stages[0].patch_embed.norm.eps == 1e-5


def test_patch_embedding_biases_start_as_pytorch_conv_biases():
    """Not zero as in the release: a zero bias turns a padded border into
    all-zero vectors at the patch embedding's LayerNorm."""
    torch.manual_seed(0)
    model = SepViT(arch='tiny')
    model.init_weights()
    for stage in model.stages:
        conv = stage.patch_embed.projection
        bound = 1 / math.sqrt(conv.weight[0].numel())
        assert conv.bias.abs().max() <= bound
        assert conv.bias.std() > bound / 3  # uniform: bound / sqrt(3)
    assert (model.stages[1].pos_embed.proj.bias == 0).all()


@pytest.mark.parametrize('arch', ['lite', 'tiny'])
def test_padded_border_keeps_gradients_at_initialisation(arch):
    """mmdet and mmseg pad batches of mixed sizes with zeros; from scratch,
    the gradient must stay of the same order with a 32-pixel border."""
    torch.manual_seed(0)
    norms = init_gradient_norms(SepViT(arch=arch, drop_path_rate=0.2), 'cpu')
    ratio = norms['init_grad_norm_padded'] / norms['init_grad_norm']
    assert 0.5 < ratio < 2, norms


def test_deprecated_pretrained_warns_and_loads(tmp_path):
    source = SepViT(arch='lite')
    path = str(tmp_path / 'lite.pth')
    torch.save({'state_dict': source.state_dict()}, path)
    with pytest.warns(UserWarning, match='deprecated'):
        model = SepViT(arch='lite', pretrained=path)
    model.init_weights()
    for name, value in source.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)
