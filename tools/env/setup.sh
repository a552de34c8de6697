#!/usr/bin/env bash
# Creates (or reuses) the project-local virtual environment .venv and installs the pinned
# OpenMMLab stack plus mmsepvit in editable mode with every extra (MMSEPVIT_VENV names
# another environment). Safe to run again: a ready environment is left as it is.
#
# mmcv 2.1.0 (the newest release mmdet 3.3 and mmseg 1.2 accept) exists on PyPI only as a
# source archive whose setup.py asks for C++17, while torch 2.14's headers need C++20; we
# build it once with that flag raised and keep the wheel in $MMSEPVIT_WHEEL_CACHE.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${MMSEPVIT_VENV:-$root/.venv}
pinned="$root/tools/env/pinned.txt"
wheel_cache=${MMSEPVIT_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsepvit/wheels}
stamp="$venv/.mmsepvit-installed"
python=${PYTHON:-python3.11}

# The stamp records what was installed; same inputs means nothing to do.
want=$(cat "$pinned" "$root/requirements.txt" "$root/setup.py" | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi

[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$pinned")

"${pip[@]}" torch torchvision setuptools wheel ninja numpy

source "$root/tools/env/mmcv_from_source.sh"
install_mmcv_from_source "$venv" mmcv 2.1.0 "$wheel_cache" -c "$pinned"

# tools/lint.sh runs the lint set.
"${pip[@]}" flake8 isort yapf
# transformers (4.57 and 5.23 checked) breaks `import mmpretrain.models`: mmpretrain 1.2's
# multimodal models import helpers transformers removed. It goes apart, into
# .venv/transformers, which only the transformers tests put on their path
# (tests/test_timm.py launches them).
"${pip[@]}" --no-deps --upgrade --target "$venv/transformers" transformers tokenizers \
    typer shellingham annotated-doc pydantic pydantic-core annotated-types typing-inspection
# mmsepvit with every extra (mmdet, mmseg, mmpretrain, timm, the ONNX runtimes) and
# what the tests drive; mmcv is the wheel built above.
"${pip[@]}" --no-build-isolation -e "$root[all,tests]"

echo "$want" >"$stamp"
echo "Environment ready: $venv"
