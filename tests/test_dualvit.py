"""Dual-ViT: parity with the authors' released code, the backbone's options
and errors, and the checkpoint converter."""
import math
from pathlib import Path

import pytest
import torch
from conftest import load_fixture
from launch import launch_python
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmsepvit.models.backbones import DualViT, DualViTClsHead
from mmsepvit.models.backbones.dualvit import (DualAttention, DualBlock,
                                               MergeBlock)
from mmsepvit.models.utils import convert_official_dualvit
from mmsepvit.utils.measure import relative_error

ROOT = Path(__file__).resolve().parents[1]
CONVERTER = ROOT / 'tools' / 'model_converters' / 'dualvit2mmsepvit.py'
# The fixture's micro architecture in our arch dict: the release alternates
# stage 3's ratios 4 and 3.
MICRO = dict(
    stem_width=16,
    embed_dims=[16, 32, 48, 64],
    num_heads=[1, 2, 3, 4],
    depths=[1, 2, 2, 2],
    mlp_ratios=[8, 8, [4, 3], 3])
# Inference (no grad) and autograd must both reproduce the release.
PATHS = pytest.mark.parametrize(
    'grad', [False, True], ids=['inference', 'autograd'])


@pytest.fixture(scope='module')
def fx() -> dict:
    return load_fixture('dualvit_reference_micro.pt')


def scaled(fx: dict, code: torch.Tensor) -> torch.Tensor:
    return code.float() * fx['input_scale']


def without_prefix(state_dict: dict, prefix: str) -> dict:
    return {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }


def dense_model(fx: dict, **kwargs) -> DualViT:
    converted, _, _ = convert_official_dualvit(fx['state_dict'], dense=True)
    model = DualViT(arch=MICRO, drop_path_rate=0., **kwargs)
    model.load_state_dict(without_prefix(converted, 'backbone.'))
    return model.eval()


def build_classifier(token_label: bool = True):
    init_default_scope('mmpretrain')
    return MMPRETRAIN_MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(
                type='DualViT',
                arch=MICRO,
                classifier=True,
                out_indices=(3, ),
                drop_path_rate=0.),
            head=dict(
                type='DualViTClsHead',
                num_classes=10,
                in_channels=64,
                num_heads=4,
                token_label=token_label)))


def stage_sizes(height: int, width: int) -> list:
    sizes = [(math.ceil(height / 4), math.ceil(width / 4))]
    for _ in range(3):
        sizes.append(tuple(math.ceil(s / 2) for s in sizes[-1]))
    return sizes


# Parity.
@PATHS
def test_dense_parity(fx, grad):
    model = dense_model(fx)
    for x, expected in zip(fx['dense_inputs'], fx['dense_outputs']):
        with torch.set_grad_enabled(grad):
            outs = model(scaled(fx, x))
        assert len(outs) == len(expected) == 4
        for out, ref in zip(outs, expected):
            assert out.shape == ref.shape
            assert out.requires_grad == grad
            assert relative_error(out, ref) < 1e-5


def test_semantic_grids(fx):
    """The semantic tokens form the floor(H1/7) x floor(W1/7) grid."""
    model = dense_model(fx)
    grids = []
    model.stages[0].semantic_embed.register_forward_hook(
        lambda m, args, out: grids.append(out.shape[1]))
    with torch.no_grad():
        for x in fx['dense_inputs']:
            model(scaled(fx, x))
    assert grids == [h * w for h, w in fx['dense_semantic_grids']]


@PATHS
def test_classifier_parity(fx, grad):
    converted, unused, layout = convert_official_dualvit(fx['state_dict'])
    assert layout == 'classifier' and unused == []
    x = scaled(fx, fx['classifier_input'])
    for token_label, key in [(True, 'classifier_logits'),
                             (False, 'classifier_logits_cls_only')]:
        classifier = build_classifier(token_label)
        state_dict = converted if token_label else {
            k: v
            for k, v in converted.items() if not k.startswith('head.aux_fc.')
        }
        classifier.load_state_dict(state_dict, strict=True)
        classifier.eval()
        with torch.set_grad_enabled(grad):
            logits = classifier(x, mode='tensor')
        assert logits.shape == fx[key].shape
        assert relative_error(logits, fx[key]) < 1e-5


