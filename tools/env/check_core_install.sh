#!/usr/bin/env bash
# Builds the two installs side by side, each in a fresh environment, and reports
# their sizes and install times:
#   core: pip install '.[timm]', the model and the timm entries only; then
#         tools/env/check_core.py checks they work without mmcv, mmdet, mmseg and
#         mmpretrain;
#   full: tools/env/setup.sh, every extra, pinned (with mmcv's wheel cached, as
#         after the first set-up).
# Usage: bash tools/env/check_core_install.sh [DIR]   (default: a new temporary folder;
# the environments are left there)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:-$(mktemp -d)}
python=${PYTHON:-python3.11}
pinned="$root/tools/env/pinned.txt"

start=$(date +%s)
"$python" -m venv "$dir/core"
"$dir/core/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$pinned" "$root[timm]"
core_seconds=$(($(date +%s) - start))
(cd "$dir" && "$dir/core/bin/python" "$root/tools/env/check_core.py")

start=$(date +%s)
MMSEPVIT_VENV="$dir/full" bash "$root/tools/env/setup.sh"
full_seconds=$(($(date +%s) - start))

echo "core install: $(du -sh "$dir/core" | cut -f1), ${core_seconds} s"
echo "full install: $(du -sh "$dir/full" | cut -f1), ${full_seconds} s"
"$dir/core/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
    grep -iE '^(mmcv|mmdet|mmsegmentation|mmpretrain) ' ||
    echo "no OpenMMLab codebase in the core install"
