"""The core install: ``import mmsepvit``, the backbone and the timm entries
work without mmcv, mmdet, mmsegmentation and mmpretrain
(tools/env/check_core.py; tools/env/check_core_install.sh runs it in a real
core environment, here those packages are hidden)."""
from pathlib import Path

import pytest
from launch import launch_python

CHECK = Path(__file__).resolve().parents[1] / 'tools' / 'env' / 'check_core.py'
HIDDEN = ('mmcv', 'mmdet', 'mmseg', 'mmpretrain')


@pytest.mark.slow
def test_model_works_without_the_openmmlab_codebases():
    pytest.importorskip('timm')
    code = ('import runpy, sys\n'
            f'for name in {HIDDEN!r}:\n'
            '    sys.modules[name] = None  # import fails as if absent\n'
            f'runpy.run_path({str(CHECK)!r}, run_name="__main__")\n')
    log = launch_python('-c', code).log
    assert 'core install: mmsepvit, SepViT and the timm entries work' in log


@pytest.mark.slow
def test_hidden_codebases_would_be_caught():
    """The check fails where a codebase gets imported."""
    code = ('import mmdet, runpy\n'
            f'runpy.run_path({str(CHECK)!r}, run_name="__main__")\n')
    result = launch_python('-c', code, check=False)
    assert result.returncode != 0
    assert 'import mmsepvit loaded' in result.stderr
    assert "'mmdet'" in result.stderr
