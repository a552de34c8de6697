from .backbones import MSGTransformer, MultiStageBackbone, SepViT
from .utils import convert_official_msg, convert_official_sepvit

__all__ = [
    'MSGTransformer', 'MultiStageBackbone', 'SepViT', 'convert_official_msg',
    'convert_official_sepvit'
]
