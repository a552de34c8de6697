#!/usr/bin/env bash
# The main job: set up (or reuse) .venv, then run the demo.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/tools/env/setup.sh"
cd "$root"
exec .venv/bin/python tools/demo.py "$@"
