#!/usr/bin/env bash
# Build graspnet_ros as a ROS 2 package with colcon, in the pip environment.
#
#   bash scripts/colcon_build.sh [WORKSPACE_DIR]
#
# WORKSPACE_DIR (default: a new temporary folder) gets src/graspnet_ros -> this
# repository (a symlink), build/, install/ and log/. colcon is not pointed at
# the repository itself: CMake rejects include paths inside the source tree,
# which the in-repo .venv is. The last line on stdout is the install prefix
# <WORKSPACE_DIR>/install/graspnet_ros; progress goes to stderr.
#
# colcon runs from a virtualenv of its own (created on first use, reused after,
# rebuilt when the pins below change): installed into the project virtualenv
# it would downgrade setuptools and add pytest plugins. The build itself uses
# the project virtualenv's ROS 2 wheels (AMENT_PREFIX_PATH, CMAKE_PREFIX_PATH)
# and its Python, so scripts/setup.sh must have run first.
#
# Environment: GRASPNET_VENV (project virtualenv, default <repo>/.venv),
# GRASPNET_COLCON_VENV (colcon's virtualenv, default $GRASPNET_VENV/colcon-venv).
set -euo pipefail

die() { echo "colcon_build: error: $*" >&2; exit 1; }
log() { echo "colcon_build: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GRASPNET_VENV:-$ROOT/.venv}"
COLCON_VENV="${GRASPNET_COLCON_VENV:-$VENV/colcon-venv}"
PY="$VENV/bin/python"
COLCON_PINS=(
  colcon-core==0.21.3
  colcon-ros==0.5.0
  colcon-cmake==0.2.30
  colcon-python-setup-py==0.2.9
  colcon-library-path==0.2.1
  colcon-package-information==0.4.1
  colcon-recursive-crawl==0.2.3
  colcon-parallel-executor==0.4.0
  catkin_pkg==1.1.1
)

(($# <= 1)) || die "usage: $0 [WORKSPACE_DIR]"
WS=""
if (($# == 1)); then
  WS="$(realpath -m "$1")"
  case "$WS/" in "$(realpath "$ROOT")/"*) die "the workspace must be outside the repository ($ROOT)" ;; esac
fi
# The wheels' bootstrapper re-executes a Python with the library path unless
# this guard is inherited; every interpreter started here must do its own.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE

# -- prerequisites -------------------------------------------------------------
[[ -x "$PY" ]] || die "project virtualenv $VENV not found; run: bash $ROOT/scripts/setup.sh"
for tool in cmake ninja g++; do
  command -v "$tool" >/dev/null || die "$tool not found; run: apt-get install cmake g++ ninja-build"
done
for pkg in ament_cmake ament_cmake_python rosidl_default_generators sensor_msgs; do
  [[ -d "$VENV/share/$pkg/cmake" ]] || die "$pkg is not installed in $VENV; run: bash $ROOT/scripts/setup.sh"
done
# The wheels' exported CMake files hard-code the wheel build machine's include
# dirs until scripts/build_interfaces.sh (called by setup.sh) rewrites them.
if grep -rqlF --include='*.cmake' /opt/python/cp311-cp311 "$VENV/share" 2>/dev/null; then
  die "$VENV has unpatched ROS CMake files; run: bash $ROOT/scripts/setup.sh"
fi

# -- colcon's own virtualenv (idempotent; a lock serialises parallel runs) ------
pins_hash="$(printf '%s\n' "${COLCON_PINS[@]}" | sha256sum | cut -c1-16)"
stamp="$COLCON_VENV/.graspnet_ros_colcon_pins"
mkdir -p "$(dirname "$COLCON_VENV")"
exec 9>"$COLCON_VENV.lock"
flock -w 600 9 || die "timed out waiting for $COLCON_VENV.lock"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$pins_hash" ]] || ! "$COLCON_VENV/bin/colcon" --help >/dev/null 2>&1; then
  log "creating colcon's virtualenv $COLCON_VENV"
  rm -rf "$COLCON_VENV"
  "$PY" -m venv "$COLCON_VENV" || die "could not create $COLCON_VENV (apt-get install python3-venv?)"
  "$COLCON_VENV/bin/python" -m pip install -q --disable-pip-version-check "${COLCON_PINS[@]}" >&2 ||
    die "pip install of colcon failed (see above)"
  "$COLCON_VENV/bin/colcon" --help >/dev/null || die "colcon does not run from $COLCON_VENV"
  echo "$pins_hash" >"$stamp"   # written last: a half-made virtualenv is rebuilt next time
fi
exec 9>&-

# -- workspace -------------------------------------------------------------------
[[ -n "${WS:-}" ]] || WS="$(mktemp -d -t graspnet_ros_colcon_ws.XXXXXX)"
mkdir -p "$WS/src"
if [[ -e "$WS/src/graspnet_ros" && ! -L "$WS/src/graspnet_ros" ]]; then
  die "$WS/src/graspnet_ros exists and is not a symlink to $ROOT"
fi
ln -sfn "$ROOT" "$WS/src/graspnet_ros"

# -- build -----------------------------------------------------------------------
log "building in $WS (log: $WS/log/latest_build)"
start=$SECONDS
(
  cd "$WS"
  export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
  export COLCON_HOME="$COLCON_VENV/colcon-home"   # no user defaults or mixins
  "$COLCON_VENV/bin/colcon" --log-base "$WS/log" build \
    --base-paths "$WS/src" --build-base "$WS/build" --install-base "$WS/install" \
    --event-handlers console_direct- \
    --cmake-args -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    "-DPython3_EXECUTABLE=$PY"
) >&2 || die "colcon build failed (logs: $WS/log/latest_build)"
PREFIX="$WS/install/graspnet_ros"
[[ -f "$PREFIX/share/graspnet_ros/package.xml" ]] || die "colcon finished but $PREFIX has no package.xml"
log "built in $((SECONDS - start)) s"
echo "$PREFIX"
