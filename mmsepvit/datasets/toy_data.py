# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Small deterministic datasets drawn in code, for demos and tests.

Each image shows a few filled shapes (the classes) of several sizes and random
bright colours on varied dark backgrounds.
"""
import json
import os
import os.path as osp
from typing import Dict, List

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


def draw_shapes(rng: np.random.Generator, image: np.ndarray,
                max_objects: int) -> List[dict]:
    """Draw 1 to ``max_objects`` non-overlapping shapes onto ``image``.

    Returns:
        list[dict]: Per shape its class index ``label``, ``polygons`` (COCO
        layout) and binary ``mask``.
    """
    size = image.shape[0]
    objects, placed = [], []
    for _ in range(rng.integers(1, max_objects + 1)):
        label = int(rng.integers(len(SHAPES)))
        radius = size * rng.choice([0.12, 0.18, 0.26]) * rng.uniform(
            0.85, 1.15)
        for _attempt in range(20):
            cx, cy = rng.uniform(radius, size - radius, 2)
            if all(
                    np.hypot(cx - x, cy - y) > radius + r + 2
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
        mask = np.zeros(image.shape[:2], np.uint8)
        cv2.fillPoly(mask, [points], 1)
        objects.append(
            dict(
                label=label, mask=mask,
                polygons=[points.reshape(-1).tolist()]))
    return objects


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
            if info.get('generator') == _generator_id(
                    'coco',
                    count=count,
                    size=size,
                    max_objects=max_objects,
                    seed=split_seed):
                continue
        rng = np.random.default_rng(split_seed)
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, annotations = [], []
        for image_id in range(count):
            image = _background(rng, size)
            objects = draw_shapes(rng, image, max_objects)
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
                        generator=_generator_id(
                            'coco',
                            count=count,
                            size=size,
                            max_objects=max_objects,
                            seed=split_seed)),
                    images=images,
                    annotations=annotations,
                    categories=[
                        dict(id=i + 1, name=name)
                        for i, name in enumerate(SHAPES)
                    ]), f)
    return ann_files


ADE_CLASSES = ('wall', 'floor') + SHAPES


def _stripes(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    low, high = rng.integers(20, 150, 3), rng.integers(20, 150, 3)
    period = rng.uniform(5, 14)
    t = ((np.arange(width) // period) % 2)[None, :, None]
    return np.broadcast_to(low * (1 - t) + high * t, (height, width, 3))


def make_toy_ade20k(root: str,
                    num_train: int = 320,
                    num_val: int = 60,
                    size: int = 128,
                    max_objects: int = 3,
                    seed: int = 0) -> str:
    """Write an ADE20K-format semantic segmentation dataset.

    Layout as ADEChallengeData2016: ``images/{training,validation}/*.jpg`` and
    ``annotations/{training,validation}/*.png``. Label 0 is "other" (here a
    dark blob, reduced away by ``reduce_zero_label``); 1..5 are
    :data:`ADE_CLASSES`: a smooth wall above a striped floor, and shapes. The
    same arguments always give the same files; a complete dataset is kept.

    Returns:
        str: ``root``.
    """
    generator = _generator_id(
        'ade20k',
        num_train=num_train,
        num_val=num_val,
        size=size,
        max_objects=max_objects,
        seed=seed)
    if _is_current(root, generator):
        return root
    for split, count, split_seed in (('training', num_train, seed),
                                     ('validation', num_val, seed + 1)):
        rng = np.random.default_rng(split_seed)
        for folder in ('images', 'annotations'):
            os.makedirs(osp.join(root, folder, split), exist_ok=True)
        for index in range(count):
            horizon = int(size * rng.uniform(0.35, 0.7))
            image = _background(rng, size)
            image[horizon:] = _stripes(rng, size - horizon, size)
            label = np.ones((size, size), np.uint8)
            label[horizon:] = 2
            if rng.uniform() < 0.5:  # an unlabelled "other" region
                centre = tuple(int(c) for c in rng.integers(0, size, 2))
                axes = tuple(int(a) for a in rng.integers(6, size // 5, 2))
                cv2.ellipse(image, centre, axes, 0, 0, 360, (15, 15, 15), -1)
                cv2.ellipse(label, centre, axes, 0, 0, 360, 0, -1)
            for obj in draw_shapes(rng, image, max_objects):
                label[obj['mask'] > 0] = 3 + obj['label']
            name = f'{split}_{index:05d}'
            cv2.imwrite(
                osp.join(root, 'images', split, name + '.jpg'), image,
                [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(
                osp.join(root, 'annotations', split, name + '.png'), label)
    with open(osp.join(root, 'generator.txt'), 'w') as f:
        f.write(generator)
    return root


IMAGENET_CLASSES = SHAPES + ('stripes', 'checks')

# Like the shapes, each texture has a colour of its own (BGR), varied per
# image.
TEXTURE_COLOURS = dict(stripes=(40, 200, 220), checks=(200, 60, 200))


def _texture(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """The texture's colour and a random dark one in stripes at a random
    angle, or in a rotated checkerboard, with a random period."""
    low = rng.integers(0, 100, 3)
    high = np.clip(
        np.array(TEXTURE_COLOURS[kind]) + rng.integers(-30, 31, 3), 0, 255)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    angle = rng.uniform(0, np.pi)
    u = np.cos(angle) * xx + np.sin(angle) * yy
    period = rng.uniform(6, 16)
    t = (u // period) % 2
    if kind == 'checks':
        v = -np.sin(angle) * xx + np.cos(angle) * yy
        t = (t + v // period) % 2
    image = low * (1 - t[..., None]) + high * t[..., None]
    return np.clip(image + rng.normal(0, 5, image.shape), 0,
                   255).astype(np.uint8)


def _tiled_shapes(rng: np.random.Generator, shape: str, label: int,
                  size: int) -> np.ndarray:
    """A jittered grid of one shape over a background, so that any crop of
    the image still shows its class."""
    image = _background(rng, size)
    period = rng.uniform(10, 16)
    colour = np.clip(
        np.array(CLASS_COLOURS[label]) + rng.integers(-30, 31, 3), 0, 255)
    offset = rng.uniform(0, period, 2)
    for cy in np.arange(offset[0] - period, size + period, period):
        for cx in np.arange(offset[1] - period, size + period, period):
            radius = period * rng.uniform(0.25, 0.4)
            centre = np.array([cx, cy]) + rng.uniform(-1.5, 1.5, 2)
            points = _polygon(rng, shape, *centre, radius).round()
            cv2.fillPoly(image, [points.astype(np.int32)],
                         tuple(int(c) for c in colour))
    return image


def make_toy_imagenet(root: str,
                      num_train: int = 400,
                      num_val: int = 100,
                      size: int = 64,
                      seed: int = 0) -> str:
    """Write an ImageNet-style classification dataset: one folder per class.

    Layout: ``{train,val}/<class>/*.png`` with the classes of
    :data:`IMAGENET_CLASSES`, evenly split: a grid of one shape on a
    background, or a texture; both fill the image, so random crops keep the
    class. The same arguments always give the same
    files; a complete dataset is kept.

    Returns:
        str: ``root``.
    """
    generator = _generator_id(
        'imagenet', num_train=num_train, num_val=num_val, size=size, seed=seed)
    if _is_current(root, generator):
        return root
    for split, count, split_seed in (('train', num_train, seed),
                                     ('val', num_val, seed + 1)):
        rng = np.random.default_rng(split_seed)
        for name in IMAGENET_CLASSES:
            os.makedirs(osp.join(root, split, name), exist_ok=True)
        for index in range(count):
            label = index % len(IMAGENET_CLASSES)
            name = IMAGENET_CLASSES[label]
            if name in SHAPES:
                image = _tiled_shapes(rng, name, label, size)
            else:
                image = _texture(rng, name, size)
            cv2.imwrite(osp.join(root, split, name, f'{index:05d}.png'), image)
    with open(osp.join(root, 'generator.txt'), 'w') as f:
        f.write(generator)
    return root


def _is_current(root: str, generator: str) -> bool:
    """Whether ``root`` holds a complete dataset drawn by ``generator``."""
    marker = osp.join(root, 'generator.txt')
    if not osp.isfile(marker):
        return False
    with open(marker) as f:
        return f.read() == generator


def _generator_id(kind: str, **params) -> str:
    # Bump the version whenever the drawing changes, so old data is redrawn.
    return f'mmsepvit-toy-{kind} v3 ' + ' '.join(
        f'{name}={value}' for name, value in params.items())
