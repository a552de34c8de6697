# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""The deployment API under its former name, kept for existing scripts: the
code lives in :mod:`mmsepvit.deploy`, which new code imports."""
from mmsepvit.utils.measure import median_seconds
from .deploy import *  # noqa: F401,F403
from .deploy import __all__ as _deploy_names

__all__ = [*_deploy_names, 'median_seconds']
