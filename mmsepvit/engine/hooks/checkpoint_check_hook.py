# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""Checkpoints that do not fit the model fail, naming every key at fault."""
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

from mmsepvit.utils import check_state_dict, extract_state_dict


@HOOKS.register_module()
class CheckpointCheckHook(Hook):
    """Check a checkpoint :class:`~mmsepvit.engine.SafeRunner` loads before
    it reaches the model, naming the file and every key at fault.

    A checkpoint loaded to resume, test or validate must fit the model
    exactly; one loaded for fine-tuning (``load_from``) may differ (another
    number of classes, say) but must share weights with it. mmengine alone
    would log a warning and go on with a partly random model.

    SafeRunner registers it itself and tells it, in
    ``runner.checkpoint_being_loaded``, which file is being loaded and
    whether it must fit exactly. mmengine's Runner tells a hook neither, so
    under another runner this hook checks nothing and warns so when the run
    starts.
    """
    priority = 'LOWEST'  # after hooks that edit it (EMAHook swaps weights)

    def before_run(self, runner) -> None:
        if not hasattr(runner, 'checkpoint_being_loaded'):
            runner.logger.warning(
                f'CheckpointCheckHook checks only the checkpoints SafeRunner '
                f'loads; {type(runner).__name__} loads them unchecked '
                "(runner_type='SafeRunner' checks them)")

    def after_load_checkpoint(self, runner, checkpoint) -> None:
        loading = getattr(runner, 'checkpoint_being_loaded', None)
        if loading is None:  # not loaded through SafeRunner.load_checkpoint
            return
        source, strict = loading
        if not isinstance(checkpoint, dict):
            raise ValueError(f'{source} holds a {type(checkpoint).__name__}'
                             ', not a checkpoint dict')
        # What mmengine's Runner.load_checkpoint then loads.
        state_dict = extract_state_dict(
            checkpoint.get('state_dict', checkpoint), source)
        model = runner.model
        while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
            model = model.module
        if strict:
            check_state_dict(state_dict, model, source)
        elif not set(state_dict) & set(model.state_dict()):
            roots = sorted({k.split('.')[0] for k in state_dict})
            raise ValueError(f'{source} shares no weight with '
                             f'{type(model).__name__}: its keys start with '
                             f'{roots}')
