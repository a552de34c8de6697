# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Tile the predictions a demo drew into one PNG for the docs.

    bash tools/demo.sh
    .venv/bin/python tools/misc/demo_figure.py \\
        work_dirs/retinanet_sepvit_t_toy_coco docs/demo_detection.png
"""
import argparse
from pathlib import Path

from PIL import Image


def newest_drawings(work_dir: Path) -> list:
    """The images of the newest ``predictions`` folder under ``work_dir``
    (tools/test.py --show-dir predictions), by name."""
    folders = sorted(work_dir.rglob('predictions'), key=lambda p: str(p))
    if not folders:
        raise FileNotFoundError(f'no predictions folder under {work_dir}: run '
                                'tools/demo.sh first')
    images = sorted(p for p in folders[-1].rglob('*')
                    if p.suffix.lower() in ('.png', '.jpg', '.jpeg'))
    if not images:
        raise FileNotFoundError(f'{folders[-1]} holds no drawn images')
    return images


def tile(images: list, columns: int, side: int) -> Image.Image:
    """``images`` scaled to ``side`` pixels high, in rows of ``columns``."""
    tiles = []
    for path in images:
        image = Image.open(path).convert('RGB')
        width = round(image.width * side / image.height)
        tiles.append(image.resize((width, side), Image.LANCZOS))
    rows = [tiles[i:i + columns] for i in range(0, len(tiles), columns)]
    width = max(sum(t.width for t in row) for row in rows)
    sheet = Image.new('RGB', (width, side * len(rows)), 'white')
    for r, row in enumerate(rows):
        left = 0
        for t in row:
            sheet.paste(t, (left, r * side))
            left += t.width
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('work_dir', type=Path, help='the demo\'s work dir')
    parser.add_argument('out', type=Path, help='the PNG to write')
    parser.add_argument('--count', type=int, default=4, help='images shown')
    parser.add_argument('--columns', type=int, default=4)
    parser.add_argument('--side', type=int, default=256, help='tile height')
    args = parser.parse_args()
    images = newest_drawings(args.work_dir)[:args.count]
    # A 256-colour palette keeps the noisy toy backgrounds small on disk.
    tile(images, args.columns, args.side).quantize(colors=256).save(
        args.out, optimize=True)
    size = args.out.stat().st_size
    print(f'{args.out}: {len(images)} drawings, {size / 1024:.0f} KB')


if __name__ == '__main__':
    main()
