# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""mmsepvit's registry, a child of mmengine's root model registry."""
from typing import Callable, Optional

from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='mmsepvit',
    locations=['mmsepvit.models'])


def register_model(name: Optional[str] = None) -> Callable[[type], type]:
    """Register a model in mmsepvit's scope and in mmengine's root registry.

    mmdet's, mmseg's and mmpretrain's registries are children of the root: a
    plain ``type='SepViT'`` in their scopes falls back to the root, while
    ``type='mmsepvit.SepViT'`` finds mmsepvit's own scope. Neither needs
    mmsepvit to import those packages.
    """

    def register(cls: type) -> type:
        MODELS.register_module(name=name, module=cls)
        MMENGINE_MODELS.register_module(name=name, module=cls)
        return cls

    return register
