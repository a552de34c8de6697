# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Small deterministic datasets drawn in code, for demos and tests.

Each image shows a few filled shapes (the classes) of several sizes and random
bright colours on varied dark backgrounds.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

SHAPES = ('square', 'circle', 'triangle')


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A dark, smooth background: a two-colour gradient in a random direction
    with a soft blob and sensor-like noise."""
    low, high = rng.integers(0, 140, 3), rng.integers(0, 140, 3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * np.pi)
    t = np.cos(angle) * xx + np.sin(angle) * yy
    t = ((t - t.min()) / (np.ptp(t) + 1e-6))[..., None]
    image = low * (1 - t) + high * t
    cy, cx = rng.uniform(0, 1, 2)
    blob = np.exp(-((yy - cy)**2 + (xx - cx)**2) / rng.uniform(0.02, 0.1))
    image = image + blob[..., None] * rng.integers(-40, 40, 3)
    return np.clip(image + rng.normal(0, 5, image.shape), 0,
                   255).astype(np.uint8)


def _polygon(rng: np.random.Generator, shape: str, cx: float, cy: float,
             radius: float) -> np.ndarray:
    if shape == 'square':
        angles = np.pi / 4 + np.arange(4) * np.pi / 2
    elif shape == 'triangle':
        angles = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    else:
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    angles = angles + rng.uniform(-0.3, 0.3) * (shape != 'circle')
    return np.stack(
        [cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)


# A base colour per class (BGR), varied per object, so that colour and shape
# both tell the class apart.
CLASS_COLOURS = ((70, 70, 225), (70, 215, 90), (220, 140, 60))


def draw_toy_image(rng: np.random.Generator, size: int,
                   max_objects: int) -> Tuple[np.ndarray, List[dict]]:
    """One BGR image and its objects: class index, polygons and mask.

    Objects do not overlap; a placement that would is tried again.
    """
    image = _background(rng, size)
    objects, placed = [], []
    for _ in range(rng.integers(1, max_objects + 1)):
        label = int(rng.integers(len(SHAPES)))
        radius = size * rng.choice([0.12, 0.18, 0.26]) * rng.uniform(
            0.85, 1.15)
        for _attempt in range(20):
            cx, cy = rng.uniform(radius, size - radius, 2)
            if all(np.hypot(cx - x, cy - y) > radius + r + 2
                   for x, y, r in placed):
                break
        else:
            continue
        placed.append((cx, cy, radius))
        points = np.round(_polygon(rng, SHAPES[label], cx, cy,
                                   radius)).astype(np.int32)
        colour = np.clip(
            np.array(CLASS_COLOURS[label]) + rng.integers(-30, 31, 3), 0, 255)
        cv2.fillPoly(image, [points], tuple(int(c) for c in colour))
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [points], 1)
        objects.append(
            dict(label=label, mask=mask, polygons=[points.reshape(-1).tolist()]))
    return image, objects


def make_toy_coco(root: str,
                  num_train: int = 320,
                  num_val: int = 60,
                  size: int = 128,
                  max_objects: int = 3,
                  seed: int = 0) -> Dict[str, str]:
    """Write a COCO-format detection and instance-segmentation dataset.

    Layout: ``root/{train,val}/*.png`` and
    ``root/annotations/instances_{train,val}.json``. The same arguments always
    give the same files; a dataset already complete is left as it is.

    Returns:
        dict: Paths of the two annotation files.
    """
    ann_files = {}
    for split, count, split_seed in (('train', num_train, seed),
                                     ('val', num_val, seed + 1)):
        ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
        ann_files[split] = ann_file
        if osp.isfile(ann_file):
            with open(ann_file) as f:
                info = json.load(f).get('info', {})
            if info.get('generator') == _generator_id(count, size, max_objects,
                                                      split_seed):
                continue
        rng = np.random.default_rng(split_seed)
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for image_id in range(count):
            image, objects = draw_toy_image(rng, size, max_objects)
            name = f'{split}/{image_id:05d}.png'
            cv2.imwrite(osp.join(root, name), image)
            images.append(
                dict(id=image_id, file_name=name, height=size, width=size))
            for obj in objects:
                ys, xs = np.nonzero(obj['mask'])
                x0, y0 = int(xs.min()), int(ys.min())
                w, h = int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=image_id,
                        category_id=obj['label'] + 1,
                        bbox=[x0, y0, w, h],
                        area=int(obj['mask'].sum()),
                        segmentation=obj['polygons'],
                        iscrowd=0))
        os.makedirs(osp.dirname(ann_file), exist_ok=True)
        with open(ann_file, 'w') as f:
            json.dump(
                dict(
                    info=dict(
                        generator=_generator_id(count, size, max_objects,
                                                split_seed)),
                    images=images,
                    annotations=annotations,
                    categories=[
                        dict(id=i + 1, name=name)
                        for i, name in enumerate(SHAPES)
                    ]), f)
    return ann_files


def _generator_id(count: int, size: int, max_objects: int, seed: int) -> str:
    # Bump the version whenever the drawing changes, so old data is redrawn.
    return f'mmsepvit-toy-coco v3 count={count} size={size} ' \
           f'max_objects={max_objects} seed={seed}'
