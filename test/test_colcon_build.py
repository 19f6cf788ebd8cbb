"""The ROS 2 package built with colcon in the pip environment, run from its install space.

``scripts/colcon_build.sh`` builds this repository (ament_cmake: messages,
Python package, node executables, launch and config files) with colcon into a
temporary workspace. The tests check the layout ``ros2 run`` and
``ros2 launch`` rely on, then start ``camera_node`` and
``grasp_detector_node`` from ``install/graspnet_ros/lib/graspnet_ros`` in the
environment ``install/local_setup.sh`` gives (the project virtualenv plays
the part of /opt/ros), and receive their messages over real DDS on loopback:
an Image from the camera and a GraspArray the detector computed from the
camera's cloud. Python's import log and the process's memory map prove that
the nodes' Python modules and message libraries came from the install space,
not from this source tree or the virtualenv's own copy of the messages.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sensor_msgs.msg import Image

from graspnet_ros.msg import GraspArray
from ros_helpers import RosHarness, interruptible, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
PKG = "graspnet_ros"
SITE = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
NODE_EXECUTABLES = ("calibration_node", "camera_node", "evaluate_bag", "executor_node", "grasp_detector_node",
                    "trial_node")

BUILD_TIMEOUT = 480.0  # s; a first run also creates colcon's virtualenv
START_TIMEOUT = 90.0  # s from process start to the first message (imports, DDS discovery)
STOP_TIMEOUT = 20.0  # s from SIGINT to exit

CAMERA_SCALE = 0.15  # 192 x 108 px of the 1280 x 720 RealSense model
CAMERA_ARGS = ["-r", "__ns:=/camera", "-p", f"synthetic.scale:={CAMERA_SCALE}", "-p", "rate:=4.0",
               "-p", "synthetic.num_objects:=3"]
DETECTOR_ARGS = ["-p", "detector:=baseline", "-p", "max_points:=3000", "-p", "max_grasps:=10"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """A colcon workspace built by scripts/colcon_build.sh; returns its root."""
    ws = tmp_path_factory.mktemp("colcon_ws")
    env = dict(os.environ, GRASPNET_VENV=str(VENV))
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    start = time.monotonic()
    try:
        proc = subprocess.run(["bash", str(ROOT / "scripts" / "colcon_build.sh"), str(ws)], env=env,
                              cwd=ws, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"colcon_build.sh took more than {BUILD_TIMEOUT:.0f} s:\n{exc.stderr}")
    assert proc.returncode == 0, f"colcon_build.sh failed:\n{proc.stderr[-6000:]}"
    lines = proc.stdout.strip().splitlines()
    assert lines and Path(lines[-1]) == ws / "install" / PKG, proc.stdout
    print(f"\ncolcon_build.sh: {time.monotonic() - start:.1f} s", file=sys.stderr)
    return ws


@pytest.fixture(scope="module")
def prefix(workspace) -> Path:
    return workspace / "install" / PKG


def install_space_env(workspace: Path, log_dir: Path) -> dict[str, str]:
    """The environment of a shell that sourced the wheels' environment and the workspace.

    The project virtualenv stands in for /opt/ros: its bin/ first on PATH (the
    node scripts say ``#!/usr/bin/env python3``), its prefix on
    AMENT_PREFIX_PATH and its libraries on LD_LIBRARY_PATH (what the wheels'
    bootstrapper would add; its guard is set so that it keeps this order).
    ``install/local_setup.sh`` then prepends the workspace, as on a ROS install.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COLCON_", "AMENT_"))}
    libs = [str(VENV / "lib")] + sorted(str(p) for p in (VENV / SITE).glob("ros_*.libs") if p.is_dir())
    env.update(
        PATH=f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        AMENT_PREFIX_PATH=str(VENV),
        LD_LIBRARY_PATH=os.pathsep.join(libs),
        _ROS_WHEELS_BOOTSTRAP_COMPLETE="1",
        ROS_LOG_DIR=str(log_dir),
        GRASPNET_TEST_INSTALL_BASE=str(workspace / "install"),
    )
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"  # set by conftest.py
    return env


def sourced(*cmd: str) -> list[str]:
    """``cmd`` run by a POSIX shell after sourcing the workspace's local_setup.sh."""
    script = '. "$GRASPNET_TEST_INSTALL_BASE/local_setup.sh" && exec "$@"'
    return ["sh", "-c", script, "sh", *cmd]


def interrupt(procs: dict[str, subprocess.Popen]) -> dict[str, int | None]:
    """One SIGINT to each process (as ros2 launch does); exit codes, None = killed after STOP_TIMEOUT."""
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_TIMEOUT
    codes: dict[str, int | None] = {}
    for name, p in procs.items():
        try:
            codes[name] = p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10.0)
            codes[name] = None
    return codes


