from .ckpt_convert import convert_official_sepvit
from .dualvit_convert import convert_official_dualvit
from .msg_convert import convert_official_msg
from .shuffle_convert import convert_official_shuffle

__all__ = [
    'convert_official_dualvit', 'convert_official_msg',
    'convert_official_sepvit', 'convert_official_shuffle'
]
