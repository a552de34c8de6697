# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Evaluate a checkpoint: COCO mAP, ADE20K mIoU or ImageNet accuracy, as the
config's evaluator says."""
import argparse
import os.path as osp

from mmengine.config import Config, ConfigDict

import mmsepvit  # noqa: F401  (registers SepViT; allows mmengine checkpoints)
from mmsepvit.utils.tool_config import (build_runner, load_tool_config,
                                        tool_argument_parser)


def parse_args() -> argparse.Namespace:
    parser = tool_argument_parser(__doc__)
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='dump the raw predictions to this pickle file')
    parser.add_argument(
        '--show-dir', help='draw predictions into images under the work dir')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    return parser.parse_args()


def enable_drawing(cfg: Config, show_dir: str) -> None:
    """Turn on the codebase's visualisation hook for the test loop."""
    hooks = cfg.default_hooks
    if 'visualization' not in hooks:
        raise ValueError('the config has no default_hooks.visualization, '
                         'needed by --show-dir')
    hook = hooks.visualization
    hook.interval = 1  # every image
    if cfg.default_scope == 'mmpretrain':
        hook.enable = True
        hook.out_dir = osp.join(cfg.work_dir, show_dir)
    else:  # mmdet and mmseg
        hook.draw = True
        if cfg.default_scope == 'mmdet':
            hook.test_out_dir = show_dir  # under WORK_DIR/TIMESTAMP
        else:
            cfg.visualizer.save_dir = osp.join(cfg.work_dir, show_dir)


def enable_dumping(cfg: Config, out: str) -> None:
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl file, got {out}')
    dump = ConfigDict(
        type='DumpDetResults'
        if cfg.default_scope == 'mmdet' else 'DumpResults',
        out_file_path=out)
    evaluator = cfg.test_evaluator
    if isinstance(evaluator, (list, tuple)):
        cfg.test_evaluator = [*evaluator, dump]
    else:
        cfg.test_evaluator = [evaluator, dump]


def enable_tta(cfg: Config) -> None:
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        raise ValueError('the config has no tta_model and tta_pipeline, '
                         'needed by --tta')
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def main() -> None:
    args = parse_args()
    cfg = load_tool_config(args)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
    cfg.load_from = args.checkpoint  # SafeRunner.test loads it strictly

    if args.show_dir:
        enable_drawing(cfg, args.show_dir)
    if args.out:
        enable_dumping(cfg, args.out)
    if args.tta:
        enable_tta(cfg)

    build_runner(cfg).test()


if __name__ == '__main__':
    main()
