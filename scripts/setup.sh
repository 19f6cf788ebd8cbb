#!/usr/bin/env bash
# Create (or reuse) the project virtualenv and install everything graspnet_ros needs:
# system packages (Debian 12), pinned Python packages (PyTorch CPU, ROS 2 Kilted wheels,
# Open3D, OpenCV, ...), the package itself (editable) and the msg/ interfaces.
# Re-running on a set-up machine takes a second or two: every step is skipped when its
# inputs have not changed.
#
# Environment: GRASPNET_VENV (default <repo>/.venv), PYTHON (default python3.11 or python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GRASPNET_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# --- system packages ---------------------------------------------------------------
need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
command -v ninja >/dev/null || need_apt+=(ninja-build)
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || need_apt+=(libusb-1.0-0)
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if ((${#need_apt[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        say "installing system packages: ${need_apt[*]}"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"; } >&2; then
            say "warning: apt-get could not install ${need_apt[*]}"
        fi
    else
        say "warning: missing system packages: ${need_apt[*]}; run: sudo apt-get install ${need_apt[*]}"
    fi
fi
for tool in cmake g++ ninja; do
    command -v "$tool" >/dev/null || die "$tool is required to build msg/; run: sudo apt-get install cmake g++ ninja-build"
done

# --- virtualenv and pinned packages ------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating virtualenv $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV" || die "could not create $VENV (apt-get install python3-venv?)"
fi
req_hash="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-ros-build.txt" "$ROOT/requirements-nodeps.txt" \
    "$ROOT/setup.py" | sha256sum | cut -c1-16)"
stamp="$VENV/.graspnet_ros_requirements"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$req_hash" ]]; then
    say "installing pinned Python packages (first run: several minutes)"
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements.txt" -r "$ROOT/requirements-ros-build.txt" >&2 \
        || die "pip install failed (see above)"
    "$VENV/bin/python" -m pip install -q --no-deps -r "$ROOT/requirements-nodeps.txt" >&2 \
        || die "pip install --no-deps -r requirements-nodeps.txt failed (see above)"
    # compat mode: a .pth path entry, so the rosidl-generated graspnet_ros/msg in
    # site-packages merges with the source package (see graspnet_ros/__init__.py)
    "$VENV/bin/python" -m pip install -q --no-deps -e "$ROOT" --config-settings editable_mode=compat >&2 \
        || die "installing graspnet_ros itself failed"
    echo "$req_hash" > "$stamp"
fi

# --- ROS interfaces (msg/) ----------------------------------------------------------
bash "$ROOT/scripts/build_interfaces.sh" "$VENV"
