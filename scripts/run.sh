#!/usr/bin/env bash
# Set up (idempotent) and run a graspnet_ros job inside the project virtualenv.
#   scripts/run.sh run [args]    the main job on its embedded default (camera -> detector -> arm)
#   scripts/run.sh demo [args]   the grasp-geometry demo (force-closure labels on one mesh)
#   scripts/run.sh test [args]   the test suite (pytest)
#   scripts/run.sh bench NAME    a benchmark from bench/
#   scripts/run.sh <cmd> [args]  any `graspnet-ros` sub-command
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GRASPNET_VENV:-$ROOT/.venv}"
bash "$ROOT/scripts/setup.sh"

# ROS traffic stays on this machine; a domain of our own; logs out of $HOME.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-$(( ($$ % 100) + 1 ))}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$(mktemp -d -t graspnet_ros_log.XXXXXX)}"
# Open3D's OpenMP threads must not spin between calls (they starve numpy's BLAS).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
cd "$ROOT"

cmd="${1:-run}"
shift || true
case "$cmd" in
    test)  exec "$VENV/bin/python" -m pytest "$@" ;;
    bench) name="${1:?usage: scripts/run.sh bench NAME}"; shift
           name="${name#bench_}"; exec "$VENV/bin/python" "bench/bench_${name%.py}.py" "$@" ;;
    *)     exec "$VENV/bin/python" -m graspnet_ros "$cmd" "$@" ;;
esac
