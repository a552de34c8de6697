from .ckpt_convert import convert_official_sepvit
from .dualvit_convert import convert_official_dualvit

__all__ = ['convert_official_dualvit', 'convert_official_sepvit']
