from .checkpoint import (allow_mmengine_checkpoints, check_state_dict,
                         get_state_dict, load_checkpoint_file,
                         load_pretrained_state_dict)

__all__ = [
    'allow_mmengine_checkpoints', 'check_state_dict', 'get_state_dict',
    'load_checkpoint_file', 'load_pretrained_state_dict'
]
