from .checkpoint import (check_state_dict, extract_state_dict,
                         load_local_checkpoint, load_pretrained_state_dict)

__all__ = [
    'check_state_dict', 'extract_state_dict', 'load_local_checkpoint',
    'load_pretrained_state_dict'
]
