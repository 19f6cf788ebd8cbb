"""Fit and check the score calibrations the package ships (issue 16 item 5).

1. Fit frames: train scenes (0..N-1) of the ``small`` preset's seen objects, generated
   here without grasp labels (the evaluator labels grasps from the object models),
   RealSense, simple depth noise as the shipped network's training data; resumable
   under ``--fit-root``.
2. Each detector (the model-free baseline; the shipped network with GAF off, since the
   map applies before GAF) runs through the detector node's default pipeline
   (segmentation, NMS) with RAW scores on every fit frame, keeping ``--max-grasps``; the
   evaluator labels each grasp (true score 1.1 - mu, 0 when not force-closure up to
   mu = 1, colliding or empty); an isotonic fit of true on raw scores
   (graspnet_ros.detection.scores) is written to graspnet_ros/data/score_calibration/
   baseline.json and beside the shipped checkpoint (model.scores.json) with ``--write``.
3. Check, on test scenes the fit never saw (three per test split: seen, similar, novel
   objects; the same scene sizes; generated in the same root): reliability tables (mean
   true score per predicted-score bin) of raw and calibrated scores, and AP / AP0.8 /
   AP0.4 of each detector as the node runs it (the network with GAF) without and with
   the map (the baseline's order, hence AP, cannot change; the network's GAF bins do).

Run: .venv/bin/python bench/bench_score_calibration.py [--write]
     [--fit-root /tmp/graspnet_score_fit] [--fit-scenes 12] [--frames 4]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np


#: Test scenes of the check: the first three of each test split (seen, similar, novel).
TEST_SCENES = (100, 101, 102, 130, 131, 132, 160, 161, 162)


def fit_root(root: Path, scenes: int, frames: int) -> Path:
    """Generate (or complete) the frames: ``small``'s objects and scene sizes, train scenes
    0..scenes-1 (the fit) and :data:`TEST_SCENES` (the check)."""
    from graspnet_ros.dataset.generate import generate
    from graspnet_ros.dataset.presets import Preset, get_preset

    small = get_preset("small")
    preset = Preset(name="score-fit", seen=small.seen, similar=small.similar, novel=small.novel,
                    scenes=tuple(range(scenes)) + TEST_SCENES, frames_per_camera=frames, test_frames=frames,
                    objects_per_scene=small.objects_per_scene, cameras=("realsense",), noise="simple",
                    scene="tabletop")
    generate(root, preset, workers=2, seed=0, annotate_labels=False, log=lambda *_: None)
    return root


CHECKPOINTS = {"baseline": "", "network": "shipped"}


def pipeline(name: str, max_grasps: int, calibration: str = "none", use_gaf: bool = True):
    """The default node pipeline around detector ``name``."""
    from graspnet_ros.detection.detector_params import build_pipeline, detector_params

    params = detector_params(overrides={"checkpoint": CHECKPOINTS[name], "max_grasps": max_grasps})
    options = {"use_gaf": use_gaf} if CHECKPOINTS[name] else {}
    return build_pipeline(params, score_calibration=calibration, **options)


def score_pairs(root: Path, scenes: list[int], camera: str, pipe, dump: Path, frames: int | None,
                top_k: int, results: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(raw, true) scores of the pipeline's grasps on every frame of ``scenes``; the scene results
    (AP) are appended to ``results``."""
    from graspnet_ros.dataset.cloud import frame_point_cloud
    from graspnet_ros.dataset.reader import GraspNetDataset
    from graspnet_ros.evaluation import EvalConfig
    from graspnet_ros.evaluation.calibration import true_scores
    from graspnet_ros.evaluation.ground_truth import ModelCache
    from graspnet_ros.evaluation.scene import evaluate_scene, frame_ids, prediction_path

    ds, cache, pairs = GraspNetDataset(root, camera), ModelCache(root), []
    for s in scenes:
        ids = frame_ids(root, s, camera)[:frames]
        for a in ids:
            cloud = frame_point_cloud(ds.frame(s, a))
            try:
                grasps = pipe.process(cloud, "camera").grasps
            except ValueError:  # nothing on the table
                grasps = None
            path = prediction_path(dump, s, camera, a)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, grasps.array if grasps is not None else np.zeros((0, 17)))
        res = evaluate_scene(root, dump, s, camera, EvalConfig(top_k=top_k), ids, cache,
                             on_frame=lambda _a, r: pairs.append(true_scores(r)))
        if results is not None:
            results.append(res)
    raw, true = (np.concatenate(x) for x in zip(*pairs))
    return raw, true


