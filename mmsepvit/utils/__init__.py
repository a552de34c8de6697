from .checkpoint import (allow_mmengine_checkpoints, check_state_dict,
                         extract_state_dict, load_local_checkpoint,
                         load_pretrained_state_dict, use_checked_local_loader)

__all__ = [
    'allow_mmengine_checkpoints', 'check_state_dict', 'extract_state_dict',
    'load_local_checkpoint', 'load_pretrained_state_dict',
    'use_checked_local_loader'
]
