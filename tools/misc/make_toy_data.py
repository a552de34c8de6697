# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Generate a small deterministic toy dataset (no download)."""
import argparse

from mmsepvit.datasets import make_toy_ade20k, make_toy_coco, make_toy_imagenet

MAKERS = dict(
    coco=make_toy_coco, ade20k=make_toy_ade20k, imagenet=make_toy_imagenet)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('kind', choices=sorted(MAKERS), help='dataset format')
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument(
        '--num-train', type=int, help='training images (default: per kind)')
    parser.add_argument(
        '--num-val', type=int, help='validation images (default: per kind)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    counts = dict(num_train=args.num_train, num_val=args.num_val)
    MAKERS[args.kind](
        args.out_dir,
        seed=args.seed,
        **{
            k: v
            for k, v in counts.items() if v is not None
        })
    print(f'Toy {args.kind} dataset in {args.out_dir}')


if __name__ == '__main__':
    main()
