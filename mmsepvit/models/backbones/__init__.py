from .base_backbone import MultiStageBackbone
from .dualvit import DualViT, DualViTClsHead
from .msg_transformer import MSGTransformer
from .sepvit import SepViT
from .shuffle_transformer import ShuffleTransformer

__all__ = [
    'DualViT', 'DualViTClsHead', 'MSGTransformer', 'MultiStageBackbone',
    'SepViT', 'ShuffleTransformer'
]
