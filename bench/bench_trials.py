"""Grasp success-rate trials in the MuJoCo simulator.

Prints:
  * score-bins (paper Table 2) on simulated boxes and cylinders with their
    force-closure labels, s = 1.0, 0.5, 0.1, N grasps per object and bin, in
    the paper's table layout; or, with --dataset-root, on the ground-truth
    grasps of a (synthetic) GraspNet-1Billion root's objects;
  * the negative control measured in the same run: the same s = 1.0 grasps
    with the jaws kept open (must be ~0%);
  * clear-table on random clutter scenes with the ground-truth detector:
    success rate and completion rate;
  * trials per second.

Run: .venv/bin/python bench/bench_trials.py [--trials 20] [--scenes 3] [--dataset-root /tmp/gn_tiny]
Output and resumable logs under /tmp/graspnet_ros_bench_trials (deleted first unless --resume).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from graspnet_ros.trials.config import SessionConfig
from graspnet_ros.trials.results import TrialLog, write_json_atomic
from graspnet_ros.trials.scenes import dataset_cases
from graspnet_ros.trials.score_bins import format_score_table, plot_score_bins, run_score_bins, score_bins_data
from graspnet_ros.trials.session import run_session


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20, help="grasps per object and score bin")
    ap.add_argument("--objects", nargs="+", default=["box_5x5x8", "box_7x4x10", "cylinder_r3h10", "cylinder_r2h12"])
    ap.add_argument("--scenes", type=int, default=3, help="clear-table scenes (0 skips)")
    ap.add_argument("--dataset-root", help="score-bins on this dataset root's ground-truth labels")
    ap.add_argument("--out", default="/tmp/graspnet_ros_bench_trials")
    ap.add_argument("--resume", action="store_true")
    args = ap.parse_args()
    out = Path(args.out)
    if out.exists() and not args.resume:
        shutil.rmtree(out)
    cache = Path("/tmp/graspnet_ros_trial_labels")

    print(f"== score-bins, {args.trials} grasps per object and bin ==")
    if args.dataset_root:
        t0 = time.perf_counter()
        cases = dataset_cases(args.dataset_root)
        print(f"{len(cases)} objects from {args.dataset_root} ({time.perf_counter() - t0:.1f} s to load)")
        results = {}
        for tag, close in (("", True), ("_open_jaws", False)):
            log = TrialLog(out / f"dataset_score_bins{tag}.jsonl")
            t0 = time.perf_counter()
            bins = (1.0, 0.5, 0.1) if close else (1.0,)
            stats = run_score_bins(cases, log, args.trials, bins, close_jaws=close)
            results[tag] = (stats, time.perf_counter() - t0, sum(b.trials for p in stats.values()
                                                                 for b in p.values()))
        stats, secs, n = results[""]
        print(format_score_table(stats))
        print(f"{n} trials in {secs:.1f} s ({n / secs:.1f} trials/s)")
        plot = plot_score_bins(stats, out / "dataset_success_rate.png")
        write_json_atomic(out / "dataset_results.json", score_bins_data(stats))
        neg, nsecs, nn = results["_open_jaws"]
        k = sum(p[1.0].successes for p in neg.values())
        print(f"negative control (s=1.0, jaws open): {k}/{nn} = {k / max(nn, 1):.0%}")
        print(f"plot: {plot}")
    else:
        cfg = SessionConfig(protocol="score-bins", trials=args.trials, objects=args.objects, out=out / "score_bins",
                            label_cache=cache)
        t0 = time.perf_counter()
        rep = run_session(cfg)
        print(rep.table)
        d = rep.data
        print(f"{d['trials_run_now']} trials in {d['trial_seconds']:.1f} s of execution "
              f"({d['trials_run_now'] / max(d['trial_seconds'], 1e-9):.1f} trials/s); session "
              f"{time.perf_counter() - t0:.1f} s including grasp labelling (cached in {cache})")
        neg_cfg = SessionConfig(protocol="score-bins", trials=args.trials, objects=args.objects, bins=(1.0,),
                                out=out / "score_bins", label_cache=cache, negative_control=True)
        neg = run_session(neg_cfg).data["overall"]["1"]
        print(f"negative control (same s=1.0 grasps, jaws kept open): {neg['successes']}/{neg['trials']} = "
              f"{neg['rate']:.0%}")
        print(f"plot: {rep.plot}")

    if args.scenes:
        print(f"\n== clear-table, {args.scenes} scenes of 5 primitives, ground-truth detector ==")
        cfg = SessionConfig(protocol="clear-table", trials=args.scenes, out=out / "clear_table", label_cache=cache)
        t0 = time.perf_counter()
        rep = run_session(cfg)
        print(rep.table)
        d = rep.data
        print(f"{d['trials_run_now']} attempts, {d['trial_seconds']:.1f} s in detect+execute, session "
              f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
