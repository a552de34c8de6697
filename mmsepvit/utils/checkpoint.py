# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Checkpoint reading with torch's weights-only unpickler and clear errors."""
import os.path as osp
import pickle
import re
from typing import Callable, Dict, List, Optional, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader
from torch import nn

StateDict = Dict[str, torch.Tensor]


def load_local_checkpoint(filename: str,
                          map_location: Union[str, Callable, None] = None):
    """Read a local checkpoint, never running pickled code.

    Importing mmsepvit makes this mmengine's loader of local paths
    (:mod:`mmsepvit.process`), so the runner, ``init_cfg``,
    ``load_from`` and the Inferencers all read checkpoints this way.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        ValueError: A file that is not a PyTorch checkpoint, or one that needs
            arbitrary code to unpickle.
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint not found: {filename}')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r'GLOBAL ([\w.]+)', str(e))
        needs = f'the code of {found.group(1)}' if found else 'arbitrary code'
        raise ValueError(
            f'{filename} needs {needs} to unpickle; mmsepvit only reads '
            'checkpoints with weights-only unpickling and refuses it. Save '
            'its tensors (the state dict) alone, from a trusted session.'
        ) from e
    except Exception as e:  # torch.load fails in many ways on non-checkpoints
        raise ValueError(f'{filename} is not a readable PyTorch checkpoint: '
                         f'{e}') from e


def extract_state_dict(checkpoint, source: str) -> StateDict:
    """The tensors of a checkpoint: its 'state_dict' or 'model' entry, or the
    checkpoint itself, with any DataParallel 'module.' prefix removed."""
    if isinstance(checkpoint, dict):
        for key in ('state_dict', 'model'):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
    if not (isinstance(checkpoint, dict) and checkpoint
            and all(torch.is_tensor(v) for v in checkpoint.values())):
        raise ValueError(f'{source} holds no state dict of tensors')
    return {
        k[len('module.'):] if k.startswith('module.') else k: v
        for k, v in checkpoint.items()
    }


def _listing(keys: List[str], limit: int = 8) -> str:
    shown = ', '.join(keys[:limit])
    more = len(keys) - limit
    return shown + (f' and {more} more' if more > 0 else '')


def check_state_dict(state_dict: StateDict, model: nn.Module,
                     source: str) -> None:
    """Raise a ValueError naming every missing, unexpected or mis-shaped
    key."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = [
        f'{k} (checkpoint {tuple(v.shape)}, model '
        f'{tuple(expected[k].shape)})' for k, v in sorted(state_dict.items())
        if k in expected and v.shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f'missing {len(missing)}: {_listing(missing)}')
    if unexpected:
        problems.append(
            f'unexpected {len(unexpected)}: {_listing(unexpected)}')
    if mismatched:
        problems.append(
            f'mismatched shapes {len(mismatched)}: {_listing(mismatched)}')
    if not problems:
        return
    hint = ''
    if any(k.startswith(('patch_embeds.', 'pos_block.')) for k in state_dict):
        hint = (" It is in the layout of the authors' released code: convert "
                'it with tools/model_converters/official2mmsepvit.py first.')
    raise ValueError(f'{source} does not fit {type(model).__name__}: ' +
                     '; '.join(problems) + '.' + hint)


def load_pretrained_state_dict(filename: str,
                               prefix: Optional[str] = None) -> StateDict:
    """Read the tensors of ``filename`` under ``prefix`` (stripped)."""
    state_dict = extract_state_dict(
        CheckpointLoader.load_checkpoint(filename, map_location='cpu'),
        filename)
    if not prefix:
        return state_dict
    stripped = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    if not stripped:
        roots = sorted({k.split('.')[0] + '.' for k in state_dict})
        raise ValueError(f'no key of {filename} starts with prefix '
                         f'{prefix!r}; its keys start with {roots}')
    return stripped
