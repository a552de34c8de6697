from .backbones import (DualViT, DualViTClsHead, MSGTransformer,
                        MultiStageBackbone, SepViT, ShuffleTransformer)
from .utils import (convert_official_dualvit, convert_official_msg,
                    convert_official_sepvit, convert_official_shuffle)

__all__ = [
    'DualViT', 'DualViTClsHead', 'MSGTransformer', 'MultiStageBackbone',
    'SepViT', 'ShuffleTransformer', 'convert_official_dualvit',
    'convert_official_msg', 'convert_official_sepvit',
    'convert_official_shuffle'
]
