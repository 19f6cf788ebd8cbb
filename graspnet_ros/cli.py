"""The ``graspnet-ros`` command (works without a ROS install)."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo, summary

    result = run_demo(args.mesh, args.out, seed=args.seed)
    print(summary(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graspnet-ros", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="label grasps on one mesh by force closure and draw them")
    demo.add_argument("--mesh", help="mesh file in metres (default: a built-in soup-can cylinder)")
    demo.add_argument("--out", default="output/demo_grasps.png", help="PNG to write")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"graspnet-ros {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
