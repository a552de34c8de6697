#!/usr/bin/env bash
# The main job, on bundled toy data (nothing is downloaded): set up (or reuse)
# .venv, generate toy COCO data, train RetinaNet with SepViT-T on the CPU,
# evaluate the checkpoint with tools/test.py (COCO bbox mAP) and draw its
# predictions. Interrupted? Run it again: training resumes from its last
# checkpoint. Extra arguments go to tools/train.py.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/tools/env/setup.sh"
cd "$root"
python=.venv/bin/python
config=configs/toy/retinanet_sepvit_t_toy_coco.py
work_dir=${WORK_DIR:-work_dirs/toy_retinanet_sepvit_t}

$python tools/misc/make_toy_data.py coco data/toy_coco
$python tools/train.py "$config" --work-dir "$work_dir" --resume "$@"
checkpoint=$(cat "$work_dir/last_checkpoint")
$python tools/test.py "$config" "$checkpoint" --work-dir "$work_dir" \
    --show-dir predictions 2>&1 | tee "$work_dir/test.log"
echo "Predictions drawn in: $(ls -d "$work_dir"/*/predictions | tail -1)"
grep -o 'coco/bbox_mAP: [0-9.]*' "$work_dir/test.log" | tail -1
