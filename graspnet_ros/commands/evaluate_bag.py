"""``graspnet-ros evaluate-bag``: benchmark a rosbag2 recording against dataset ground truth."""

from __future__ import annotations

import argparse


def parse_overrides(items: list[str] | None) -> dict:
    """``name=value`` pairs (values parsed as YAML) of detector parameters."""
    import yaml

    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set expects name=value, got '{item}'")
        key, value = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(value)
    return out


def options_from_args(args: argparse.Namespace):
    from ..bags import BagTopics
    from ..offline.evaluate_bag import EvaluateBagOptions

    defaults = BagTopics()
    topics = BagTopics(depth=args.depth_topic or defaults.depth,
                       camera_info=args.camera_info_topic or defaults.camera_info,
                       cloud=args.cloud_topic or defaults.cloud,
                       identity=args.identity_topic or defaults.identity)
    return EvaluateBagOptions(bag=args.bag, root=args.root, out=args.out, topics=topics,
                              grasps_topic=args.grasps_topic or None, input=args.input,
                              detector_config=args.config, detector_overrides=parse_overrides(args.set),
                              every_n=args.every_n, start=args.start, end=args.end, rate=args.rate,
                              workers=args.workers, write_bag=args.write_bag, storage=args.storage,
                              plot=not args.no_plot)


def run(args: argparse.Namespace) -> int:
    from ..offline.evaluate_bag import evaluate_bag

    report = evaluate_bag(options_from_args(args), log=print if args.verbose else (lambda _m: None))
    if report.table:
        print(report.table)
    print(f"{report.num_frames} frames evaluated, {report.skipped.total} skipped"
          + (f" ({dict(report.skipped.counts)})" if report.skipped.total else ""))
    t = report.timings
    print(f"time: read {t['read']:.2f} s, detect {t['detect']:.2f} s, evaluate {t['evaluate']:.2f} s, "
          f"total {t['total']:.2f} s")
    for name, path in report.paths.items():
        print(f"  {name}: {path}")
    return 0 if report.num_frames else 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bag", required=True, help="rosbag2 folder (mcap or sqlite3)")
    p.add_argument("--root", required=True, help="dataset root holding the frames' ground truth")
    p.add_argument("--out", default="output/evaluate_bag", help="results folder")
    p.add_argument("--grasps-topic", default="",
                   help="evaluate this recorded graspnet_ros/GraspArray topic instead of running the detector")
    p.add_argument("--input", default="depth", choices=("depth", "cloud"),
                   help="detector input: depth Image + CameraInfo, or the PointCloud2 topic")
    p.add_argument("--depth-topic", default="")
    p.add_argument("--camera-info-topic", default="")
    p.add_argument("--cloud-topic", default="")
    p.add_argument("--identity-topic", default="")
    p.add_argument("--config", default=None, help="grasp_detector_node YAML (default: the package's)")
    p.add_argument("--set", nargs="*", metavar="NAME=VALUE", help="override detector parameters")
    p.add_argument("--every-n", type=int, default=1, help="evaluate every n-th frame")
    p.add_argument("--start", type=float, default=None, help="window start, s from the bag's start")
    p.add_argument("--end", type=float, default=None, help="window end, s from the bag's start")
    p.add_argument("--rate", type=float, default=0.0, help="0 = as fast as possible, 1 = recorded rate")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--write-bag", default=None, help="new bag: input topics + detected grasps")
    p.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"), help="of --write-bag")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--verbose", action="store_true")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate-bag", help=__doc__.split(":", 1)[1].strip())
    add_arguments(p)
    p.set_defaults(func=run)
