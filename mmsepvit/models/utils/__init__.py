from .ckpt_convert import convert_official_sepvit

__all__ = ['convert_official_sepvit']
