# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""mmsepvit's backbones as timm models (``sepvit_*``, ``dualvit_*``,
``shuffle_*``, ``msg_*``), registered
when ``import mmsepvit`` finds timm installed. A family is a module here
with a :class:`TimmFamily` (see docs/timm_and_transformers.md)."""
from . import dualvit, msg, sepvit, shuffle
from .base import (TimmBackboneModel, TimmFamily, checkpoint_filter_fn,
                   create_timm_model, register_family)

FAMILIES = {
    family.prefix: family
    for family in (sepvit.FAMILY, dualvit.FAMILY, shuffle.FAMILY, msg.FAMILY)
}

__all__ = [
    'FAMILIES', 'TimmBackboneModel', 'TimmFamily', 'checkpoint_filter_fn',
    'create_timm_model', 'register_family'
]
