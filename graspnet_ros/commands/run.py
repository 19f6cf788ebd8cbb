"""``graspnet-ros run``: the whole loop: synthetic camera, grasp detector, simulated arm executing the best grasp."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..loop import run_loop, summary

    if args.objects < 0:
        raise ValueError(f"--objects must be >= 0, got {args.objects}")
    ids = None if args.ids is None else [int(v) for v in args.ids.split(",") if v.strip()]
    result = run_loop(args.objects, args.seed, args.attempts, args.camera, args.out, obj_ids=ids,
                      checkpoint=args.checkpoint, use_cache=not args.no_cache, noise=args.noise)
    print(summary(result))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("run", help=__doc__.split(":", 1)[1].strip())
    p.add_argument("--objects", type=int, default=5, help="objects in the scene (default 5)")
    p.add_argument("--ids", help="comma-separated object ids instead of a random choice (overrides --objects)")
    p.add_argument("--seed", type=int, default=0, help="scene, noise and detector seed")
    p.add_argument("--attempts", type=int, default=1,
                   help="grasp attempts; lifted objects are removed between them (clear the table)")
    p.add_argument("--camera", choices=("realsense", "kinect"), default="realsense")
    p.add_argument("--noise", choices=("sensor", "simple"), default="sensor",
                   help="depth model: the camera simulated (active stereo / time of flight, default) "
                        "or per-pixel noise on the render")
    p.add_argument("--checkpoint", help="network checkpoint (default: the model-free baseline)")
    p.add_argument("--out", default="output/loop.png", help="PNG to write")
    p.add_argument("--no-cache", action="store_true", help="prepare objects afresh (no object cache)")
    p.set_defaults(func=run)