def test_classifier_and_dense_agree_at_224(fx):
    """One trunk serves both: at 224 the dense stage-4 output is the
    classifier's pixel tokens after its final norm."""
    classifier = build_classifier()
    classifier.load_state_dict(convert_official_dualvit(fx['state_dict'])[0])
    classifier.eval()
    x = scaled(fx, fx['classifier_input'])
    with torch.no_grad():
        pixels, semantics = classifier.backbone(x)[0]
        dense = dense_model(fx)(x)[3]
        normed = classifier.head.norm(pixels.permute(0, 2, 3, 1))
    assert semantics.shape == (2, 64, 64)
    assert relative_error(normed.permute(0, 3, 1, 2), dense) < 1e-6


def test_norm_eps_follow_the_release(fx):
    """Every LayerNorm and BatchNorm has the eps of its released
    counterpart, in the classifier's and in the dense layout."""
    released = fx['state_dict']
    classifier = build_classifier()
    for dense in (False, True):
        converted, _, _ = convert_official_dualvit(released, dense=dense)
        model = dense_model(fx) if dense else classifier
        prefix = 'backbone.' if dense else ''
        new_name = {id(v): k for k, v in converted.items()}
        checked = 0
        for name, eps in fx['norm_eps'].items():
            key = new_name.get(id(released[name + '.weight']))
            if key is None:  # the classifier's head, not in the dense model
                assert dense and name.startswith('post_network.')
                continue
            module = model.get_submodule(key[len(prefix):-len('.weight')])
            assert module.eps == eps, (name, key)
            checked += 1
        assert checked >= len(fx['norm_eps']) - (2 if dense else 0)


# Sizes and errors.
@pytest.mark.parametrize('arch,expected', [('s', 21_741_280),
                                           ('b', 38_448_128)])
def test_dense_param_counts(arch, expected):
    with torch.device('meta'):
        model = DualViT(arch=arch)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize('arch,channels,heads,with_aux,without_aux',
                         [('small', 448, 14, 25_054_000, 24_605_000),
                          ('base', 512, 16, 42_627_024, 42_114_024),
                          ('large', 512, 16, 72_966_544, 72_453_544)])
def test_classifier_param_counts(arch, channels, heads, with_aux, without_aux):
    loss = torch.nn.CrossEntropyLoss()
    with torch.device('meta'):
        trunk = DualViT(arch=arch, classifier=True, out_indices=3)
        counts = [
            sum(p.numel() for m in (
                trunk,
                DualViTClsHead(
                    1000, channels, heads, token_label=token_label, loss=loss))
                for p in m.parameters()) for token_label in (True, False)
        ]
    assert counts == [with_aux, without_aux]


def test_frozen_affine_stem_norms():
    """The detection release's stem BatchNorms: frozen affine."""
    with torch.device('meta'):
        model = DualViT(
            arch='s', norm_cfg=dict(type='BN', requires_grad=False))
    assert sum(p.numel() for p in model.parameters()
               if p.requires_grad) == 21_741_088


@pytest.mark.parametrize('height,width', [(25, 25), (64, 96), (97, 33)])
def test_output_shapes(height, width):
    model = DualViT(arch=MICRO).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, height, width))
    for out, channels, size in zip(outs, MICRO['embed_dims'],
                                   stage_sizes(height, width)):
        assert out.shape == (2, channels, *size) and out.is_contiguous()


