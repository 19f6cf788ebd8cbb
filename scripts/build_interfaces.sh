#!/usr/bin/env bash
# Build graspnet_ros's messages (msg/*.msg) into a virtualenv with the rosidl
# CMake pipeline, for the pip-only environment (ROS 2 Kilted wheels).
#
#   bash scripts/build_interfaces.sh VENV_DIR [EXTRA_INTERFACE_PKG_DIR ...]
#
# Each EXTRA_INTERFACE_PKG_DIR (an upstream interface package such as
# composition_interfaces, moveit_msgs or grasping_msgs, in dependency order) is
# built first with the same pipeline into the same prefix, from a copy (the
# source may be read-only). A folder with msg/ srv/ action/ but no
# CMakeLists.txt gets a generated one: the package name comes from its
# package.xml (or package.xml.upstream), the dependencies from the field types
# of its interface files. Each extra package is rebuilt only when its files change.
#
# Installs the generated C libraries into VENV/lib and the Python module
# graspnet_ros.msg into VENV's site-packages; the Python sources are used in
# place from this repository (graspnet_ros/__init__.py extends __path__ so the
# two halves import as one package). When the environment has no tf2_msgs
# (no ROS distribution: there is no wheel), the vendored one-message package
# third_party/tf2_msgs (TFMessage, for /tf and /tf_static) is built first. Idempotent: a re-run with unchanged
# msg/, CMakeLists.txt, package.xml and this script only checks the import.
set -euo pipefail

die() { echo "build_interfaces: error: $*" >&2; exit 1; }
log() { echo "build_interfaces: $*"; }

