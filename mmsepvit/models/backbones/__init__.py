from .sepvit import SepViT

__all__ = ['SepViT']
