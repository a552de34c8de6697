# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""What the tools share: config, overrides, work dir, launcher and the
runner."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner


def config_argument_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``config`` and ``--cfg-options``, the arguments of
    every tool that reads a config."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.backbone.with_cp=True')
    return parser


def read_config(args: argparse.Namespace) -> Config:
    """``args.config`` with ``args.cfg_options`` merged in."""
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
