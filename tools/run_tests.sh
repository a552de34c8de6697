#!/usr/bin/env bash
# Set up (or reuse) .venv, then run the test suite. Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/tools/env/setup.sh"
cd "$root"
exec .venv/bin/python -m pytest tests -ra "$@"
