import os
from pathlib import Path

import pytest
import torch

# Reference data lives beside the checkout (../shared), never inside it.
SHARED = Path(os.environ.get('MMSEPVIT_SHARED',
                             Path(__file__).resolve().parents[2] / 'shared'))
REFERENCE = SHARED / 'fixtures' / 'sepvit_reference_micro.pt'


@pytest.fixture(scope='session')
def reference() -> dict:
    """Weights, inputs and outputs of the authors' released code for a micro
    architecture (see its 'about' entry)."""
    assert REFERENCE.is_file(), (
        f'reference fixture missing: {REFERENCE} (set MMSEPVIT_SHARED to the '
        'folder holding fixtures/)')
    return torch.load(REFERENCE, weights_only=True)
