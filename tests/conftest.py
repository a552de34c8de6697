import os
import subprocess
import sys
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


def _run_tool(cwd: Path, *args: str) -> str:
    """Run ``python *args`` in ``cwd``; fail with its output tail if it
    fails, else return stdout and stderr."""
    result = subprocess.run([sys.executable, *map(str, args)],
                            cwd=cwd,
                            capture_output=True,
                            text=True)
    assert result.returncode == 0, (result.stdout[-3000:] +
                                    result.stderr[-3000:])
    return result.stdout + result.stderr


@pytest.fixture(scope='session')
def run_tool():
    return _run_tool
