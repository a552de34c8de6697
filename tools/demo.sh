#!/usr/bin/env bash
# The main job, on bundled toy data (nothing is downloaded):
#   bash tools/demo.sh [detection|segmentation|classification] [train.py args]
# Sets up (or reuses) .venv, generates the toy data, trains on the CPU
# (RetinaNet SepViT-T on toy COCO by default, Semantic FPN SepViT-T on toy
# ADE20K with "segmentation", a SepViT-Lite classifier on toy ImageNet with
# "classification"), evaluates the checkpoint with tools/test.py (COCO bbox
# mAP, mIoU or top-1) and draws its predictions. Interrupted? Run it again:
# training resumes from its last checkpoint.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
task=detection
if [[ $# -gt 0 && $1 != -* ]]; then
    task=$1
    shift
fi
case $task in
    detection)
        data=coco
        config=configs/toy/retinanet_sepvit_t_toy_coco.py
        metric='coco/bbox_mAP: [0-9.]*' ;;
    segmentation)
        data=ade20k
        config=configs/toy/fpn_sepvit_t_toy_ade20k.py
        metric='mIoU: [0-9.]*' ;;
    classification)
        data=imagenet
        config=configs/toy/sepvit_lite_toy_imagenet.py
        metric='accuracy/top1: [0-9.]*' ;;
    *)
        echo "unknown task '$task': choose detection, segmentation or" \
            "classification" >&2
        exit 2 ;;
esac

bash "$root/tools/env/setup.sh"
cd "$root"
python=.venv/bin/python
name=$(basename "$config" .py)
work_dir=${WORK_DIR:-work_dirs/$name}

$python tools/misc/make_toy_data.py "$data" "data/toy_$data"
$python tools/train.py "$config" --work-dir "$work_dir" --resume "$@"
checkpoint=$(cat "$work_dir/last_checkpoint")
$python tools/test.py "$config" "$checkpoint" --work-dir "$work_dir" \
    --show-dir predictions 2>&1 | tee "$work_dir/test.log"
echo "Predictions drawn in: $(find "$work_dir" -type d -name predictions | sort | tail -1)"
grep -o "$metric" "$work_dir/test.log" | tail -1
