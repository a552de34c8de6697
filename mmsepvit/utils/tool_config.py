# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""What the tools do besides parsing their arguments: the config with its
overrides, work dir and launcher, the options of ``tools/train.py`` and
``tools/test.py``, and the runner."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.hub import get_config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .codebases import codebase_of


def config_argument_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``config`` and ``--cfg-options``, the arguments of
    every tool that reads a config."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        'config',
        help="config file, or an installed package's config as "
        'PACKAGE::PATH (e.g. mmdet::swin/retinanet_swin-t-p4-w7_fpn_1x_'
        'coco.py)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.backbone.with_cp=True')
    return parser


def read_config(args: argparse.Namespace) -> Config:
    """``args.config`` (a file, or ``package::path`` in an installed
    OpenMMLab package) with ``args.cfg_options`` merged in."""
    if '::' in args.config:
        package = args.config.split('::')[0]
        if package not in MODULE2PACKAGE:
            raise ValueError(
                f'{args.config}: mmengine reads PACKAGE::PATH configs of '
                f"{', '.join(sorted(MODULE2PACKAGE))}, not {package!r}")
        cfg = get_config(args.config)
    else:
        cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def tool_argument_parser(description: str) -> argparse.ArgumentParser:
    """:func:`config_argument_parser` with ``--work-dir``, ``--launcher``
    and ``--local-rank``; tools add their own arguments."""
    parser = config_argument_parser(description)
    parser.add_argument(
        '--work-dir',
        help='where logs, checkpoints and metrics go (default: '
        'work_dirs/CONFIG_NAME)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def load_tool_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with the shared arguments applied."""
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = read_config(args)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type`` (every mmsepvit config names
    ``SafeRunner``), or ``SafeRunner`` for a config that names none."""
    if 'runner_type' not in cfg:
        cfg.runner_type = 'SafeRunner'
    return RUNNERS.build(cfg)


def apply_train_options(cfg: Config, args: argparse.Namespace) -> None:
    """``tools/train.py``'s ``--amp``, ``--auto-scale-lr`` and ``--resume``.

    Raises:
        ValueError: ``--auto-scale-lr`` without
            ``auto_scale_lr.base_batch_size`` in the config.
        FileNotFoundError: The ``--resume`` checkpoint does not exist.
    """
    if args.amp:  # SafeRunner makes it bf16 autocast on CPUs
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in \
                cfg.auto_scale_lr:
            raise ValueError(f'{args.config} has no auto_scale_lr.'
                             'base_batch_size, needed by --auto-scale-lr')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':  # the latest checkpoint in the work dir
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume checkpoint not found: '
                                    f'{args.resume}')
        cfg.resume = True
        cfg.load_from = args.resume


def apply_test_options(cfg: Config, args: argparse.Namespace) -> None:
    """``tools/test.py``'s checkpoint, ``--show-dir``, ``--out`` and
    ``--tta``.

    Raises:
        FileNotFoundError: The checkpoint does not exist.
        ValueError: The config lacks what an option needs, or ``--out`` is
            no pickle file.
    """
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint  # SafeRunner.test loads it strictly

    if args.show_dir:
        enable_drawing(cfg, args.show_dir)
    if args.out:
        enable_dumping(cfg, args.out)
    if args.tta:
        enable_tta(cfg)


def enable_drawing(cfg: Config, show_dir: str) -> None:
    """Turn on the codebase's visualisation hook for the test loop, drawing
    every image into ``show_dir``."""
    codebase = codebase_of(cfg, '--show-dir')
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise ValueError('the config has no default_hooks.visualization, '
                         'needed by --show-dir')
    hooks.visualization.interval = 1  # every image
    hooks.visualization[codebase.show_flag] = True
    if codebase.show_dir_in_work_dir:
        show_dir = osp.join(cfg.work_dir, show_dir)
    cfg.merge_from_dict({codebase.show_dir_key: show_dir})


def enable_dumping(cfg: Config, out: str) -> None:
    """Add the codebase's metric that pickles the raw predictions to
    ``out``."""
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl file, got {out}')
    dump = ConfigDict(
        type=codebase_of(cfg, '--out').dump_metric, out_file_path=out)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, (list, tuple)):
        cfg.test_evaluator = [*evaluator, dump]
    else:
        cfg.test_evaluator = [evaluator, dump]


def enable_tta(cfg: Config) -> None:
    """Test with the config's ``tta_model`` and ``tta_pipeline``."""
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise ValueError('the config has no tta_model and tta_pipeline, '
                         'needed by --tta')
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
