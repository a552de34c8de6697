from .checkpoint import (allow_mmengine_checkpoints, check_state_dict,
                         get_state_dict, load_checkpoint_file,
                         load_pretrained_state_dict)
from .dist import setup_cpu_distributed

__all__ = [
    'allow_mmengine_checkpoints', 'check_state_dict', 'get_state_dict',
    'load_checkpoint_file', 'load_pretrained_state_dict',
    'setup_cpu_distributed'
]
