"""The documentation points at what exists: the README stays a front door,
every relative link and every printed path of the repository resolves, the
committed plots stay small, and the model index and the configs' README list
exactly the configs, with the recipes the configs hold."""
import itertools
import re
from pathlib import Path
from typing import Iterator, List

import pytest
from mmengine.config import Config
from modelindex.load_model_index import load

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
CONFIGS_README = ROOT / 'configs' / 'README.md'
DOCS = sorted((ROOT / 'docs').glob('*.md'))
MARKDOWN = [README, ROOT / 'CHANGELOG.md', CONFIGS_README, *DOCS]
PNG_LIMIT = 300 * 1024

# [text](target) and ![alt](target); the target ends at a space or ')'.
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)')
# A path of this repository as printed, braces and '*' included; not the
# tail of a longer path such as <package>/.mim/tools/train.py.
PRINTED_PATH = re.compile(
    r'(?<![\w./-])((?:configs|docs|mmsepvit|tests|tools)/[\w./{},*-]+)')
CONFIG_ROW = re.compile(r'^\| `(\w+\.py)` \|')


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def configs() -> List[str]:
    """The configs users train: configs/*.py, not toy/ or _base_/."""
    return sorted(path.name for path in (ROOT / 'configs').glob('*.py'))


def relative_links(path: Path) -> Iterator[str]:
    """Link targets in a Markdown file that are paths in this repository."""
    for target in LINK.findall(path.read_text()):
        target = target.split('#')[0]
        if target and not re.match(r'[a-z]+:', target):
            yield target


def expand_braces(path: str) -> List[str]:
    """``a_{t,s}_b`` -> ``a_t_b``, ``a_s_b`` (shell brace expansion)."""
    parts = re.split(r'\{([^{}]*)\}', path)
    choices = [[part] if i % 2 == 0 else part.split(',')
               for i, part in enumerate(parts)]
    return [''.join(pieces) for pieces in itertools.product(*choices)]


def test_readme_is_a_front_door():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f'README.md has {len(lines)} lines (at most 200)'


@pytest.mark.parametrize('path', MARKDOWN, ids=relative)
def test_relative_links_resolve(path):
    assert path.is_file(), f'{path} is missing'
    broken = [
        target for target in relative_links(path)
        if not (path.parent / target).exists()
    ]
    assert not broken, f'{relative(path)} links to missing {broken}'


@pytest.mark.parametrize('path', MARKDOWN, ids=relative)
def test_printed_paths_exist(path):
    printed = sorted(set(PRINTED_PATH.findall(path.read_text())))
    missing = [
        pattern for pattern in printed
        for expanded in expand_braces(pattern.rstrip('.,'))
        if not any(ROOT.glob(expanded))
    ]
    assert not missing, f'{relative(path)} prints missing {missing}'


def test_committed_plots_are_small():
    large = {
        relative(png): png.stat().st_size
        for png in (ROOT / 'docs').rglob('*.png')
        if png.stat().st_size > PNG_LIMIT
    }
    assert not large, f'PNGs over 300 KB: {large}'


# Each config's family, from its name, and the collection it belongs to.
COLLECTIONS = {
    'sepvit': 'SepViT',
    'dualvit': 'DualViT',
    'shuffle': 'Shuffle Transformer',
    'msg': 'MSG-Transformer'
}


def test_model_index_names_every_config():
    index = load(str(ROOT / 'model-index.yml'))
    index.build_models_with_collections()
    names = [model.name for model in index.models]
    assert len(names) == len(set(names)), f'repeated names in {names}'
    paths = sorted(model.config for model in index.models)
    assert paths == [f'configs/{name}' for name in configs()]
    for model in index.models:
        assert Path(model.config).stem == model.name
        family = next(k for k in COLLECTIONS if f'{k}_' in model.name)
        assert model.in_collection == COLLECTIONS[family]
        assert not model.results and not model.weights, model.name
    assert sorted(c.name
                  for c in index.collections) == sorted(COLLECTIONS.values())
    for collection in index.collections:
        assert collection.readme_content() == CONFIGS_README.read_text()
    assert index.check(silent=True) == []


def config_rows() -> List[List[str]]:
    """The cells of the configs table in configs/README.md."""
    rows = []
    for line in CONFIGS_README.read_text().splitlines():
        if CONFIG_ROW.match(line):
            rows.append([cell.strip(' `') for cell in line.split('|')[1:-1]])
    return rows


def test_configs_readme_lists_every_config():
    listed = [row[0] for row in config_rows()]
    assert len(listed) == len(set(listed)), f'repeated rows in {listed}'
    assert sorted(listed) == configs()


@pytest.mark.parametrize('row', config_rows(), ids=lambda row: row[0])
def test_configs_readme_states_each_recipe(row):
    name, _, schedule, _, lr, weight_decay, drop_path = row
    cfg = Config.fromfile(str(ROOT / 'configs' / name))
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.lr == pytest.approx(float(lr))
    assert optimizer.weight_decay == pytest.approx(float(weight_decay))
    assert cfg.model.backbone.drop_path_rate == pytest.approx(float(drop_path))
    by_epoch = 'max_epochs' in cfg.train_cfg
    length = cfg.train_cfg.max_epochs if by_epoch else cfg.train_cfg.max_iters
    count, unit = schedule.split(',')[0].split()
    assert int(count.replace('K', '000')) == length, (name, length)
    assert unit == ('epochs' if by_epoch else 'iterations'), name
