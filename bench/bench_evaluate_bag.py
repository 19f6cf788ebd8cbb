"""Frames per second through ``evaluate_bag``, split into bag reading, detection and evaluation.

On a synthetic ``tiny`` root (generated into a temporary folder unless
``--root`` is given; 1280 x 720 realsense frames), the chosen scenes are
written into a bag, then evaluated:

  * mode 1 (detector from config/grasp_detector_node.yaml) with 1 and 2 workers;
  * mode 2 (the grasps recorded by the first run, no detector);
  * baseline measured in the same run: reading the same frames' depth +
    intrinsics straight from the dataset files (PNG), against bag reading.

Run: .venv/bin/python bench/bench_evaluate_bag.py [--root ROOT] [--scenes 100 130] [--storage mcap]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from graspnet_ros.bags import read_bag_frames, write_dataset_bag
from graspnet_ros.dataset.reader import GraspNetDataset
from graspnet_ros.offline.evaluate_bag import DEFAULT_GRASPS_TOPIC, EvaluateBagOptions, evaluate_bag


def line(name: str, report) -> None:
    n, t = report.num_frames, report.timings
    print(f"{name:<28}{n:>7}{n / t['total']:>10.2f}{1000 * t['read'] / n:>10.0f}"
          f"{1000 * t['detect'] / n:>10.0f}{1000 * t['evaluate'] / n:>10.0f}{t['total']:>10.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=None, help="dataset root (default: generate the tiny preset)")
    ap.add_argument("--scenes", type=int, nargs="+", default=[100, 130])
    ap.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_evaluate_bag_"))
    try:
        root = Path(args.root) if args.root else tmp / "tiny"
        if args.root is None:
            from graspnet_ros.dataset.generate import generate

            t0 = time.perf_counter()
            generate(root, "tiny", workers=2, seed=0, log=lambda *_: None)
            print(f"generated tiny root in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        w = write_dataset_bag(root, args.scenes, "realsense", tmp / "bag", storage=args.storage)
        dt = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (tmp / "bag").iterdir()) / 1e6
        print(f"bag from-dataset ({args.storage}): {w.frames} frames, {size:.0f} MB in {dt:.2f} s "
              f"({w.frames / dt:.1f} frames/s)")

        t0 = time.perf_counter()
        n = sum(f.depth is not None for f in read_bag_frames(tmp / "bag"))
        t_bag = (time.perf_counter() - t0) / n
        ds = GraspNetDataset(root, "realsense")
        t0 = time.perf_counter()
        for s in args.scenes:
            for a in range(ds.num_frames(s)):
                _ = ds.frame(s, a).depth
        t_png = (time.perf_counter() - t0) / n
        print(f"read depth + intrinsics: bag {1000 * t_bag:.1f} ms/frame, dataset PNG (baseline) "
              f"{1000 * t_png:.1f} ms/frame")

        print(f"\n{'run':<28}{'frames':>7}{'frames/s':>10}{'read ms':>10}{'detect ms':>10}"
              f"{'eval ms':>10}{'total s':>10}")
        quiet = lambda _m: None  # noqa: E731
        r1 = evaluate_bag(EvaluateBagOptions(tmp / "bag", root, out=tmp / "ev1", plot=False,
                                             write_bag=tmp / "with_grasps"), log=quiet)
        line("detector, 1 worker", r1)
        r2 = evaluate_bag(EvaluateBagOptions(tmp / "bag", root, out=tmp / "ev2", plot=False, workers=2), log=quiet)
        line("detector, 2 workers", r2)
        r3 = evaluate_bag(EvaluateBagOptions(tmp / "with_grasps", root, out=tmp / "ev3", plot=False,
                                             grasps_topic=DEFAULT_GRASPS_TOPIC), log=quiet)
        line("recorded grasps (mode 2)", r3)
        print("(ms columns: summed per-frame time / frames; with 2 workers detection is serialised "
              "as in the node and evaluation overlaps it)")
        print(f"\nAP (detector run): {100 * r1.summary.overall['ap']:.2f}; mode 2 on its recorded grasps: "
              f"{100 * r3.summary.overall['ap']:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
