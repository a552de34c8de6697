from .base_backbone import MultiStageBackbone
from .msg_transformer import MSGTransformer
from .sepvit import SepViT

__all__ = ['MultiStageBackbone', 'MSGTransformer', 'SepViT']
