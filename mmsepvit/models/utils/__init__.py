from .ckpt_convert import convert_official_sepvit
from .msg_convert import convert_official_msg

__all__ = ['convert_official_msg', 'convert_official_sepvit']