def loaded_module_files(log_text: str) -> list[str]:
    """Source/bytecode paths of the graspnet_ros modules in a PYTHONVERBOSE log."""
    paths = re.findall(r"^# code object from '?([^'\n]+?)'?$", log_text, flags=re.MULTILINE)
    return [p for p in paths if f"/{PKG}/" in p]


def test_install_space_layout(workspace, prefix):
    lib = prefix / "lib" / PKG
    for name in NODE_EXECUTABLES:
        exe = lib / name
        assert exe.is_file() and os.access(exe, os.X_OK), f"{exe} missing or not executable"
        assert exe.read_text().startswith("#!/usr/bin/env python3"), exe
    share = prefix / "share" / PKG
    assert (share / "package.xml").read_text() == (ROOT / "package.xml").read_text()
    assert (share / "launch" / "grasp.launch.py").is_file()
    for cfg in (ROOT / "config").glob("*.yaml"):
        assert (share / "config" / cfg.name).read_bytes() == cfg.read_bytes(), cfg.name
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / PKG).is_file()
    for msg in ("Grasp", "GraspArray", "DatasetFrame"):
        assert (share / "msg" / f"{msg}.msg").is_file()
    py = prefix / SITE / PKG
    assert (py / "__init__.py").read_text() == (ROOT / PKG / "__init__.py").read_text()
    assert (py / "nodes" / "camera_node.py").is_file() and (py / "msg" / "_grasp_array.py").is_file()
    assert list(py.glob("*__rosidl_typesupport_c*.so")), "no compiled message type support in the install space"
    assert (prefix / "lib" / f"lib{PKG}__rosidl_typesupport_c.so").is_file()
    assert (workspace / "install" / "local_setup.sh").is_file()