[[ $# -ge 1 ]] || die "usage: $0 VENV_DIR [EXTRA_INTERFACE_PKG_DIR ...]"
[[ -d "$1" ]] || die "virtualenv '$1' does not exist"
VENV="$(cd "$1" && pwd)"
shift
EXTRA=()
for d in "$@"; do
  [[ -d "$d" ]] || die "interface package folder '$d' does not exist"
  EXTRA+=("$(cd "$d" && pwd)")
done
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$VENV/bin/python"
[[ -x "$PY" ]] || die "$PY not found: '$VENV' is not a virtualenv"

# The wheels' bootstrapper re-executes the interpreter with the library path
# unless its guard variable is inherited; make every call bootstrap itself.
py() { env -u _ROS_WHEELS_BOOTSTRAP_COMPLETE "$PY" "$@"; }

SITE="$(py -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
BUILD="$VENV/build/graspnet_ros_interfaces"
STAMP="$VENV/share/graspnet_ros/.interfaces_stamp"

# Inputs that decide what gets built (msg files in a stable order).
inputs_hash() {
  (cd "$REPO" && cat msg/*.msg srv/*.srv action/*.action CMakeLists.txt package.xml scripts/build_interfaces.sh) \
    | sha256sum | cut -d' ' -f1
}

# The generated module imports from the repo root, next to the sources, and
# its C type support loads (the part that needs VENV/lib).
verify() {
  local check='
from graspnet_ros.msg import Grasp, GraspArray, DatasetFrame
from graspnet_ros.srv import DetectGrasps
from graspnet_ros.action import ExecuteGrasp
from graspnet_ros.grasp import GraspGroup
from tf2_msgs.msg import TFMessage
for t in (Grasp, GraspArray, DatasetFrame, DetectGrasps.Request, ExecuteGrasp.Goal, TFMessage()):
    type(t).__import_type_support__()
    assert type(t)._TYPE_SUPPORT is not None, t
'
  (cd "$REPO" && py -c "$check") &&
    (cd / && PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" py -c "$check")
}

# -- extra interface packages: name, content hash, up-to-date check ----------
pkg_name() {  # the <name> of a package folder's package.xml (or package.xml.upstream)
  local xml
  for xml in "$1/package.xml" "$1/package.xml.upstream"; do
    [[ -f "$xml" ]] && { sed -n 's:.*<name>\(.*\)</name>.*:\1:p' "$xml" | head -n 1; return; }
  done
  die "$1 has no package.xml"
}
pkg_hash() {
  (cd "$1" && find . -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' -o -name 'package.xml*' \
     -o -name CMakeLists.txt \) -not -path './build/*' -print0 | LC_ALL=C sort -z | xargs -0 cat
   cat "$REPO/scripts/build_interfaces.sh") | sha256sum | cut -d' ' -f1
}
extra_stamp() { echo "$VENV/share/$1/.graspnet_ros_interfaces_stamp"; }
extra_ok() {  # $1 name, $2 folder: built from these files and importable
  [[ "$(cat "$(extra_stamp "$1")" 2>/dev/null)" == "$(pkg_hash "$2")" ]] &&
    (cd / && py -c "import importlib, sys; [importlib.import_module(sys.argv[1] + '.' + k) for k in sys.argv[2:]]" \
       "$1" $(cd "$2" && for k in msg srv action; do [[ -d $k ]] && echo "$k"; done))
}
stale_extra=()
for d in "${EXTRA[@]}"; do
  name="$(pkg_name "$d")"
  extra_ok "$name" "$d" 2>/dev/null || stale_extra+=("$d")
done

compgen -G "$REPO/msg/*.msg" >/dev/null || die "no msg/*.msg in $REPO"
HASH="$(inputs_hash)"
OWN_OK=0
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$HASH" ]] && verify 2>/dev/null; then
  OWN_OK=1
  if ((${#stale_extra[@]} == 0)); then
    log "interfaces up to date in $VENV"
    exit 0
  fi
fi

# -- prerequisites -----------------------------------------------------------
missing=()
for tool in cmake ninja gcc g++; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  die "missing build tools: ${missing[*]}; install them with: apt-get install cmake g++ ninja-build"
fi
for pkg in ament_cmake ament_cmake_python rosidl_default_generators std_msgs geometry_msgs sensor_msgs action_msgs; do
  [[ -d "$VENV/share/$pkg/cmake" ]] ||
    die "$pkg is not installed in $VENV; run: $VENV/bin/pip install -r $REPO/requirements.txt -r $REPO/requirements-ros-build.txt"
done
py -c 'import catkin_pkg, numpy' 2>/dev/null ||
  die "catkin_pkg or numpy missing in $VENV; run: $VENV/bin/pip install -r $REPO/requirements-ros-build.txt"

# -- fix the wheels' exported CMake files ------------------------------------
# They hard-code the wheel build machine's Python and numpy include dirs.
PY_INC="$(py -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NP_INC="$(py -c 'import numpy; print(numpy.get_include())')"
[[ -f "$PY_INC/Python.h" ]] ||
  die "Python headers not found in $PY_INC (install the -dev package of this Python)"
OLD_PY_INC=/opt/python/cp311-cp311/include/python3.11
OLD_NP_INC=/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include
mapfile -t bad < <(grep -rlF --include='*.cmake' /opt/python/cp311-cp311 \
  "$VENV/share" "$VENV/lib/cmake" 2>/dev/null || true)
if ((${#bad[@]})); then
  log "rewriting Python/numpy include paths in ${#bad[@]} exported CMake files"
  sed -i -e "s|$OLD_NP_INC|$NP_INC|g" -e "s|$OLD_PY_INC|$PY_INC|g" "${bad[@]}"
  if grep -lF /opt/python/cp311-cp311 "${bad[@]}"; then
    die "unexpected /opt/python paths left in the files above"
  fi
fi

export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"

# -- tf2_msgs (TFMessage) when the environment has none ----------------------
# A real tf2_msgs (ROS distribution, or an overlay on AMENT_PREFIX_PATH) wins;
# only a missing or previously vendored one is (re)built.
mkdir -p "$VENV/build"
TF2_SHARE="$VENV/share/tf2_msgs/package.xml"
if ! py -c 'import tf2_msgs.msg' 2>/dev/null || grep -q "vendored by graspnet_ros" "$TF2_SHARE" 2>/dev/null; then
  TF2_BUILD="$VENV/build/graspnet_ros_tf2_msgs"
  log "building the vendored tf2_msgs (TFMessage) into $VENV"
  if [[ -f "$TF2_BUILD/CMakeCache.txt" ]] &&
    ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$REPO/third_party/tf2_msgs" "$TF2_BUILD/CMakeCache.txt"; then
    rm -rf "$TF2_BUILD"
  fi
  (unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
   cmake -S "$REPO/third_party/tf2_msgs" -B "$TF2_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF \
     -DPython3_EXECUTABLE="$PY" && cmake --build "$TF2_BUILD" && cmake --install "$TF2_BUILD") \
    >"$TF2_BUILD.log" 2>&1 ||
    { tail -n 40 "$TF2_BUILD.log" >&2; die "building tf2_msgs failed (full log: $TF2_BUILD.log)"; }
fi

# -- extra interface packages (upstream sources, e.g. moveit_msgs) ------------
# Generated build files for a folder that has only interface files: the
# dependencies are the packages named in field types (pkg/Type).
generate_build_files() {  # $1 source copy, $2 package name
  py - "$1" "$2" <<'PYEOF'
import re, sys
from pathlib import Path
src, name = Path(sys.argv[1]), sys.argv[2]
files = sorted(str(p.relative_to(src)) for k in ("msg", "srv", "action") for p in (src / k).glob(f"*.{k}"))
deps = set()
for f in files:
    for line in (src / f).read_text().splitlines():
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)/[A-Za-z][A-Za-z0-9_]*", line.split("#", 1)[0])
        if m and m.group(1) != name:
            deps.add(m.group(1))
deps = sorted(deps)
upstream = src / "package.xml.upstream"
version = "0.0.0"
if upstream.is_file():
    v = re.search(r"<version>(.*?)</version>", upstream.read_text())
    version = v.group(1) if v else version
finds = "".join(f"find_package({d} REQUIRED)\n" for d in deps)
(src / "CMakeLists.txt").write_text(
    "# generated by graspnet_ros scripts/build_interfaces.sh from the interface files\n"
    f"cmake_minimum_required(VERSION 3.16)\nproject({name})\nfind_package(ament_cmake REQUIRED)\n"
    f"find_package(rosidl_default_generators REQUIRED)\n{finds}"
    f"rosidl_generate_interfaces(${{PROJECT_NAME}}\n  " + "\n  ".join(f'"{f}"' for f in files)
    + (f"\n  DEPENDENCIES {' '.join(deps)}" if deps else "") + "\n)\n"
    "ament_export_dependencies(rosidl_default_runtime)\nament_package()\n")
depends = "".join(f"  <depend>{d}</depend>\n" for d in deps)
(src / "package.xml").write_text(
    '<?xml version="1.0"?>\n<package format="3">\n'
    f"  <name>{name}</name>\n  <version>{version}</version>\n"
    f"  <description>{name} interfaces built from upstream interface files by graspnet_ros</description>\n"
    '  <maintainer email="graspnet-ros@example.com">graspnet_ros maintainers</maintainer>\n'
    "  <license>BSD-3-Clause</license>\n  <buildtool_depend>ament_cmake</buildtool_depend>\n"
    f"  <buildtool_depend>rosidl_default_generators</buildtool_depend>\n{depends}"
    "  <exec_depend>rosidl_default_runtime</exec_depend>\n"
    "  <member_of_group>rosidl_interface_packages</member_of_group>\n"
    "  <export><build_type>ament_cmake</build_type></export>\n</package>\n")
PYEOF
}
for d in "${stale_extra[@]}"; do
  name="$(pkg_name "$d")"
  src="$VENV/build/src/$name"
  xbuild="$VENV/build/graspnet_ros_extra_$name"
  log "building $name from $d into $VENV"
  rm -rf "$src" "$xbuild"
  mkdir -p "$src"
  (cd "$d" && tar --exclude=./build -cf - .) | (cd "$src" && tar -xf -)
  chmod -R u+w "$src"
  [[ -f "$src/CMakeLists.txt" ]] || generate_build_files "$src" "$name"
  (unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
   cmake -S "$src" -B "$xbuild" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_PREFIX_PATH="$VENV" -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF \
     -DPython3_EXECUTABLE="$PY" && cmake --build "$xbuild" && cmake --install "$xbuild") \
    >"$xbuild.log" 2>&1 ||
    { tail -n 40 "$xbuild.log" >&2; die "building $name failed (full log: $xbuild.log)"; }
  pkg_hash "$d" >"$(extra_stamp "$name")"
  extra_ok "$name" "$d" || die "$name does not import after the build (log: $xbuild.log)"
done
if ((OWN_OK)); then
  log "graspnet_ros interfaces up to date in $VENV"
  exit 0
fi

# -- configure, build, install ----------------------------------------------
# A build dir configured from another source tree cannot be reused.
if [[ -f "$BUILD/CMakeCache.txt" ]] &&
  ! grep -qxF "CMAKE_HOME_DIRECTORY:INTERNAL=$REPO" "$BUILD/CMakeCache.txt"; then
  rm -rf "$BUILD"
fi
mkdir -p "$VENV/build"
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
log "configuring in $BUILD"
cmake -S "$REPO" -B "$BUILD" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$VENV" \
  -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DBUILD_TESTING=OFF \
  -DGRASPNET_ROS_INSTALL_PYTHON=OFF \
  -DPython3_EXECUTABLE="$PY" >"$BUILD.log" 2>&1 ||
  { tail -n 40 "$BUILD.log" >&2; die "cmake configure failed (full log: $BUILD.log)"; }
log "building"
cmake --build "$BUILD" >>"$BUILD.log" 2>&1 ||
  { tail -n 40 "$BUILD.log" >&2; die "build failed (full log: $BUILD.log)"; }

# rosidl_generator_py installs an empty graspnet_ros/__init__.py; keep a real
# one if a full copy of the package was pip-installed there before.
INIT="$SITE/graspnet_ros/__init__.py"
saved_init=""
if [[ -s "$INIT" ]]; then saved_init="$(mktemp)"; cp "$INIT" "$saved_init"; fi
cmake --install "$BUILD" >>"$BUILD.log" 2>&1 ||
  { tail -n 40 "$BUILD.log" >&2; die "install failed (full log: $BUILD.log)"; }
if [[ -n "$saved_init" ]]; then
  mv "$saved_init" "$INIT"
else
  # A regular package in site-packages would shadow the source tree.
  rm -f "$INIT" "$SITE/graspnet_ros/__pycache__/__init__".*.pyc
fi
# ament also installs graspnet_ros-*.egg-info, which pip would take for an
# installed distribution of this project (and uninstall by deleting the whole
# site-packages/graspnet_ros folder, messages included).
rm -rf "$SITE"/graspnet_ros-*.egg-info

verify || die "graspnet_ros.msg does not import after the build (log: $BUILD.log)"
echo "$HASH" >"$STAMP"
log "installed graspnet_ros messages into $VENV"
