from .base_backbone import MultiStageBackbone
from .sepvit import SepViT
from .shuffle_transformer import ShuffleTransformer

__all__ = ['MultiStageBackbone', 'SepViT', 'ShuffleTransformer']