def test_out_indices():
    torch.manual_seed(0)
    full = DualViT(arch=MICRO).eval()
    subset = DualViT(arch=MICRO, out_indices=(1, -1)).eval()
    subset.load_state_dict(full.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected, outs = full(x), subset(x)
    assert len(outs) == 2
    assert torch.equal(outs[0], expected[1])
    assert torch.equal(outs[1], expected[3])


def test_errors():
    with pytest.raises(ValueError, match="unknown arch 'huge'"):
        DualViT(arch='huge')
    with pytest.raises(ValueError, match='stem_width'):
        DualViT(arch={k: v for k, v in MICRO.items() if k != 'stem_width'})
    with pytest.raises(ValueError, match='depth 2 but mlp ratios'):
        DualViT(arch=dict(MICRO, mlp_ratios=[8, 8, [4], 3]))
    with pytest.raises(ValueError, match='out_indices'):
        DualViT(arch=MICRO, classifier=True)
    model = DualViT(arch=MICRO).eval()
    with pytest.raises(ValueError, match='3 input channels, got 1'):
        model(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match='at least 25x25 pixels, got 24x64'):
        model(torch.randn(1, 3, 24, 64))


def test_checkpoint_of_another_model_lists_keys(tmp_path):
    path = tmp_path / 'micro.pth'
    state_dict = DualViT(arch=MICRO).state_dict()
    torch.save({'state_dict': state_dict}, path)
    model = DualViT(
        arch=dict(MICRO, depths=[1, 2, 2, 1], mlp_ratios=[8, 8, [4, 3], 3]),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError) as error:
        model.init_weights()
    message = str(error.value)
    # Stage 4's second block, and the first one's semantic FFN: a last
    # block has none.
    unexpected = [
        k for k in state_dict
        if k.startswith(('stages.3.blocks.1.',
                         'stages.3.blocks.0.mlp.fc_proxy.'))
    ]
    assert f'unexpected {len(unexpected)}: ' in message
    assert 'stages.3.blocks.0.mlp.fc_proxy.0.bias' in message
    assert 'missing' not in message
    model = DualViT(
        arch=dict(MICRO, embed_dims=[16, 32, 48, 96]),
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match='mismatched shapes'):
        model.init_weights()


def test_classifier_checkpoint_initialises_the_dense_backbone(fx, tmp_path):
    """A classifier trained here (backbone. and head. keys) carries its
    trunk and its head's norm into the dense backbone, as the configs load
    it (prefix='backbone.')."""
    converted, _, _ = convert_official_dualvit(fx['state_dict'])
    path = tmp_path / 'classifier.pth'
    torch.save({'state_dict': converted}, path)
    model = DualViT(
        arch=MICRO,
        drop_path_rate=0.,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(path), prefix='backbone.'))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        outs = model(scaled(fx, fx['dense_inputs'][0]))
    for out, ref in zip(outs, fx['dense_outputs'][0]):
        assert relative_error(out, ref) < 1e-5


# Options.
@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 2, 4])
def test_frozen_stages(frozen_stages):
    frozen = set()
    if frozen_stages >= 0:
        frozen.add('stages.0.patch_embed.')
    for i in range(frozen_stages):
        frozen.update({f'stages.{i}.', f'norm{i}.', f'norm_proxy{i}.'})
    model = DualViT(arch=MICRO, frozen_stages=frozen_stages)
    for _ in range(2):  # as built, and after train()
        for name, param in model.named_parameters():
            assert param.requires_grad != name.startswith(tuple(frozen)), name
        for name, module in model.named_modules():
            if name and (name + '.').startswith(tuple(frozen)):
                assert not module.training, name
        model.train()
    if frozen_stages >= 1:
        # The semantic tokens' making belongs to stage 1.
        assert not model.stages[0].semantic_embed.q.requires_grad
    assert model.stages[-1].training == (frozen_stages < 4)


def test_norm_eval_keeps_stem_statistics():
    model = DualViT(arch=MICRO, norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 3
    assert not any(bn.training for bn in bns)
    before = [bn.running_mean.clone() for bn in bns]
    model(torch.randn(2, 3, 64, 64))
    assert all(torch.equal(b, bn.running_mean) for b, bn in zip(before, bns))
    assert model.stages[1].training


def test_with_cp_matches_plain():
    torch.manual_seed(0)
    plain = DualViT(arch=MICRO, drop_path_rate=0.).train()
    ckpt = DualViT(arch=MICRO, drop_path_rate=0., with_cp=True).train()
    ckpt.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 64, 64)
    losses = [sum(o.square().sum() for o in m(x)) for m in (plain, ckpt)]
    for loss in losses:
        loss.backward()
    assert torch.allclose(losses[0], losses[1])
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-7), name


def test_drop_path_schedule():
    model = DualViT(arch=MICRO, drop_path_rate=0.3)
    blocks = [b for stage in model.stages for b in stage.blocks]
    rates = [b.drop_path.drop_prob for b in blocks]
    assert rates == pytest.approx(torch.linspace(0, 0.3, 7).tolist())
    for block in blocks:
        if isinstance(block, DualBlock):
            # The three semantic residuals drop with the block's rate.
            assert isinstance(block.attn, DualAttention)
            assert block.attn.drop_path.drop_prob == block.drop_path.drop_prob
        else:
            assert isinstance(block, MergeBlock)
    x = torch.randn(2, 3, 64, 64)
    model.train()
    torch.manual_seed(1)
    a = model(x)[3]
    torch.manual_seed(2)
    b = model(x)[3]
    assert not torch.allclose(a, b)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x)[3], model(x)[3])


