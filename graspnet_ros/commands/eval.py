"""``graspnet-ros eval``: score predicted grasps with the GraspNet-1Billion benchmark (AP, AP0.8, AP0.4).

Predictions in the reference dump layout DUMP/scene_%04d/CAMERA/%04d.npy
((N, 17) grasp arrays in each frame's camera frame). Prints the AP table and
writes OUT/results.json, OUT/accuracy.npz and OUT/precision_at_k.png.
"""

from __future__ import annotations

import argparse

from ..dataset.layout import parse_scene_ids


def run(args: argparse.Namespace) -> int:
    import contextlib
    import time
    from pathlib import Path

    from tqdm import tqdm

    from ..dataset.layout import scene_ids as split_scene_ids
    from ..evaluation import EvalConfig, ap_table, evaluate_scenes, summarize, write_results
    from ..evaluation.scene import frame_ids

    if args.scenes:
        scenes = parse_scene_ids(args.scenes)
    elif args.split == "scene":
        raise ValueError("--split scene needs --scenes IDS (e.g. --scenes 100 101 120-125)")
    else:
        scenes = split_scene_ids(args.split)
    root, dump = Path(args.root), Path(args.dump)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset root not found: {root}")
    if not dump.is_dir():
        raise FileNotFoundError(f"prediction dump not found: {dump}")
    config = EvalConfig(assign_max_distance=args.assign_max_distance)
    ann_ids = list(range(args.frames)) if args.frames else None
    total = sum(len(ann_ids) if ann_ids else len(frame_ids(root, s, args.camera)) for s in scenes)
    start = time.perf_counter()
    results = []
    with contextlib.ExitStack() as stack:
        pool = None
        if args.scheduler:  # one task per scene on a Dask cluster
            from ..distributed import dask_client, describe, executor

            client = stack.enter_context(dask_client(args.scheduler, args.workers))
            print(describe(client))
            pool = executor(client)
        with tqdm(total=total, unit="frame", desc=f"eval {args.camera}", disable=args.quiet) as bar:
            for result in evaluate_scenes(root, dump, scenes, args.camera, config, args.workers, ann_ids,
                                          executor=pool):
                results.append(result)
                bar.update(len(result.ann_ids))
                bar.set_postfix(scene=result.scene_id, ap=f"{100 * result.ap:.1f}")
    seconds = time.perf_counter() - start
    summary = summarize(results)
    extra = {"camera": args.camera, "root": str(root), "dump": str(dump), "seconds": seconds,
             "workers": args.workers, "scheduler": args.scheduler,
             "corrected_assignment": args.assign_max_distance is not None}
    paths = write_results(args.out, summary, results, config, extra, plot=not args.no_plot)
    if args.assign_max_distance is not None:
        print(f"NOTE: grasps farther than {args.assign_max_distance} m from every object are "
              "unassigned (corrected mode): not comparable with published numbers")
    print(ap_table(summary, args.camera))
    frames = sum(len(r.ann_ids) for r in results)
    print(f"{frames} frames in {seconds:.1f} s ({1000 * seconds / max(frames, 1):.1f} ms/frame "
          f"with {args.workers} worker(s)); wrote {', '.join(str(p) for p in paths.values())}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help=__doc__.split(":", 1)[1].strip().split("\n")[0],
                              description=__doc__)
    p.add_argument("--root", required=True, help="dataset root (GraspNet-1Billion layout)")
    p.add_argument("--dump", required=True, help="prediction folder: DUMP/scene_%%04d/CAMERA/%%04d.npy")
    p.add_argument("--camera", default="realsense", choices=("realsense", "kinect"))
    p.add_argument("--split", default="test", choices=("test", "seen", "similar", "novel", "scene"),
                   help="scenes to evaluate: test = 100-189, seen 100-129, similar 130-159, "
                        "novel 160-189, scene = the --scenes list (default: test)")
    p.add_argument("--scenes", nargs="+", metavar="IDS",
                   help="explicit scene ids, e.g. 100 101 120-125 (overrides --split)")
    p.add_argument("--frames", type=int, default=0, metavar="N",
                   help="evaluate only frames 0..N-1 of each scene (default: every annotated frame)")
    p.add_argument("--workers", type=int, default=1, help="processes, one scene each (default 1; with "
                                                          "--scheduler local: Dask worker processes)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="evaluate one scene per task on a dask.distributed scheduler (tcp://host:8786; "
                        "workers must see --root and --dump at the same paths), or 'local' for a "
                        "LocalCluster of --workers processes (default: the local process pool)")
    p.add_argument("--out", default="output/eval", help="folder for results.json, accuracy.npz, plot")
    p.add_argument("--assign-max-distance", type=float, default=None, metavar="M",
                   help="corrected mode: grasps farther than M metres from every object score -1 "
                        "in their own group (the reference has no such gate; default: off)")
    p.add_argument("--no-plot", action="store_true", help="skip precision_at_k.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
