# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The three OpenMMLab codebases a config can belong to, in one table.

A config's ``default_scope`` names its codebase; export, FLOP counting and
``tools/test.py`` read what differs between them from here.
"""
import importlib
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from mmengine.config import Config


@dataclass(frozen=True)
class Codebase:
    """What mmsepvit needs to know about one codebase.

    Attributes:
        scope (str): The registry scope and package name.
        task (str): What its models are, for messages ('detector', ...).
        base_module (str): Module holding the models' base class.
        base_class (str): Name of that base class.
        paper_shape (tuple[int, int]): The input height and width at which
            the paper counts FLOPs (ImageNet, COCO, ADE20K).
        dump_metric (str): The metric type that pickles raw predictions.
        show_flag (str): The visualisation hook's switch for drawing test
            predictions ('draw' or 'enable').
        show_dir_key (str): The config key that takes the folder the
            drawings go to.
        show_dir_in_work_dir (bool): Whether ``tools/test.py`` puts that
            folder in the work dir itself; mmdet's hook puts it in
            WORK_DIR/TIMESTAMP.
    """
    scope: str
    task: str
    base_module: str
    base_class: str
    paper_shape: Tuple[int, int]
    dump_metric: str
    show_flag: str
    show_dir_key: str
    show_dir_in_work_dir: bool

    def base(self) -> type:
        """The base class every model of this codebase derives from."""
        return getattr(
            importlib.import_module(self.base_module), self.base_class)


# yapf: disable
CODEBASES: Dict[str, Codebase] = {
    codebase.scope: codebase for codebase in (
        Codebase('mmpretrain', 'classifier', 'mmpretrain.models.classifiers',
                 'BaseClassifier', (224, 224), 'DumpResults', 'enable',
                 'default_hooks.visualization.out_dir', True),
        Codebase('mmdet', 'detector', 'mmdet.models.detectors',
                 'BaseDetector', (800, 1280), 'DumpDetResults', 'draw',
                 'default_hooks.visualization.test_out_dir', False),
        Codebase('mmseg', 'segmentor', 'mmseg.models.segmentors',
                 'BaseSegmentor', (512, 2048), 'DumpResults', 'draw',
                 'visualizer.save_dir', True),
    )
}
# yapf: enable


def codebase_of(cfg: Config, purpose: Optional[str] = None) -> Codebase:
    """The codebase of ``cfg``, from its ``default_scope``.

    Raises:
        ValueError: The scope is none of the three, naming the config, the
            scope and (if given) what the codebase was needed for.
    """
    scope = cfg.get('default_scope')
    if scope not in CODEBASES:
        source = getattr(cfg, 'filename', None) or 'the config'
        raise ValueError(
            f'{source} has default_scope {scope!r}; {purpose or "mmsepvit"} '
            f'needs one of '
            f'{sorted(CODEBASES)} (classifiers, detectors and segmentors)')
    return CODEBASES[scope]


def find_forked_config_packages() -> Dict[str, str]:
    """Point mmengine's ``package::`` config lookup at the installed
    distribution of each codebase whose expected one is absent.

    mmengine resolves ``mmseg::`` bases through the distribution named in its
    ``MODULE2PACKAGE`` table, 'mmsegmentation'; the maintained fork installs
    the same ``mmseg`` module as 'onedl-mmsegmentation', and onedl-mmengine
    kept the table, so every ``mmseg::`` config stopped with 'mmsegmentation
    is not installed'. Where the table's distribution is missing and exactly
    one installed distribution provides the module, the table gets that one;
    with the expected distribution installed nothing changes.

    Returns:
        dict: The modules remapped, to their distributions.
    """
    from importlib.metadata import (PackageNotFoundError,
                                    packages_distributions, version)

    from mmengine.config.utils import MODULE2PACKAGE

    remapped = {}
    providers = None
    for module in CODEBASES:
        try:
            version(MODULE2PACKAGE[module])
            continue
        except (KeyError, PackageNotFoundError):
            pass
        if providers is None:
            providers = packages_distributions()
        found = sorted(set(providers.get(module, [])))
        if len(found) == 1:
            MODULE2PACKAGE[module] = remapped[module] = found[0]
    return remapped
