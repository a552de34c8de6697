from .base_backbone import MultiStageBackbone
from .sepvit import SepViT

__all__ = ['MultiStageBackbone', 'SepViT']
