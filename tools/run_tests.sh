#!/usr/bin/env bash
# Set up (or reuse) .venv, then run the test suite. Extra arguments go to
# pytest. --fast runs the unit tier only (models, layers, converters,
# configs, errors: about 2 minutes on 2 cores), leaving out the tests marked slow
# (training, export, launched tools).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/tools/env/setup.sh"
cd "$root"
args=()
for arg in "$@"; do
    if [[ $arg == --fast ]]; then
        args+=(-m "not slow")
    else
        args+=("$arg")
    fi
done
exec .venv/bin/python -m pytest tests -ra "${args[@]}"
