from .checkpoint import (check_state_dict, get_state_dict,
                         load_checkpoint_file, load_pretrained_state_dict)

__all__ = [
    'check_state_dict', 'get_state_dict', 'load_checkpoint_file',
    'load_pretrained_state_dict'
]