def main() -> None:
    from graspnet_ros.detection.scores import BASELINE_CALIBRATION, checkpoint_calibration, fit_score_calibration
    from graspnet_ros.evaluation.calibration import reliability_table
    from graspnet_ros.evaluation.report import ap_table
    from graspnet_ros.evaluation.scene import summarize
    from graspnet_ros.model.checkpoint import shipped_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit-root", type=Path, default=Path("/tmp/graspnet_score_fit"))
    ap.add_argument("--fit-scenes", type=int, default=12)
    ap.add_argument("--frames", type=int, default=4, help="frames per scene (fit and test)")
    ap.add_argument("--max-grasps", type=int, default=100, help="grasps kept per frame (fit and check)")
    ap.add_argument("--write", action="store_true", help="write the shipped calibration files")
    ap.add_argument("--out", type=Path, default=Path("output/bench_score_calibration"))
    args = ap.parse_args()

    t0 = time.perf_counter()
    fit_root(args.fit_root, args.fit_scenes, args.frames)
    print(f"fit frames: {args.fit_scenes} train scenes x {args.frames} RealSense frames in {args.fit_root} "
          f"({time.perf_counter() - t0:.0f} s)")
    report = {}
    targets = {"baseline": BASELINE_CALIBRATION, "network": checkpoint_calibration(shipped_checkpoint())}
    test = list(TEST_SCENES)
    for name in CHECKPOINTS:
        t = time.perf_counter()
        fit_pipe = pipeline(name, args.max_grasps, use_gaf=False)
        raw, true = score_pairs(args.fit_root, list(range(args.fit_scenes)), "realsense", fit_pipe,
                                args.out / "fit" / name, args.frames, args.max_grasps)
        cal = fit_score_calibration(raw, true, fitted_on=(
            f"bench/bench_score_calibration.py: {len(raw)} grasps of the default pipeline (max {args.max_grasps} "
            f"per frame{'' if name == 'baseline' else ', GAF off'}) on {args.fit_scenes} x {args.frames} "
            "RealSense frames of train scenes of small's seen objects (simple noise)"))
        test_raw, test_true = score_pairs(args.fit_root, test, "realsense", fit_pipe, args.out / "test" / name,
                                          args.frames, args.max_grasps)
        before, after = reliability_table(test_raw, test_true), reliability_table(cal.apply(test_raw), test_true)
        path = cal.save(args.out / f"{name}.scores.json")
        ap = {}
        for label, spec in (("raw", "none"), ("calibrated", str(path))):
            results: list = []
            score_pairs(args.fit_root, test, "realsense", pipeline(name, 50, spec), args.out / f"ap_{label}" / name,
                        args.frames, 50, results)
            ap[label] = ap_table(summarize(results), "realsense")
        print(f"\n{name}: {len(raw)} fit grasps, {len(test_raw)} test grasps ({time.perf_counter() - t:.0f} s); "
              f"knots raw -> calibrated: " + ", ".join(f"{x:.2f}->{y:.2f}" for x, y in zip(cal.raw, cal.calibrated)))
        print(f"test scenes {test}, raw scores:\n{before.format()}")
        print(f"test scenes, calibrated scores:\n{after.format()}")
        for label, table in ap.items():
            print(f"AP as the node runs it, {label} scores:\n{table}")
        report[name] = {"fit_grasps": len(raw), "test_grasps": len(test_raw), "raw": list(cal.raw),
                        "calibrated": list(cal.calibrated), "test_before": before.format(),
                        "test_after": after.format(), "ap": ap}
        if args.write:
            print(f"wrote {cal.save(targets[name])}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
