#!/usr/bin/env bash
# Issue 16's training on realistic data, in stages that survive a lost machine:
#   1. generate (or complete) a chunk of the `realistic` preset (simulated RealSense and
#      Kinect, lab scenes) with `data generate --scenes`: complete scenes are skipped;
#   2. derive the compact training labels (skipped when up to date);
#   3. train, starting from the shipped checkpoint or resuming the run's own last.pt,
#      until --stop-at (last.pt is written every CHECKPOINT_EVERY steps);
#   4. score the run's model.pt, the shipped network and the baseline on the chunk's test
#      scenes (bench_network_ap, RealSense and Kinect).
# Everything lands outside the repository under DATA (default ~/graspnet_data): a rerun of
# the same command redoes only what is missing.
#
#   scripts/train_realistic.sh [STOP_AT]        # default STOP_AT: STEPS
# Environment: DATA, SCENES (ids and ranges for `data generate --scenes`), STEPS (the
# schedule's last step, counted from the shipped checkpoint's 9000), LR, WORKERS, EVAL_FRAMES,
# DEVICE (auto | cpu | cuda), SKIP_EVAL=1.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${DATA:-$HOME/graspnet_data}"
SCENES="${SCENES:-0-5 100-101 130-131 160-161}"
STEPS="${STEPS:-14000}"
LR="${LR:-1e-3}"
WORKERS="${WORKERS:-2}"
EVAL_FRAMES="${EVAL_FRAMES:-4}"
DEVICE="${DEVICE:-auto}"
STOP_AT="${1:-$STEPS}"
ROOT="$DATA/realistic"
RUN="$DATA/runs/realistic_ft"
SHIPPED="$ROOT_DIR/graspnet_ros/data/checkpoints/cpu_small/model.pt"
run() { "$ROOT_DIR/scripts/run.sh" "$@"; }

mkdir -p "$DATA/runs"
# shellcheck disable=SC2086  # SCENES is a list of ids
run data generate --root "$ROOT" --preset realistic --workers "$WORKERS" --scenes $SCENES
run data compact --root "$ROOT" --workers "$WORKERS"
# the shipped network's schedule ended at step 9000 (lr 1e-5); this one goes on from there
# with LR x0.1 at 50% and 83% of STEPS (14000: 1e-4 to step 11620, then 1e-5)
run train --root "$ROOT" --config cpu --camera realsense --batch-size 2 --scene-block 8 --lr "$LR" \
    --steps "$STEPS" --stop-at "$STOP_AT" --match-radius 0.0075 --checkpoint-every 250 --log-every 25 \
    --init-from "$SHIPPED" --out "$RUN" --device "$DEVICE" --no-progress
[[ "${SKIP_EVAL:-0}" == 1 ]] && exit 0
step="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["step"])' "$RUN/train_log.jsonl")"
for camera in realsense kinect; do
    run bench network_ap --root "$ROOT" --camera "$camera" --frames "$EVAL_FRAMES" --workers "$WORKERS" \
        --checkpoint "$RUN/model.pt" --out "$DATA/runs/ap_step${step}_$camera"
done
