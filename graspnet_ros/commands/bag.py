"""``graspnet-ros bag``: write rosbag2 files (mcap or sqlite3) from dataset frames."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    if args.bag_command != "from-dataset":
        raise ValueError("use `graspnet-ros bag from-dataset --root ... --out ...`")
    from ..bags import write_dataset_bag

    report = write_dataset_bag(args.root, args.scenes, args.camera, args.out, storage=args.storage,
                               cloud=args.cloud, ann_ids=args.frames, frame_period=1.0 / args.rate,
                               log=print if args.verbose else None)
    print(f"wrote {report.frames} frames ({report.messages} messages) to {report.path}")
    for topic, msgtype in report.topics.items():
        print(f"  {topic} [{msgtype}]")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bag", help=__doc__.split(":", 1)[1].strip())
    sub = p.add_subparsers(dest="bag_command", required=True)
    q = sub.add_parser("from-dataset", help="replay dataset frames into a new bag (colour, depth 16UC1 mm, "
                       "CameraInfo, /tf camera pose, DatasetFrame identity, optional PointCloud2)")
    q.add_argument("--root", required=True, help="GraspNet-1Billion root (real or synthetic)")
    q.add_argument("--scenes", type=int, nargs="+", default=None, help="scene ids (default: all present)")
    q.add_argument("--frames", type=int, nargs="+", default=None, help="annotation ids per scene (default: all)")
    q.add_argument("--camera", default="realsense", choices=("realsense", "kinect"))
    q.add_argument("--out", required=True, help="bag folder to create (must not exist)")
    q.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"))
    q.add_argument("--cloud", action="store_true", help="also write an organised PointCloud2 per frame")
    q.add_argument("--rate", type=float, default=10.0, help="frames per second of the bag's clock (Hz)")
    q.add_argument("--verbose", action="store_true")
    p.set_defaults(func=run)