def test_eval_tiling():
    """With eval_tile_size, each tile's features overwrite the whole image's:
    the last tile's region is the backbone run on that crop; elsewhere, the
    first tile's."""
    torch.manual_seed(0)
    model = DualViT(arch=MICRO, drop_path_rate=0., eval_tile_size=64).eval()
    plain = DualViT(arch=MICRO, drop_path_rate=0.).eval()
    plain.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 160)  # tiles at columns 0, 64 and 96-160
    with torch.no_grad():
        tiled, whole = model(x), plain(x)
        first, last = plain(x[..., :64]), plain(x[..., 96:])
    for out, ref, a, b in zip(tiled, whole, first, last):
        assert out.shape == ref.shape
        width = b.shape[3]
        assert torch.equal(out[..., -width:], b)
        assert torch.equal(out[..., :a.shape[3]], a)
        assert not torch.allclose(out, ref)
    # Inputs within the tile size, and training, are never tiled.
    with torch.no_grad():
        assert all(
            torch.equal(a, b)
            for a, b in zip(model(x[..., :64]), plain(x[..., :64])))
    model.train()
    plain.train()
    assert all(torch.equal(a, b) for a, b in zip(model(x), plain(x)))


def test_classifier_head_loss_and_predict():
    classifier = build_classifier(token_label=False)
    from mmpretrain.structures import DataSample
    samples = [DataSample().set_gt_label(i) for i in (1, 7)]
    x = torch.randn(2, 3, 64, 64)
    losses = classifier(x, samples, mode='loss')
    losses['loss'].backward()
    assert torch.isfinite(losses['loss'])
    assert classifier.head.fc.weight.grad is not None
    classifier.eval()
    with torch.no_grad():
        predictions = classifier(x, mode='predict')
    assert predictions[0].pred_score.shape == (10, )


# Converter.
def test_converter_maps_every_key(fx):
    released = fx['state_dict']
    converted, unused, layout = convert_official_dualvit(released, dense=True)
    assert layout == 'dense'
    assert unused == sorted(fx['dense_unused_keys'])
    assert len(converted) + len(unused) == len(released)
    # A segmentor's or detector's checkpoint: its backbone keys.
    dense = {
        k: v
        for k, v in released.items() if k not in fx['dense_unused_keys']
    }
    det = dict({
        f'backbone.{k}': v
        for k, v in dense.items()
    }, **{'decode_head.x': dense['q']})
    det_converted, det_unused, det_layout = convert_official_dualvit(det)
    assert det_layout == 'dense' and det_unused == []
    assert det_converted.keys() == converted.keys()
    with pytest.raises(ValueError, match='does not produce'):
        convert_official_dualvit(dict(dense, extra=dense['q']))
    with pytest.raises(ValueError, match='not a checkpoint'):
        convert_official_dualvit({'patch_embeds.0.proj.weight': dense['q']})


def convert_with_tool(tmp_path, checkpoint: dict, name: str, *args) -> tuple:
    src, dst = tmp_path / f'{name}_released.pth', tmp_path / f'{name}.pth'
    torch.save(checkpoint, src)
    log = launch_python(CONVERTER, src, dst, *args).log
    return str(dst), log


@pytest.mark.slow
def test_converter_tool(fx, tmp_path):
    released = fx['state_dict']
    x = scaled(fx, fx['dense_inputs'][1])
    expected = fx['dense_outputs'][1]
    # The classifier to the mmpretrain classifier, strictly.
    path, _ = convert_with_tool(tmp_path, {'model': released}, 'cls')
    classifier = build_classifier()
    classifier.load_state_dict(
        torch.load(path, weights_only=True)['state_dict'], strict=True)
    classifier.eval()
    with torch.no_grad():
        logits = classifier(scaled(fx, fx['classifier_input']), mode='tensor')
    assert relative_error(logits, fx['classifier_logits']) < 1e-5
    # The classifier to the dense backbone, listing what has no place there;
    # and the detection/segmentation layout.
    dense = {
        f'backbone.{k}': v
        for k, v in released.items() if k not in fx['dense_unused_keys']
    }
    for name, checkpoint, args in [('cls2dense', {
            'model': released
    }, ['--dense']), ('det', {
            'state_dict': dense
    }, [])]:
        path, log = convert_with_tool(tmp_path, checkpoint, name, *args)
        if args:
            for key in fx['dense_unused_keys']:
                assert f'  {key}\n' in log
        model = DualViT(
            arch=MICRO,
            drop_path_rate=0.,
            init_cfg=dict(
                type='Pretrained', checkpoint=path, prefix='backbone.'))
        model.init_weights()
        model.eval()
        with torch.no_grad():
            outs = model(x)
        for out, ref in zip(outs, expected):
            assert relative_error(out, ref) < 1e-5
