"""``graspnet-ros data``: generate, check and draw GraspNet-1Billion dataset roots.

Sub-commands:
  generate --root DIR --preset {tiny,small,full,realistic} [--workers N] [--scheduler ADDRESS|local] [--seed S]
           [--no-annotate] [--noise simple|sensor] [--scene tabletop|lab] [--scenes IDS]
  compact  --root DIR [--objects ...] [--workers N] [--scheduler ADDRESS|local]
  check    --root DIR [--deep]   (--deep decodes every file and lists every broken one)
  draw     --root DIR --scene S --ann A [--camera realsense|kinect] --out PNG
"""

from __future__ import annotations

import argparse
import sys


def run_generate(args: argparse.Namespace) -> int:
    from ..dataset.generate import generate
    from ..dataset.layout import parse_scene_ids

    try:
        scene_ids = parse_scene_ids(args.scenes) if args.scenes else None
        report = generate(args.root, args.preset, workers=args.workers, seed=args.seed,
                          annotate_labels=not args.no_annotate, scheduler=args.scheduler, noise=args.noise,
                          scene=args.scene, scene_ids=scene_ids)
    except (ValueError, ImportError) as exc:
        print(f"graspnet-ros data generate: error: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0


def run_compact(args: argparse.Namespace) -> int:
    from ..dataset.grasp_labels import compact_all

    checks = compact_all(args.root, args.objects, workers=args.workers, scheduler=args.scheduler)
    done = [c for c in checks if not c.get("skipped")]
    for c in done:
        print(f"object {c['obj_id']:03d}: {c['grasps']} grasps of {c['entries']} entries, "
              f"{c['bytes_original'] / 1e6:.1f} MB -> {c['bytes_compact'] / 1e6:.1f} MB, largest width error "
              f"{c['width_error_m'] * 1e3:.4f} mm, tolerance {c['tolerance_error_m'] * 1e3:.4f} mm")
    print(f"{len(done)} objects compacted, {len(checks) - len(done)} already up to date")
    return 0


def run_check(args: argparse.Namespace) -> int:
    """The thorough checker (:func:`graspnet_ros.dataset.check.check_root`): every problem
    with its file path; ``--deep`` decodes every file and lists every broken one."""
    from ..dataset.check import check_root

    report = check_root(args.root, deep=args.deep)
    print(report.format(max_per_category=10 ** 9 if args.deep else 20))
    return 0 if report.ok else 1


def run_draw(args: argparse.Namespace) -> int:
    """The frame with its best ground-truth grasps (:func:`graspnet_ros.dataset.draw.draw_frame`), or its posed
    object models when the root has no grasp labels yet."""
    from ..dataset.draw import draw_frame
    from ..dataset.reader import GraspNetDataset

    print(f"wrote {draw_frame(GraspNetDataset(args.root, args.camera), args.scene, args.ann, args.out)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="generate, check and draw GraspNet-1Billion dataset roots",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")

    g = sub.add_parser("generate", help="generate (or complete) a synthetic dataset root")
    g.add_argument("--root", required=True, help="dataset root folder")
    g.add_argument("--preset", choices=("tiny", "small", "full", "realistic"), default="tiny")
    g.add_argument("--workers", type=int, default=1, help="processes (default 1; with --scheduler local: "
                                                          "Dask worker processes)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run one task per object, scene and label file on a dask.distributed scheduler "
                        "(tcp://host:8786; workers must see --root at the same path), or 'local' for a "
                        "LocalCluster of --workers processes (default: the local process pool)")
    g.add_argument("--seed", type=int, default=0, help="every scene is a function of (seed, scene id)")
    g.add_argument("--no-annotate", action="store_true", help="skip grasp, tolerance and collision labels")
    g.add_argument("--noise", choices=("simple", "sensor"), default=None,
                   help="depth model: the camera simulated (sensor: active stereo / time of flight, about 1 s "
                        "per frame) or per-pixel noise on the render (simple); default: what the root records, "
                        "else the preset's (sensor; simple for tiny and small); recorded in synthetic.yaml")
    g.add_argument("--scene", choices=("tabletop", "lab"), default=None,
                   help="scene kind: the objects on a plain table (tabletop), or a lab around them (a finite "
                        "table on a floor, walls, a robot arm, distractors; label 0, not annotated); default: "
                        "what the root records, else the preset's (lab for full and realistic, else tabletop); "
                        "recorded in synthetic.yaml")
    g.add_argument("--scenes", nargs="+", metavar="IDS",
                   help="only these of the preset's scenes, their objects and labels: ids and ranges, e.g. "
                        "0-9 100 130-131 (default: all); a later run with other ids extends the same root")
    g.set_defaults(func=run_generate)

    k = sub.add_parser("compact", help="derive memory-mapped compact training labels (grasp_label_compact/)",
                       description="Write grasp_label_compact/%%03d_compact.npz per object: mu on the 0.1 grid "
                                   "(uint8, object collision folded in), width and tolerance in 0.01 mm (uint16), "
                                   "stored uncompressed so training reads only the rows it needs; every entry is "
                                   "checked against the original labels. graspnet-ros train uses them when present.")
    k.add_argument("--root", required=True)
    k.add_argument("--objects", type=int, nargs="+", help="object ids (default: every object with grasp labels)")
    k.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    k.add_argument("--scheduler", metavar="ADDRESS", help="one task per object on a dask.distributed scheduler, "
                                                          "or 'local' (a LocalCluster of --workers processes)")
    k.set_defaults(func=run_compact)

    c = sub.add_parser("check", help="check a dataset root's files (real or synthetic)")
    c.add_argument("--root", required=True)
    c.add_argument("--deep", action="store_true",
                   help="decode every file in full (PNG, npz CRCs, meta vs annotations) and list every broken file")
    c.set_defaults(func=run_check)

    d = sub.add_parser("draw", help="draw one frame: RGB with its labels and best ground-truth grasps "
                                    "(posed object models when the root has no labels yet)")
    d.add_argument("--root", required=True)
    d.add_argument("--scene", type=int, required=True)
    d.add_argument("--ann", type=int, required=True, help="frame (annotation) id")
    d.add_argument("--camera", choices=("realsense", "kinect"), default="realsense")
    d.add_argument("--out", required=True, help="PNG to write")
    d.set_defaults(func=run_draw)
