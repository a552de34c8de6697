from .base_backbone import MultiStageBackbone
from .dualvit import DualViT, DualViTClsHead
from .sepvit import SepViT

__all__ = ['DualViT', 'DualViTClsHead', 'MultiStageBackbone', 'SepViT']
