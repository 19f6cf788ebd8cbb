"""Speed of the benchmark evaluator on generated frames.

A generated scene (10 primitive objects on the table, GraspNet layout on
disk) with 1500 detector-like predicted grasps per frame. Prints, measured
in the same run:

  * evaluate_frame: ms per frame and frames/s on one core (ground truth
    already loaded, as within a scene);
  * evaluate_scene: the same including reading predictions and annotations
    and loading the scene's models once;
  * the naive twin (O(N^2) NMS, dense nearest point, whole table grid, one
    grasp at a time), on a few frames, and the speed-up; both give the
    same Precision@k matrices (checked).

For the ratio against the reference graspnetAPI 1.2.11 see
bench/compare_reference.py (needs a separate Python environment).

Run: .venv/bin/python bench/bench_eval.py [--frames 16] [--grasps 1500] [--naive-frames 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, like one worker of the pool

import numpy as np  # noqa: E402

from graspnet_ros.evaluation import evaluate_frame, evaluate_scene, load_predictions  # noqa: E402
from graspnet_ros.evaluation.frame import evaluate_frame_naive  # noqa: E402
from graspnet_ros.evaluation.ground_truth import FrameGroundTruth, ModelCache, SceneCamera  # noqa: E402
from graspnet_ros.evaluation.scene import prediction_path  # noqa: E402
from graspnet_ros.toy.table import write_toy_dump, write_toy_root  # noqa: E402
from graspnet_ros.dataset.layout import Layout  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--grasps", type=int, default=1500)
    ap.add_argument("--objects", type=int, default=10)
    ap.add_argument("--naive-frames", type=int, default=1)
    args = ap.parse_args()

    scene, camera = 100, "realsense"
    with tempfile.TemporaryDirectory(prefix="bench_eval_") as tmp:
        t0 = time.perf_counter()
        root = write_toy_root(f"{tmp}/root", (scene,), args.frames, args.objects)
        dump = write_toy_dump(root, f"{tmp}/dump", (scene,), args.frames, args.objects,
                              num_grasps=args.grasps)
        print(f"generated {args.frames} frames x {args.objects} objects x {args.grasps} grasps "
              f"in {time.perf_counter() - t0:.1f} s")

        cache = ModelCache(root)
        cams = SceneCamera.load(Layout(root), scene, camera)
        frames = [(load_predictions(prediction_path(dump, scene, camera, a)),
                   FrameGroundTruth.from_root(root, scene, camera, a, cache, cams))
                  for a in range(args.frames)]
        for grasps, gt in frames[:2]:  # warm-up (first ray casts build the BVHs)
            evaluate_frame(grasps, gt)

        times, results = [], []
        for grasps, gt in frames:
            t = time.perf_counter()
            results.append(evaluate_frame(grasps, gt))
            times.append(time.perf_counter() - t)
        ms = 1000 * np.asarray(times)
        print(f"evaluate_frame      : {ms.mean():7.1f} ms/frame (median {np.median(ms):.1f}, "
              f"max {ms.max():.1f}) = {1000 / ms.mean():6.1f} frames/s; "
              f"mean AP {100 * np.mean([r.ap for r in results]):.2f}, "
              f"{np.mean([len(r.grasps) for r in results]):.0f} grasps evaluated per frame")

        t = time.perf_counter()
        sr = evaluate_scene(root, dump, scene, camera)
        scene_s = time.perf_counter() - t
        print(f"evaluate_scene      : {1000 * scene_s / args.frames:7.1f} ms/frame incl. file reading and "
              f"loading {args.objects} models once ({scene_s:.2f} s for {args.frames} frames)")
        assert np.allclose(sr.accuracy, [r.accuracy for r in results])

        n = min(args.naive_frames, args.frames)
        naive_times = []
        for (grasps, gt), fast in zip(frames[:n], results[:n]):
            t = time.perf_counter()
            slow = evaluate_frame_naive(grasps, gt)
            naive_times.append(time.perf_counter() - t)
            assert np.array_equal(slow.accuracy, fast.accuracy) and np.array_equal(slow.labels, fast.labels)
        naive_ms = 1000 * np.mean(naive_times)
        print(f"naive twin (baseline): {naive_ms:7.1f} ms/frame on {n} frames -> "
              f"{naive_ms / ms[:n].mean():.0f}x slower; identical Precision@k and labels")
        full_test_h = 90 * 256 * ms.mean() / 1000 / 3600
        print(f"projected: 90 test scenes x 256 frames = {full_test_h:.2f} h on one core, "
              f"{full_test_h / 2:.2f} h with 2 workers (excluding model loading)")


if __name__ == "__main__":
    main()
