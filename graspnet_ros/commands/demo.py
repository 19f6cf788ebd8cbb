"""``graspnet-ros demo``: label grasps on one mesh by force closure and draw them."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo, summary

    print(summary(run_demo(args.mesh, args.out, seed=args.seed)))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help=__doc__.split(":", 1)[1].strip())
    p.add_argument("--mesh", help="mesh file in metres (default: a built-in soup-can cylinder)")
    p.add_argument("--out", default="output/demo_grasps.png", help="PNG to write")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
