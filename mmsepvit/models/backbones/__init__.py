from .base_backbone import MultiStageBackbone
from .msg_transformer import MSGTransformer
from .sepvit import SepViT
from .shuffle_transformer import ShuffleTransformer

__all__ = ['MSGTransformer', 'MultiStageBackbone', 'SepViT', 'ShuffleTransformer']
