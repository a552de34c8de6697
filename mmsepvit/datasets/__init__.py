from .toy_data import (ADE_CLASSES, IMAGENET_CLASSES, SHAPES, make_toy_ade20k,
                       make_toy_coco, make_toy_imagenet)

__all__ = [
    'ADE_CLASSES', 'IMAGENET_CLASSES', 'SHAPES', 'make_toy_ade20k',
    'make_toy_coco', 'make_toy_imagenet'
]
