"""Run the package's nodes in one process (one executor), from the launch file's YAML files.

:func:`run_launch` is what ``graspnet-ros launch`` calls: it starts
``camera_node`` (namespace ``camera``) and ``grasp_detector_node`` with the
same parameter files and overrides as ``launch/grasp.launch.py``, plus a
small monitor node (:mod:`.monitor`) that prints every GraspArray it
receives and keeps the latest colour image, so that at the end a PNG with
the latest grasps drawn on the colour image can be written. It keeps DDS on localhost unless the
user set ``ROS_AUTOMATIC_DISCOVERY_RANGE``
(:func:`~graspnet_ros.nodes.spin.ensure_loopback_default`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..params import default_config_dir
from .spin import ensure_loopback_default

__all__ = ["default_config_dir", "node_cli_args", "LaunchSettings", "LaunchReport", "run_launch",
           "CAMERA_NAMESPACE"]

CAMERA_NAMESPACE = "camera"


def _ros_value(value) -> str:
    """A parameter value as ROS command-line YAML (``-p name:=value``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def node_cli_args(params_file: Path | None, overrides: dict, namespace: str = "") -> list[str]:
    """``--ros-args`` for one node: parameter file, ``-p`` overrides, namespace."""
    args = ["--ros-args"]
    if params_file is not None:
        args += ["--params-file", str(params_file)]
    for name, value in overrides.items():
        args += ["-p", f"{name}:={_ros_value(value)}"]
    if namespace:
        args += ["-r", f"__ns:=/{namespace.strip('/')}"]
    return args


@dataclass
class LaunchSettings:
    camera_source: str = "synthetic"
    camera_model: str = "realsense"
    config_dir: Path | None = None
    checkpoint: str = ""
    duration: float = 10.0
    out: Path | None = None
    camera_overrides: dict = field(default_factory=dict)
    detector_overrides: dict = field(default_factory=dict)
    domain_id: int | None = None


@dataclass
class LaunchReport:
    grasp_arrays: int = 0
    nonempty: int = 0
    frames: int = 0
    best_score: float = float("nan")
    picture: Path | None = None
    last_grasps: object = None  # GraspGroup


def _files(cfg_dir: Path) -> tuple[Path, Path]:
    cam, det = cfg_dir / "camera_node.yaml", cfg_dir / "grasp_detector_node.yaml"
    for f in (cam, det):
        if not f.is_file():
            raise FileNotFoundError(f"parameter file not found: {f} (--config-dir must hold "
                                    "camera_node.yaml and grasp_detector_node.yaml)")
    return cam, det


def run_launch(s: LaunchSettings, echo: Callable[[str], None] = print) -> LaunchReport:
    """Run camera + detector (+ monitor) for ``s.duration`` seconds; see the module docstring."""
    ensure_loopback_default()
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import MultiThreadedExecutor

    from .camera_node import CameraNode
    from .grasp_detector_node import GraspDetectorNode
    from .monitor import LaunchMonitor

    cfg_dir = Path(s.config_dir) if s.config_dir else default_config_dir()
    cam_yaml, det_yaml = _files(cfg_dir)
    cam_over = {"source": s.camera_source, "camera_model": s.camera_model, **s.camera_overrides}
    det_over = dict(s.detector_overrides)
    if s.checkpoint:
        det_over["checkpoint"] = s.checkpoint

    ctx = Context()
    init_kwargs = {"context": ctx, "args": []}
    if s.domain_id is not None:
        init_kwargs["domain_id"] = s.domain_id
    rclpy.init(**init_kwargs)
    nodes: list = []
    executor = None
    try:
        nodes.append(CameraNode(context=ctx, cli_args=node_cli_args(cam_yaml, cam_over, CAMERA_NAMESPACE)))
        nodes.append(GraspDetectorNode(context=ctx, cli_args=node_cli_args(det_yaml, det_over)))
        monitor = LaunchMonitor(CAMERA_NAMESPACE, echo, context=ctx)
        nodes.append(monitor)
        report = monitor.report

        executor = MultiThreadedExecutor(num_threads=4, context=ctx)
        for n in nodes:
            executor.add_node(n)
        echo(f"graspnet-ros launch: camera '{s.camera_source}' ({s.camera_model}) + grasp detector "
             f"'{nodes[1].pipeline.detector.name}', config {cfg_dir}, for {s.duration:.0f} s")
        deadline = time.monotonic() + s.duration
        while rclpy.ok(context=ctx) and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        if s.out is not None:
            report.picture = monitor.write_picture(s.out)
            if report.picture:
                echo(f"picture: {report.picture}")
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
        for n in reversed(nodes):
            n.destroy_node()
        rclpy.try_shutdown(context=ctx)
    echo(f"received {report.grasp_arrays} grasp arrays ({report.nonempty} with grasps) "
         f"for {report.frames} camera frames")
    return report

