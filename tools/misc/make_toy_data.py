# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Generate a small deterministic toy dataset (no download)."""
import argparse

from mmsepvit.datasets import make_toy_coco


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('kind', choices=['coco'], help='dataset format')
    parser.add_argument('out_dir', help='dataset root to write')
    parser.add_argument('--num-train', type=int, default=320)
    parser.add_argument('--num-val', type=int, default=60)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    files = make_toy_coco(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        seed=args.seed)
    print(f'Toy COCO dataset in {args.out_dir}: {files}')


if __name__ == '__main__':
    main()
