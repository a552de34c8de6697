"""mmsepvit's backbones in timm (the SepViT and MSG-Transformer families)
and SepViT in Hugging Face transformers: the entries, their weights (ours
and the release's), their outputs and their errors."""
import argparse
import dataclasses
import os
import sys
import types
from pathlib import Path

import pytest
import torch
from launch import launch_python
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmsepvit.models import SepViT, convert_official_sepvit
from mmsepvit.models.backbones import (DualViT, MSGTransformer,
                                       ShuffleTransformer)
from mmsepvit.utils.measure import relative_error

timm = pytest.importorskip('timm')

ROOT = Path(__file__).resolve().parents[1]
CHECKS = Path(__file__).parent / 'transformers_env' / 'check_transformers.py'
LITE_CONFIG = ROOT / 'configs' / 'sepvit_lite_300e_in1k.py'
ENTRIES = ['sepvit_base', 'sepvit_lite', 'sepvit_small', 'sepvit_tiny']
# Four stages of one block each: another model's weights, cheaply.
MICRO = dict(
    embed_dims=[8, 16, 32, 64],
    num_heads=[1, 2, 4, 8],
    depths=[1, 1, 1, 1],
    window_sizes=[[7]] * 4)


def perturbed(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """``model`` with noise on every weight (window tokens and biases start
    at zero), in eval mode."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.05)
    return model.eval()


def save(path: Path, state_dict: dict) -> str:
    """A checkpoint as mmengine's runner and our converter write it."""
    torch.save(dict(meta=dict(epoch=1), state_dict=state_dict), path)
    return str(path)


def create(name: str = 'sepvit_lite', path: str = None, **kwargs):
    """``timm.create_model``, with the local weights of ``path``."""
    if path is not None:
        kwargs.update(
            pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    return timm.create_model(name, **kwargs).eval()


@pytest.fixture(scope='module')
def lite_checkpoint(tmp_path_factory) -> str:
    """Weights of the SepViT-Lite classifier (1000 classes)."""
    path = tmp_path_factory.mktemp('timm') / 'sepvit_lite.pth'
    return save(path, perturbed(create()).state_dict())


@pytest.fixture(scope='module')
def mmpretrain_classifier(lite_checkpoint):
    """The classifier of configs/sepvit_lite_300e_in1k.py as mmpretrain builds
    it, with the weights of ``lite_checkpoint`` loaded strictly."""
    init_default_scope('mmpretrain')
    try:
        from mmpretrain.registry import MODELS
        model = MODELS.build(Config.fromfile(str(LITE_CONFIG)).model)
    except TypeError as error:  # NoneType takes no arguments
        pytest.skip('mmpretrain 1.2 cannot import its models beside '
                    f'transformers 4.57 or 5.x ({error}); see '
                    'docs/timm_and_transformers.md')
    state_dict = torch.load(lite_checkpoint, weights_only=True)['state_dict']
    model.load_state_dict(state_dict, strict=True)
    return model.eval()


def test_entries_and_their_data_config():
    assert timm.list_models('sepvit_*') == ENTRIES
    cfg = Config.fromfile(str(LITE_CONFIG))
    resize, crop = cfg.test_pipeline[1], cfg.test_pipeline[2]
    expected = dict(
        input_size=(3, crop.crop_size, crop.crop_size),
        crop_pct=crop.crop_size / resize.scale,
        mean=tuple(v / 255 for v in cfg.data_preprocessor.mean),
        std=tuple(v / 255 for v in cfg.data_preprocessor.std))
    for name in ENTRIES:
        data_config = timm.data.resolve_data_config(
            pretrained_cfg=timm.models.get_pretrained_cfg(name).to_dict())
        assert data_config['interpolation'] == resize.interpolation
        for key, value in expected.items():
            assert data_config[key] == pytest.approx(value), (name, key)


def test_classifier_is_mmpretrains_model(tmp_path, mmpretrain_classifier):
    """A checkpoint of the mmpretrain classifier loads strictly into timm's
    entry and gives the same logits, pooled features and state dict."""
    path = save(tmp_path / 'epoch_1.pth', mmpretrain_classifier.state_dict())
    model = create(path=path)
    mm_state, state = mmpretrain_classifier.state_dict(), model.state_dict()
    assert state.keys() == mm_state.keys()
    assert all(torch.equal(state[k], mm_state[k]) for k in state)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        logits = model(x)
        pooled = model.forward_head(model.forward_features(x), pre_logits=True)
        torch.testing.assert_close(logits,
                                   mmpretrain_classifier(x, mode='tensor'))
        torch.testing.assert_close(pooled,
                                   mmpretrain_classifier.extract_feat(x)[-1])
    assert logits.shape == (2, 1000) and model.num_classes == 1000


def test_features_only_is_the_dense_backbone(lite_checkpoint):
    """features_only builds the dense layout, started from classifier
    weights as SepViT's own init_cfg starts it, at any input size."""
    features = create(
        path=lite_checkpoint, features_only=True, out_indices=(1, 3))
    dense = SepViT(
        arch='lite',
        out_indices=(1, 3),
        init_cfg=dict(
            type='Pretrained', checkpoint=lite_checkpoint, prefix='backbone.'))
    dense.init_weights()
    dense.eval()
    assert features.feature_info.channels() == [64, 256]
    assert features.feature_info.reduction() == [8, 32]
    x = torch.randn(1, 3, 96, 160)
    with torch.no_grad():
        maps, expected = features(x), dense(x)
    assert [tuple(m.shape) for m in maps] == [(1, 64, 12, 20), (1, 256, 3, 5)]
    for out, ref in zip(maps, expected):
        torch.testing.assert_close(out, ref)


def test_released_checkpoints_through_timm(tmp_path, reference):
    """Converted weights of the authors' release give its logits and dense
    maps through timm (the micro architecture of the reference)."""
    arch = {k: reference['arch'][k] for k in SepViT.arch_keys}
    paths = {}
    for layout in ('classifier', 'dense'):
        converted, _ = convert_official_sepvit(
            reference[f'{layout}_state_dict'])
        paths[layout] = save(tmp_path / f'{layout}.pth', converted)
    classifier = create(arch=arch, num_classes=10, path=paths['classifier'])
    dense = create(arch=arch, features_only=True, path=paths['dense'])
    with torch.no_grad():
        logits = classifier(reference['classifier_input'])
        assert relative_error(logits, reference['classifier_logits']) < 1e-5
        for x, expected in zip(reference['dense_inputs'],
                               reference['dense_outputs']):
            for out, ref in zip(dense(x), expected, strict=True):
                assert relative_error(out, ref) < 1e-5


def test_timm_model_interface():
    model = create(in_chans=1, drop_path_rate=0.1)
    assert (model.in_chans, model.num_classes) == (1, 1000)
    assert model.no_weight_decay() == set()
    x = torch.randn(1, 1, 224, 224)
    with torch.no_grad():
        final, maps = model.forward_intermediates(x)
        torch.testing.assert_close(final, model.forward_features(x))
        assert [m.shape[1] for m in maps] == [32, 64, 128, 256]
        assert [m.shape[-1] for m in maps] == [56, 28, 14, 7]
        early = model.forward_intermediates(
            x, indices=[1], stop_early=True, intermediates_only=True)
        torch.testing.assert_close(early[0], maps[1])
        model.reset_classifier(10)
        assert model(x).shape == (1, 10) and model.num_classes == 10
        model.reset_classifier(0)
        assert model(x).shape == (1, 256)
    model.set_grad_checkpointing()
    blocks = [b for s in model.backbone.stages for b in s.blocks]
    assert all(block.with_cp for block in blocks)
    model.train()
    model.forward_features(x).sum().backward()
    assert model.backbone.stages[0].patch_embed.projection.weight.grad.any()


def test_bad_input_names_the_problem(tmp_path, lite_checkpoint):
    with pytest.raises(RuntimeError, match='sepvit_huge'):
        timm.create_model('sepvit_huge')
    for out_indices in ((0, 4), 5):
        with pytest.raises(ValueError, match='out_indices .* has 4, 0 to 3'):
            create(features_only=True, out_indices=out_indices)
    with pytest.raises(ValueError, match='not in_chans=1'):
        create(path=lite_checkpoint, in_chans=1)
    with pytest.raises(ValueError, match=r'pretrained_cfg_overlay=dict\('):
        create(pretrained=True)
    with pytest.raises(ValueError, match='img_size applies'):
        create(features_only=True, img_size=256)


def test_weights_of_another_model_are_refused(tmp_path):
    micro = save(tmp_path / 'micro.pth', create(arch=MICRO).state_dict())
    with pytest.raises(
            ValueError,
            match=r'does not fit TimmSepViT: missing 99: .*; '
            r'mismatched shapes 90: backbone.norm3.bias '
            r'\(checkpoint \(64,\), model \(256,\)\)'):
        create(path=micro)
    foreign = save(
        tmp_path / 'resnet.pth', {
            'conv1.weight': torch.zeros(64, 3, 7, 7),
            'fc.weight': torch.zeros(1000, 2048)
        })
    with pytest.raises(
            ValueError,
            match='does not fit TimmSepViT: missing '
            r'\d+: .*unexpected 2: conv1.weight, fc.weight'):
        create(path=foreign, features_only=True)
    released = save(tmp_path / 'released.pth',
                    {'patch_embeds.0.proj.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='official2mmsepvit.py first'):
        create(path=released)
    pickled = tmp_path / 'pickled.pth'
    torch.save(dict(state_dict={}, args=argparse.Namespace()), pickled)
    with pytest.raises(ValueError, match='argparse.Namespace to unpickle'):
        create(path=pickled)


NO_TIMM = """
import sys
class NoTimm:  # as if timm were not installed
    def find_spec(self, name, path=None, target=None):
        if name == 'timm':
            raise ModuleNotFoundError("No module named 'timm'", name=name)
sys.meta_path.insert(0, NoTimm())
import torch, mmsepvit
assert 'timm' not in sys.modules
print(mmsepvit.SepViT('lite')(torch.rand(1, 3, 32, 32))[0].shape)
"""


@pytest.mark.slow
def test_import_without_timm(run_tool):
    """``import mmsepvit`` works without timm."""
    assert '[1, 32, 8, 8]' in run_tool(ROOT, '-c', NO_TIMM)


@pytest.mark.slow
def test_transformers_in_their_own_environment():
    """transformers cannot share an environment with mmpretrain 1.2 (it
    breaks ``import mmpretrain.models``), so tools/env/setup.sh installs it
    apart, in .venv/transformers, and its tests
    (tests/transformers_env/check_transformers.py) run in a process that
    has it on its path. All of them must run and pass."""
    folder = Path(sys.executable).parents[1] / 'transformers'
    assert (folder / 'transformers').is_dir(), (
        f'transformers is not installed in {folder}: run tools/env/setup.sh')
    env = dict(os.environ, PYTHONPATH=str(folder), HF_HUB_OFFLINE='1')
    log = launch_python(
        '-m', 'pytest', '-p', 'no:cacheprovider', '-q', CHECKS, env=env).log
    summary = log.strip().splitlines()[-1]
    assert ' passed' in summary and 'skipped' not in summary, log[-3000:]


# The timm families, one row each: Shuffle and Dual-ViT join with a row.
@dataclasses.dataclass
class Family:
    prefix: str
    backbone: type
    config: str  # the mmpretrain classifier config of the entries
    micro: dict  # a micro arch of the backbone
    dense_kwargs: dict  # the dense backbone as the dense configs build it
    released: dict  # a state dict in the layout of the authors' code
    released_error: str  # what loading it says


FAMILIES = [
    Family('sepvit', SepViT, 'sepvit_lite_300e_in1k.py', MICRO, {},
           {'patch_embeds.0.proj.weight': torch.zeros(1)},
           'official2mmsepvit.py first'),
    Family(
        'msg', MSGTransformer, 'msg_t_300e_in1k.py',
        dict(
            embed_dims=[16, 32, 64, 128],
            num_heads=[1, 2, 4, 8],
            depths=[1, 1, 1, 1],
            region_sizes=[4, 4, 2, 1]), {}, {
                'msg_tokens': torch.zeros(1),
                'layers.0.blocks.0.norm1.weight': torch.zeros(1)
            }, 'msg2mmsepvit.py first'),
    Family(
        'shuffle', ShuffleTransformer, 'shuffle_t_300e_in1k.py',
        dict(
            embed_dims=[32, 64, 96, 128],
            num_heads=[1, 2, 3, 4],
            depths=[2, 2, 2, 2]), {}, {
                'to_token.conv1.weight': torch.zeros(1),
                'stage1.layers.0.0.norm1.weight': torch.zeros(1)
            }, 'shuffle2mmsepvit.py first'),
    # Stage 4 as wide as Dual-ViT-S's: the config's head has 14 heads.
    Family(
        'dualvit', DualViT, 'dualvit_s_300e_in1k.py',
        dict(
            stem_width=16,
            embed_dims=[16, 32, 48, 448],
            num_heads=[1, 2, 3, 14],
            depths=[1, 1, 1, 1],
            mlp_ratios=[8, 8, 4, 3]), {}, {
                'patch_embed1.proj.weight': torch.zeros(1),
                'block1.0.norm1.weight': torch.zeros(1)
            }, 'dualvit2mmsepvit.py first'),
]
by_prefix = pytest.mark.parametrize(
    'family', FAMILIES, ids=[f.prefix for f in FAMILIES])


def entries(family: Family) -> list:
    return [f'{family.prefix}_{v}' for v in timm_family(family).variants]


def timm_family(family: Family):
    from mmsepvit.models.timm import FAMILIES as TIMM_FAMILIES
    return TIMM_FAMILIES[family.prefix]


def config(family: Family, arch: dict = None) -> Config:
    cfg = Config.fromfile(str(ROOT / 'configs' / family.config))
    if arch is not None:
        cfg.model.backbone.arch = arch
        cfg.model.head.in_channels = arch['embed_dims'][-1]
    return cfg


def micro_checkpoint(family: Family, folder: Path, **kwargs) -> str:
    """Weights of the family's micro classifier (1000 classes)."""
    model = perturbed(create(entries(family)[0], arch=family.micro, **kwargs))
    return save(folder / f'{family.prefix}_micro.pth', model.state_dict())


@by_prefix
def test_family_entries_and_their_data_config(family):
    """Every variant has an entry, with the data config of the family's
    mmpretrain test pipeline, and its stages' channels and strides as
    feature_info (built on the meta device: free)."""
    names = entries(family)
    assert timm.list_models(f'{family.prefix}_*') == sorted(names)
    cfg = config(family)
    resize, crop = cfg.test_pipeline[1], cfg.test_pipeline[2]
    for name in names:
        data = timm.data.resolve_data_config(
            pretrained_cfg=timm.models.get_pretrained_cfg(name).to_dict())
        assert data['input_size'] == (3, crop.crop_size, crop.crop_size)
        assert data['crop_pct'] == pytest.approx(crop.crop_size / resize.scale)
        assert data['interpolation'] == resize.interpolation
        assert data['mean'] == pytest.approx(
            [v / 255 for v in cfg.data_preprocessor.mean])
        assert data['std'] == pytest.approx(
            [v / 255 for v in cfg.data_preprocessor.std])
        arch = family.backbone.arch_zoo[name.split('_', 1)[1]]
        with torch.device('meta'):
            features = timm.create_model(name, features_only=True)
            model = timm.create_model(name)
        assert features.feature_info.channels() == arch['embed_dims']
        assert features.feature_info.reduction() == [4, 8, 16, 32]
        assert model.num_features == arch['embed_dims'][-1]
        first_conv = model.pretrained_cfg['first_conv']
        assert isinstance(model.get_submodule(first_conv), torch.nn.Conv2d)


@by_prefix
def test_family_classifier_is_mmpretrains_model(tmp_path, family):
    """The entry's classifier is the mmpretrain model of the family's
    config: the same state-dict keys, and on the same weights (loaded
    through pretrained_cfg_overlay) the same logits and pooled features,
    with and without autograd."""
    init_default_scope('mmpretrain')
    try:
        from mmpretrain.registry import MODELS
        mm_model = MODELS.build(config(family, family.micro).model)
    except TypeError as error:  # NoneType takes no arguments
        pytest.skip(f'mmpretrain cannot import its models ({error}); see '
                    'docs/timm_and_transformers.md')
    mm_model = perturbed(mm_model)
    path = save(tmp_path / 'epoch_1.pth', mm_model.state_dict())
    model = create(entries(family)[0], arch=family.micro, path=path)
    state, mm_state = model.state_dict(), mm_model.state_dict()
    assert state.keys() == mm_state.keys()
    assert all(torch.equal(state[k], mm_state[k]) for k in state)
    x = torch.randn(2, 3, 224, 224)
    for grad in (False, True):
        with torch.set_grad_enabled(grad):
            logits = model(x)
            pooled = model.forward_head(
                model.forward_features(x), pre_logits=True)
            assert relative_error(logits, mm_model(x, mode='tensor')) < 1e-5
            assert relative_error(
                pooled,
                mm_model.head.pre_logits(mm_model.extract_feat(x))) < 1e-5
    assert logits.shape == (2, 1000)


@by_prefix
def test_family_features_only_is_the_dense_backbone(tmp_path, family):
    """features_only is the dense backbone built directly, both started
    from the same classifier checkpoint, at a size no classifier takes; it
    computes no stage after the last asked for, and every weight it keeps
    gets a gradient."""
    path = micro_checkpoint(family, tmp_path)
    features = create(
        entries(family)[0],
        arch=family.micro,
        path=path,
        features_only=True,
        out_indices=(0, 2))
    dense = family.backbone(
        arch=family.micro,
        out_indices=(0, 2),
        init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.'),
        **family.dense_kwargs)
    dense.init_weights()
    dense.eval()
    dims = family.micro['embed_dims']
    assert features.feature_info.channels() == [dims[0], dims[2]]
    assert features.feature_info.reduction() == [4, 16]
    x = torch.randn(1, 3, 96, 160)
    with torch.no_grad():
        maps, expected = features(x), dense(x)
    assert [tuple(m.shape) for m in maps] == [(1, dims[0], 24, 40),
                                              (1, dims[2], 6, 10)]
    for out, ref in zip(maps, expected, strict=True):
        assert relative_error(out, ref) < 1e-5
    # Pruned: stage 3 is gone, and nothing left is unused.
    assert not any(
        k.startswith('model.backbone.stages.3.')
        for k in features.state_dict())
    features.train()
    sum(m.sum() for m in features(x)).backward()
    unused = [n for n, p in features.named_parameters() if p.grad is None]
    assert not unused


@by_prefix
def test_family_bad_input_names_the_problem(tmp_path, family):
    name = entries(family)[0]
    with pytest.raises(RuntimeError, match=f'{family.prefix}_huge'):
        timm.create_model(f'{family.prefix}_huge')
    for out_indices in ((0, 4), 5):
        with pytest.raises(ValueError, match='out_indices .* has 4, 0 to 3'):
            create(
                name,
                arch=family.micro,
                features_only=True,
                out_indices=out_indices)
    path = micro_checkpoint(family, tmp_path)
    with pytest.raises(ValueError, match='not in_chans=1'):
        create(name, arch=family.micro, path=path, in_chans=1)
    with pytest.raises(ValueError, match=r'pretrained_cfg_overlay=dict\('):
        create(name, pretrained=True)
    with pytest.raises(ValueError, match='img_size applies'):
        create(name, arch=family.micro, features_only=True, img_size=256)
    # Weights of another size, another model, the release's layout.
    other = dict(
        family.micro, embed_dims=[d * 2 for d in family.micro['embed_dims']])
    with pytest.raises(
            ValueError,
            match=r'does not fit Timm\w+: mismatched shapes \d+: backbone\.'):
        create(name, arch=other, path=path)
    foreign = save(tmp_path / 'resnet.pth', {'fc.weight': torch.zeros(9, 2)})
    with pytest.raises(
            ValueError, match=r'missing \d+: .*unexpected 1: fc.weight'):
        create(name, arch=family.micro, path=foreign, features_only=True)
    released = save(tmp_path / 'released.pth', family.released)
    with pytest.raises(ValueError, match=family.released_error):
        create(name, arch=family.micro, path=released)


def test_msg_classifier_takes_any_size_and_no_img_size():
    """MSG-Transformer's classifier pads any input (it averages the stage-4
    MSG tokens), so its entries are not of a fixed size and refuse
    img_size."""
    arch = FAMILIES[1].micro
    model = create('msg_tiny', arch=arch, num_classes=10)
    assert not model.pretrained_cfg['fixed_input_size']
    with torch.no_grad():
        assert model(torch.randn(1, 3, 100, 260)).shape == (1, 10)
    with pytest.raises(ValueError, match='img_size applies'):
        create('msg_tiny', arch=arch, img_size=256)


class ClassAttentionHead(torch.nn.Module):
    """A head with weights of its own beside ``fc``, in mmpretrain's head
    interface (as Dual-ViT's DualViTClsHead)."""

    def __init__(self, in_channels: int, num_classes: int, drop_rate: float):
        super().__init__()
        self.norm = torch.nn.LayerNorm(in_channels)
        self.fc = torch.nn.Linear(in_channels, num_classes)

    def pre_logits(self, feats: tuple) -> torch.Tensor:
        return self.norm(feats[-1].mean((2, 3)))

    def forward(self, feats: tuple) -> torch.Tensor:
        return self.fc(self.pre_logits(feats))


def test_a_family_with_its_own_head(tmp_path, monkeypatch, request):
    """A family module of a few lines, with its own head: registered entries,
    the head under ``head.`` with its weights loaded and checked, a new
    classifier on reset, and none in features_only."""
    from mmsepvit.models.timm import TimmFamily, register_family
    module = types.ModuleType('toy_timm_family')
    monkeypatch.setitem(sys.modules, module.__name__, module)
    family = TimmFamily(
        prefix='toyfamily',
        name='Toy',
        backbone=MSGTransformer,
        variants=('tiny', ),
        classifier_kwargs=dict(out_indices=(3, )),
        dense_kwargs={},
        head=ClassAttentionHead,
        default_cfg=dict(input_size=(3, 224, 224)))
    from mmsepvit.models.timm.base import family_default_cfgs
    module.default_cfgs = family_default_cfgs(family)
    names = register_family(family, module.__name__)
    # Out of timm's registry again after the test (a private helper).
    clear = getattr(timm.models._registry, '_clear_model_entries', None)
    if clear is not None:
        request.addfinalizer(lambda: clear('toyfamily_tiny'))
    assert sorted(names) == ['TimmToy', 'toyfamily_tiny']
    arch = FAMILIES[1].micro
    model = perturbed(timm.create_model('toyfamily_tiny', arch=arch))
    assert {'head.norm.weight', 'head.fc.weight'} <= set(model.state_dict())
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        last = model.backbone(x)[-1]
        torch.testing.assert_close(
            model(x), model.head.fc(model.head.norm(last.mean((2, 3)))))
    path = save(tmp_path / 'toy.pth', model.state_dict())
    loaded = create('toyfamily_tiny', arch=arch, path=path)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
        few = create('toyfamily_tiny', arch=arch, path=path, num_classes=10)
        torch.testing.assert_close(few.head.norm.weight,
                                   model.head.norm.weight)
        assert few(x).shape == (1, 10)
        few.reset_classifier(0)
        torch.testing.assert_close(
            few(x), model.forward_head((last, ), pre_logits=True))
    features = create(
        'toyfamily_tiny', arch=arch, path=path, features_only=True)
    assert not any('head.' in k for k in features.state_dict())
