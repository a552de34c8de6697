from .toy_data import SHAPES, make_toy_coco

__all__ = ['SHAPES', 'make_toy_coco']
