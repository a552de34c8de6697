#!/usr/bin/env bash
# A second environment on the maintained forks of the OpenMMLab stack (onedl-mmengine,
# onedl-mmcv, onedl-mmdetection, onedl-mmsegmentation, onedl-mmpretrain: the same import
# names), then the fast test tier and one toy training run through it. Not part of CI.
#   bash tools/env/setup_onedl.sh            # builds .venv-onedl (MMSEPVIT_ONEDL_VENV)
#
# onedl-mmcv is published as source only and, like mmcv 2.1, asks for C++17 where
# torch 2.14's headers need C++20: it is built once with the flag raised and its wheel
# kept in $MMSEPVIT_WHEEL_CACHE. mmsepvit goes in without dependency resolution: its
# requirement `mmengine` names the upstream distribution, which the fork replaces.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=${MMSEPVIT_ONEDL_VENV:-$root/.venv-onedl}
wheel_cache=${MMSEPVIT_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmsepvit/wheels}
python=${PYTHON:-python3.11}
forks=(onedl-mmengine==0.10.12 onedl-mmdetection==3.5.1 onedl-mmsegmentation==1.4.2
    onedl-mmpretrain==1.3.6)

[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# The project's torch; the forks' own requirements decide the rest.
"${pip[@]}" torch==2.14.1 torchvision==0.29.1 setuptools wheel ninja numpy
"${pip[@]}" onedl-mmengine==0.10.12

source "$root/tools/env/mmcv_from_source.sh"
install_mmcv_from_source "$venv" onedl-mmcv 2.3.6 "$wheel_cache"

"${pip[@]}" "${forks[@]}" timm pytest ftfy regex
"${pip[@]}" --no-deps --no-build-isolation -e "$root"
"$venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
    grep -iE '^(onedl-|mmcv|mmdet|mmsegmentation|mmpretrain|mmengine|torch |timm)'

cd "$root"
failed=()
"$venv/bin/python" -m pytest tests -m 'not slow' -q -p no:cacheprovider "$@" ||
    failed+=("the fast tier")
work_dir=$(mktemp -d)
"$venv/bin/python" tools/misc/make_toy_data.py coco "$work_dir/data/toy_coco"
(cd "$work_dir" && "$venv/bin/python" "$root/tools/train.py" \
    "$root/configs/toy/retinanet_sepvit_t_toy_coco.py" --work-dir "$work_dir/run" \
    --cfg-options train_cfg.max_epochs=1 train_cfg.val_interval=1) ||
    failed+=("the toy RetinaNet epoch")
if ((${#failed[@]})); then
    echo "onedl stack: ${failed[*]} failed" >&2
    exit 1
fi
echo "onedl stack: the fast tier and one toy RetinaNet epoch (train and val) passed"
