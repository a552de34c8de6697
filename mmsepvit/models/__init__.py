from .backbones import SepViT
from .utils import convert_official_sepvit

__all__ = ['SepViT', 'convert_official_sepvit']
