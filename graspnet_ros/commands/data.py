"""``graspnet-ros data``: generate, check and draw GraspNet-1Billion dataset roots.

Sub-commands:
  generate --root DIR --preset {tiny,small,full} [--workers N] [--scheduler ADDRESS|local] [--seed S]
           [--no-annotate] [--noise simple|sensor]
  compact  --root DIR [--objects ...] [--workers N] [--scheduler ADDRESS|local]
  check    --root DIR [--deep]   (--deep decodes every file and lists every broken one)
  draw     --root DIR --scene S --ann A [--camera realsense|kinect] --out PNG
"""

from __future__ import annotations

import argparse
import sys


def run_generate(args: argparse.Namespace) -> int:
    from ..dataset.generate import generate

    try:
        report = generate(args.root, args.preset, workers=args.workers, seed=args.seed,
                          annotate_labels=not args.no_annotate, scheduler=args.scheduler, noise=args.noise)
    except ImportError as exc:
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


def draw_frame(root: str, scene: int, ann: int, camera: str, out: str) -> str:
    """Save a 3-panel picture of one frame: RGB with each object's model points
    projected from its annotated pose (a pose error shows as misaligned dots),
    depth (mm) and the label image. Returns a one-line summary."""
    from pathlib import Path

    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..dataset.annotations_xml import read_annotations
    from ..dataset.layout import Layout
    from ..dataset.objects import load_model

    layout = Layout(root)
    files = {k: layout.frame_file(scene, camera, k, ann) for k in ("rgb", "depth", "label", "annotations")}
    for kind, path in files.items():
        if not path.is_file():
            raise FileNotFoundError(f"{kind} of scene {scene} {camera} frame {ann} not found: {path}")
    rgb = cv2.cvtColor(cv2.imread(str(files["rgb"]), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    depth = cv2.imread(str(files["depth"]), cv2.IMREAD_UNCHANGED)
    label = cv2.imread(str(files["label"]), cv2.IMREAD_UNCHANGED)
    K = np.load(layout.camK(scene, camera))
    fig, axes = plt.subplots(1, 3, figsize=(18, 3.6), constrained_layout=True)
    axes[0].imshow(rgb)
    objects = read_annotations(files["annotations"])
    cmap = plt.get_cmap("tab20")
    for k, obj in enumerate(objects):
        verts = load_model(layout, obj.obj_id).vertices
        pts = verts[:: max(1, len(verts) // 1500)] @ obj.pose[:3, :3].T + obj.pose[:3, 3]
        pts = pts[pts[:, 2] > 0.05]
        uv = pts @ K.T
        uv = uv[:, :2] / uv[:, 2:]
        axes[0].scatter(uv[:, 0], uv[:, 1], s=0.3, color=cmap(k % 20), alpha=0.6)
    axes[0].set_xlim(0, rgb.shape[1])
    axes[0].set_ylim(rgb.shape[0], 0)
    axes[0].set_title(f"scene {scene} {camera} frame {ann}: RGB + posed models")
    valid = depth[depth > 0]
    lo, hi = (np.percentile(valid, [1, 99]) if valid.size else (0, 1))
    im = axes[1].imshow(np.where(depth > 0, depth, np.nan), cmap="viridis", vmin=lo, vmax=hi)
    fig.colorbar(im, ax=axes[1], label="depth (mm)")
    axes[1].set_title(f"depth ({(depth == 0).mean() * 100:.1f} % invalid)")
    axes[2].imshow(np.where(label > 0, label, np.nan), cmap="tab20", interpolation="nearest")
    axes[2].set_title(f"label (object id + 1): {sorted(set(np.unique(label).tolist()) - {0})}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return f"wrote {out}: {len(objects)} objects"


def run_draw(args: argparse.Namespace) -> int:
    print(draw_frame(args.root, args.scene, args.ann, args.camera, args.out))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="generate, check and draw GraspNet-1Billion dataset roots",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")

    g = sub.add_parser("generate", help="generate (or complete) a synthetic dataset root")
    g.add_argument("--root", required=True, help="dataset root folder")
    g.add_argument("--preset", choices=("tiny", "small", "full"), default="tiny")
    g.add_argument("--workers", type=int, default=1, help="processes (default 1; with --scheduler local: "
                                                          "Dask worker processes)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run one task per object, scene and label file on a dask.distributed scheduler "
                        "(tcp://host:8786; workers must see --root at the same path), or 'local' for a "
                        "LocalCluster of --workers processes (default: the local process pool)")
    g.add_argument("--seed", type=int, default=0, help="every scene is a function of (seed, scene id)")
    g.add_argument("--no-annotate", action="store_true", help="skip grasp, tolerance and collision labels")
    g.add_argument("--noise", choices=("simple", "sensor"), default="simple",
                   help="depth model: per-pixel noise on the render (default) or the camera simulated "
                        "(active stereo / time of flight, about 1 s per frame); recorded in synthetic.yaml")
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

    d = sub.add_parser("draw", help="draw one frame: RGB with posed models, depth, labels")
    d.add_argument("--root", required=True)
    d.add_argument("--scene", type=int, required=True)
    d.add_argument("--ann", type=int, required=True, help="frame (annotation) id")
    d.add_argument("--camera", choices=("realsense", "kinect"), default="realsense")
    d.add_argument("--out", required=True, help="PNG to write")
    d.set_defaults(func=run_draw)
