# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""What a core install (``pip install 'mmsepvit[timm]'``) must do without
mmcv, mmdet, mmsegmentation and mmpretrain: import mmsepvit, build and run
the backbone, and build the timm entries. Exits non-zero, naming the
problem, where it cannot.

Run by tools/env/check_core_install.sh in a core environment, and by the
test suite with those packages hidden.
"""
import sys

import torch

import mmsepvit  # noqa: F401  (registers the timm entries)
from mmsepvit.models import SepViT

CODEBASES = ('mmcv', 'mmdet', 'mmseg', 'mmpretrain')


def loaded_codebases() -> list:
    # None in sys.modules marks a module hidden from import, not loaded.
    return [name for name in CODEBASES if sys.modules.get(name) is not None]


def main() -> None:
    loaded = loaded_codebases()
    if loaded:
        sys.exit(f'import mmsepvit loaded {loaded}')
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        maps = SepViT(arch='lite').eval()(x)
    shapes = [tuple(m.shape) for m in maps]
    expected = [(1, 32, 16, 24), (1, 64, 8, 12), (1, 128, 4, 6),
                (1, 256, 2, 3)]
    if shapes != expected:
        sys.exit(f'SepViT-Lite gave {shapes}, expected {expected}')
    import timm
    features = timm.create_model('sepvit_lite', features_only=True).eval()
    with torch.no_grad():
        timm_shapes = [tuple(m.shape) for m in features(x)]
    if timm_shapes != expected:
        sys.exit(f'timm sepvit_lite gave {timm_shapes}, expected {expected}')
    logits = timm.create_model('sepvit_lite').eval()(
        torch.rand(1, 3, 224, 224))
    if tuple(logits.shape) != (1, 1000):
        sys.exit(f'timm sepvit_lite gave logits of {tuple(logits.shape)}')
    loaded = loaded_codebases()
    if loaded:
        sys.exit(f'building the models loaded {loaded}')
    print('core install: mmsepvit, SepViT and the timm entries work without '
          f'{", ".join(CODEBASES)}')


if __name__ == '__main__':
    main()