def test_local_setup_resolves_the_install_space(workspace, prefix, tmp_path):
    env = install_space_env(workspace, tmp_path / "roslog")
    probe = ("import json, graspnet_ros, graspnet_ros.msg as m; "
             "from ament_index_python.packages import get_package_share_directory as share; "
             "print(json.dumps([graspnet_ros.__file__, m.__file__, share('graspnet_ros')]))")
    out = subprocess.run(sourced("python3", "-c", probe), env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    init, msg, share = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(init) == prefix / SITE / PKG / "__init__.py"
    assert Path(msg) == prefix / SITE / PKG / "msg" / "__init__.py"
    assert Path(share) == prefix / "share" / PKG


def test_nodes_run_from_install_space_over_dds(workspace, prefix, tmp_path):
    env = install_space_env(workspace, tmp_path / "roslog")
    env["PYTHONVERBOSE"] = "1"  # import log on stderr: where each module came from
    exe = prefix / "lib" / PKG
    ros = RosHarness()
    images = ros.listen(Image, "/camera/color/image_raw")
    grasps = ros.listen(GraspArray, "/grasps")
    logs = {name: tmp_path / f"{name}.log" for name in ("camera_node", "grasp_detector_node")}
    procs: dict[str, subprocess.Popen] = {}
    try:
        start = time.monotonic()
        for name, args in (("camera_node", CAMERA_ARGS), ("grasp_detector_node", DETECTOR_ARGS)):
            with open(logs[name], "w") as log:
                procs[name] = subprocess.Popen(sourced(str(exe / name), "--ros-args", *args), env=env,
                                               cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                                               preexec_fn=interruptible)

        def running() -> bool:
            for name, p in procs.items():
                assert p.poll() is None, f"{name} exited early:\n{logs[name].read_text()[-3000:]}"
            return True

        assert wait_for(lambda: running() and len(images) > 0, START_TIMEOUT), \
            f"no Image from camera_node:\n{logs['camera_node'].read_text()[-3000:]}"
        t_image = time.monotonic() - start
        assert wait_for(lambda: running() and len(grasps) > 0, START_TIMEOUT), \
            f"no GraspArray from grasp_detector_node:\n{logs['grasp_detector_node'].read_text()[-3000:]}"
        t_grasps = time.monotonic() - start
        print(f"\nfirst Image after {t_image:.1f} s, first GraspArray after {t_grasps:.1f} s", file=sys.stderr)

        # The message libraries the detector loaded are the install space's.
        maps = Path(f"/proc/{procs['grasp_detector_node'].pid}/maps").read_text()
        libs = {line.split()[-1] for line in maps.splitlines() if f"{PKG}__rosidl" in line or f"{PKG}_s__" in line}
        assert any(lib.startswith(str(prefix / "lib") + "/") for lib in libs), libs
        assert libs and all(lib.startswith(str(prefix) + "/") for lib in libs), libs
    finally:
        codes = interrupt(procs)
        ros.close()
    assert codes == {name: 0 for name in procs}, f"exit codes after SIGINT (None = hung): {codes}"

    img = images[0]
    assert (img.width, img.height) == (round(1280 * CAMERA_SCALE), round(720 * CAMERA_SCALE))
    assert img.encoding == "rgb8" and len(img.data) == img.height * img.step
    arr = grasps[0]
    assert arr.header.frame_id == "camera_color_optical_frame"
    assert 1 <= len(arr.grasps) <= 10
    assert all(0.0 < g.width <= 0.1 for g in arr.grasps)

    for name, log in logs.items():
        text = log.read_text()
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
        files = loaded_module_files(text)
        assert any(f.endswith(f"/{PKG}/nodes/{name}.py") or f"/nodes/__pycache__/{name}." in f for f in files), \
            f"{name}: its module does not appear in the import log"
        outside = [f for f in files if not f.startswith(str(prefix / SITE) + "/")]
        assert not outside, f"{name} imported graspnet_ros modules from outside the install space: {outside[:5]}"


def test_evaluate_bag_runs_from_install_space(workspace, prefix, tmp_path):
    """`ros2 run graspnet_ros evaluate_bag` as installed: a bag of dataset frames -> results."""
    import json

    from dataset_fixture import SCENE_ID, build_fixture_dataset
    from graspnet_ros.bags import write_dataset_bag

    root = tmp_path / "root"
    build_fixture_dataset(root)
    bag = tmp_path / "frames_bag"
    write_dataset_bag(root, [SCENE_ID], "realsense", bag, storage="mcap")
    out = tmp_path / "results"
    env = install_space_env(workspace, tmp_path / "log")
    env["PYTHONVERBOSE"] = "1"
    proc = subprocess.run(
        sourced(str(prefix / "lib" / PKG / "evaluate_bag"), "--ros-args", "-p", f"bag:={bag}",
                "-p", f"dataset_root:={root}", "-p", f"out:={out}", "-p", "plot:=false"),
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["frames_evaluated"] >= 1
    modules = loaded_module_files(proc.stderr)
    assert modules and all(str(prefix) in m for m in modules), modules[:5]


def test_ros2_launch_runs_from_install_space(workspace, prefix, tmp_path):
    """`ros2 launch graspnet_ros grasp.launch.py rviz:=false` in a shell that sourced the workspace:
    the launch file and the node executables it starts are the install space's, grasps arrive,
    and one Ctrl-C ends it."""
    from ros_helpers import require_ros_cli

    ros2 = require_ros_cli()
    env = install_space_env(workspace, tmp_path / "roslog")
    ros = RosHarness()
    grasps = ros.listen(GraspArray, "/grasps")
    log = tmp_path / "launch.log"
    pids: list[int] = []
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(sourced(ros2, "launch", PKG, "grasp.launch.py", "rviz:=false"), env=env,
                                    cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=interruptible)
            try:
                assert wait_for(lambda: len(grasps) > 0 or proc.poll() is not None, START_TIMEOUT), \
                    "no GraspArray from the installed launch:\n" + log.read_text(errors="replace")[-4000:]
                assert proc.poll() is None, "ros2 launch exited early:\n" + log.read_text(errors="replace")[-4000:]
                pids = [int(p) for p in re.findall(r"process started with pid \[(\d+)\]", log.read_text())]
                cmdlines = [Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0") for p in pids]
                proc.send_signal(signal.SIGINT)
                code = proc.wait(timeout=STOP_TIMEOUT + 10)
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
    finally:
        ros.close()
    assert code == 0, log.read_text(errors="replace")[-3000:]
    assert len(pids) >= 2, log.read_text(errors="replace")[-3000:]
    exes = {Path(a.decode()).name: a.decode() for c in cmdlines for a in c
            if a.decode().startswith(str(prefix / "lib" / PKG))}
    assert {"camera_node", "grasp_detector_node"} <= set(exes), cmdlines
    assert all(not Path(f"/proc/{p}").exists() or Path(f"/proc/{p}/stat").read_text().split()[2] == "Z"
               for p in pids), "a node outlived the launch"
