"""``graspnet-ros launch``: camera + live grasp detector in one process, no ROS CLI needed."""

from __future__ import annotations

import argparse
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from ..nodes.launcher import LaunchSettings, run_launch

    if args.duration <= 0:
        raise ValueError("--duration must be > 0 seconds")
    report = run_launch(LaunchSettings(
        camera_source=args.camera_source, camera_model=args.camera_model,
        config_dir=Path(args.config_dir) if args.config_dir else None,
        checkpoint=args.checkpoint or "", duration=args.duration,
        out=Path(args.out) if args.out else None))
    return 0 if report.grasp_arrays > 0 else 1


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "launch", help=__doc__.split(":", 1)[1].strip(),
        description="Runs camera_node and grasp_detector_node (one executor) with the same YAML "
                    "files as launch/grasp.launch.py, prints every detection and writes a PNG of the "
                    "latest grasps on the colour image. DDS stays on localhost unless "
                    "ROS_AUTOMATIC_DISCOVERY_RANGE is set.")
    p.add_argument("--camera-source", default="synthetic",
                   choices=["synthetic", "realsense", "kinect", "dataset"])
    p.add_argument("--camera-model", default="realsense", choices=["realsense", "kinect"],
                   help="intrinsics of the synthetic camera")
    p.add_argument("--config-dir", help="folder with camera_node.yaml and grasp_detector_node.yaml "
                                        "(default: the package's config/)")
    p.add_argument("--checkpoint", help="network checkpoint (default: the model-free detector)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds to run (default 10)")
    p.add_argument("--out", default="output/launch_grasps.png", help="PNG to write ('' = none)")
    p.set_defaults(func=run)
