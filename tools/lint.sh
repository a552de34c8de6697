#!/usr/bin/env bash
# OpenMMLab's lint set (flake8, isort, yapf; settings in setup.cfg) over the
# project's Python files. --fix rewrites them with isort and yapf first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=.venv/bin
paths=(mmsepvit configs tools tests setup.py)
if [[ ${1:-} == --fix ]]; then
    "$bin/isort" "${paths[@]}"
    "$bin/yapf" --in-place --recursive "${paths[@]}"
fi
"$bin/flake8" "${paths[@]}"
"$bin/isort" --check-only --diff "${paths[@]}"
"$bin/yapf" --diff --recursive "${paths[@]}"
echo "lint: clean"
