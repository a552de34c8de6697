# Sourced by the launch scripts: sets PYTHON to the interpreter they run.
# A PYTHON the user names is used as it is; otherwise the project's .venv,
# set up (or checked, which takes a moment) by tools/env/setup.sh.
if [[ -z ${PYTHON:-} ]]; then
    bash "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
    PYTHON="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.venv/bin/python"
fi
