"""AP of the trained network vs the model-free baseline vs the network without GAF.

Issue #5's accuracy report: on the test scenes of a GraspNet-layout root
(seen 100-129, similar 130-159, novel 160-189; the synthetic "small" preset
by default) every method sees the SAME cloud of each frame -- the depth
image back-projected in the camera frame and cropped to the labelled
objects' box + 2 cm in the table frame, the crop graspnet-baseline's test
loader applies -- and its grasps are scored by the project's evaluator
(graspnet_ros.evaluation, reference semantics): AP, AP0.8, AP0.4 per split.

Also prints a reliability table per method and split (issue 16: is the predicted score
calibrated?): predicted-score bins, their grasp counts and mean true score (1.1 - mu of
the evaluator's label, 0 for grasps that are not force-closure, collide or are empty;
graspnet_ros.evaluation.calibration).

Methods, all through graspnet_ros.model.detector.GraspDetector with the same
pre/post-processing (voxel 5 mm, collision filter, pose NMS):
  * model      -- the checkpoint, GAF re-ranking on (paper section 4.5);
  * model-noGAF -- the same network outputs ranked by predicted score only;
  * graspness, graspness-noGAF -- the same for --graspness-checkpoint (issue 16 item 2:
    a second network, e.g. one trained with graspness-guided seeds, on the same frames);
  * baseline   -- the model-free antipodal detector (no checkpoint).

``--seeds fps|graspness`` switches the seeding of the --checkpoint network
(``checkpoint``: as trained; ``fps`` runs a graspness network with the
paper's FPS seeds, its graspness head unused; ``graspness`` needs a network
trained with graspness seeds); ``--graspness-seeds`` does the same for
--graspness-checkpoint.

Run: scripts/run.sh bench network_ap --root /tmp/small_full [--checkpoint PATH]
     [--graspness-checkpoint PATH] [--seeds checkpoint|fps|graspness]
     [--frames 8] [--workers 2] [--out output/bench_network_ap]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SEED_CHOICES = ("checkpoint", "fps", "graspness")


def load_network(checkpoint: Path, seeds: str = "checkpoint"):
    """A checkpoint's network, its seeding switched to ``seeds`` unless "checkpoint"."""
    from graspnet_ros.model.checkpoint import load_model

    net = load_model(checkpoint)
    if seeds != "checkpoint":
        net.set_seed_mode(seeds)
    return net


def detectors(checkpoint: Path, seed: int, grasps_per_seed: int | None = None, seeds: str = "checkpoint",
              graspness_checkpoint: Path | None = None, graspness_seeds: str = "checkpoint") -> dict:
    """Detector of each method (module docstring), networks first, the baseline last."""
    from graspnet_ros.model.detector import DetectorConfig, GraspDetector

    k = {} if grasps_per_seed is None else {"grasps_per_seed": grasps_per_seed}
    nets = {"model": load_network(checkpoint, seeds)}
    if graspness_checkpoint is not None:
        nets["graspness"] = load_network(graspness_checkpoint, graspness_seeds)
    dets = {}
    for name, net in nets.items():
        dets[name] = GraspDetector(net, DetectorConfig(seed=seed, **k))
        dets[f"{name}-noGAF"] = GraspDetector(net, DetectorConfig(use_gaf=False, seed=seed, **k))
    dets["baseline"] = GraspDetector(None, DetectorConfig(seed=seed))
    return dets


def write_dumps(root: Path, scenes: list[int], frames: int | None, camera: str, dets: dict,
                dump: Path) -> dict[str, list[float]]:
    """Detect on every (scene, frame) and save DUMP/method/scene_%04d/camera/%04d.npy; ms per frame."""
    from graspnet_ros.dataset.cloud import frame_point_cloud
    from graspnet_ros.dataset.reader import GraspNetDataset
    from graspnet_ros.evaluation.scene import frame_ids, prediction_path

    ds = GraspNetDataset(root, camera)
    times: dict[str, list[float]] = {m: [] for m in dets}
    for s in scenes:
        ids = frame_ids(root, s, camera)
        for a in ids[:frames] if frames else ids:
            cloud = frame_point_cloud(ds.frame(s, a), workspace="objects")
            cloud = cloud[np.isfinite(cloud).all(axis=1)]
            for name, det in dets.items():
                t = time.perf_counter()
                grasps = det.detect(cloud).grasps
                times[name].append((time.perf_counter() - t) * 1e3)
                path = prediction_path(dump / name, s, camera, a)
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, grasps.array)
        print(f"  scene {s}: detected", flush=True)
    return times


def reliability(root: Path, dump: Path, splits: dict[str, list[int]], camera: str,
                ann_ids: list[int] | None, methods: list[str]) -> dict[str, dict[str, str]]:
    """The reliability table of each method on each split (formatted), from a second, per-grasp pass."""
    from graspnet_ros.evaluation import EvalConfig
    from graspnet_ros.evaluation.calibration import reliability_table, true_scores
    from graspnet_ros.evaluation.ground_truth import ModelCache
    from graspnet_ros.evaluation.scene import evaluate_scene

    cache, out = ModelCache(root), {}
    for m in methods:
        out[m] = {}
        for sp, scenes in splits.items():
            pairs: list[tuple[np.ndarray, np.ndarray]] = []
            for s in scenes:
                evaluate_scene(root, dump / m, s, camera, EvalConfig(), ann_ids, cache,
                               on_frame=lambda _a, r: pairs.append(true_scores(r)))
            if pairs:
                pred, true = (np.concatenate(x) for x in zip(*pairs))
                out[m][sp] = reliability_table(pred, true).format()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path, help="GraspNet-layout dataset root with test scenes")
    ap.add_argument("--checkpoint", type=Path, default=None, help="default: the shipped checkpoint")
    ap.add_argument("--camera", default="realsense")
    ap.add_argument("--frames", type=int, default=None, help="first N annotated frames per scene (default all)")
    ap.add_argument("--workers", type=int, default=2, help="evaluation processes")
    ap.add_argument("--out", type=Path, default=Path("output/bench_network_ap"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grasps-per-seed", type=int, default=None,
                    help="network decode: grasps per seed (default: DetectorConfig's)")
    ap.add_argument("--seeds", choices=SEED_CHOICES, default="checkpoint",
                    help="seed sampling of the --checkpoint network (default: as it was trained)")
    ap.add_argument("--graspness-checkpoint", type=Path, default=None,
                    help="a second network on the same frames (methods graspness, graspness-noGAF)")
    ap.add_argument("--graspness-seeds", choices=SEED_CHOICES, default="checkpoint",
                    help="seed sampling of the --graspness-checkpoint network")
    args = ap.parse_args()

    from graspnet_ros.dataset.reader import GraspNetDataset
    from graspnet_ros.evaluation import EvalConfig, evaluate_scenes, summarize
    from graspnet_ros.evaluation.scene import frame_ids
    from graspnet_ros.model.checkpoint import shipped_checkpoint

    ckpt = args.checkpoint or shipped_checkpoint()
    ds = GraspNetDataset(args.root, args.camera)
    splits = {sp: ds.scene_ids(sp) for sp in ("seen", "similar", "novel")}
    scenes = [s for ids in splits.values() for s in ids]
    if not scenes:
        raise SystemExit(f"{args.root}: no test scenes (100-189) for camera {args.camera}")
    print(f"checkpoint {ckpt}; {len(scenes)} test scenes "
          + ", ".join(f"{k} {len(v)}" for k, v in splits.items())
          + f"; frames per scene: {args.frames or len(frame_ids(args.root, scenes[0], args.camera))}", flush=True)
    dump = args.out / "dump"
    t0 = time.perf_counter()
    dets = detectors(ckpt, args.seed, args.grasps_per_seed, args.seeds, args.graspness_checkpoint,
                     args.graspness_seeds)
    methods = list(dets)
    seed_modes = {m: d.model.seed_mode for m, d in dets.items() if d.model is not None}
    print("seeds: " + ", ".join(f"{m} {v}" for m, v in seed_modes.items()), flush=True)
    times = write_dumps(args.root, scenes, args.frames, args.camera, dets, dump)
    t_detect = time.perf_counter() - t0
    ann_ids = None
    if args.frames:
        ann_ids = frame_ids(args.root, scenes[0], args.camera)[:args.frames]
    table, report = [], {"checkpoint": str(ckpt), "root": str(args.root), "camera": args.camera,
                         "graspness_checkpoint": None if args.graspness_checkpoint is None
                         else str(args.graspness_checkpoint), "seed_modes": seed_modes,
                         "frames_per_scene": args.frames, "crop": "objects box + 2 cm (table frame)",
                         "detect_ms_median": {m: float(np.median(t)) for m, t in times.items()},
                         "detect_seconds": t_detect, "methods": {}}
    for m in methods:
        t = time.perf_counter()
        summary = summarize(evaluate_scenes(args.root, dump / m, scenes, args.camera, EvalConfig(),
                                            workers=args.workers, ann_ids=ann_ids))
        report["methods"][m] = {"splits": summary.splits, "overall": summary.overall,
                                "eval_seconds": time.perf_counter() - t}
        for sp in ("seen", "similar", "novel"):
            r = summary.splits.get(sp)
            if r:
                table.append((m, sp, 100 * r["ap"], 100 * r["ap_0.8"], 100 * r["ap_0.4"]))
    report["reliability"] = reliability(args.root, dump, splits, args.camera, ann_ids, methods)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=1, default=float))
    print(f"\nAP (%) on {args.camera}, same clouds for every method; detection median ms/frame: "
          + ", ".join(f"{m} {v:.0f}" for m, v in report["detect_ms_median"].items()))
    print(f"{'method':<16} {'split':<8} {'AP':>6} {'AP0.8':>6} {'AP0.4':>6}")
    for m, sp, a, a8, a4 in table:
        print(f"{m:<16} {sp:<8} {a:6.2f} {a8:6.2f} {a4:6.2f}")
    by = {(m, sp): a for m, sp, a, _, _ in table}
    for net in ("model", "graspness"):
        for sp in ("seen", "similar", "novel"):
            if (net, sp) in by:
                print(f"{sp:<8} {net}/baseline AP ratio {by[net, sp] / max(by['baseline', sp], 1e-9):.2f}, "
                      f"GAF gain {by[net, sp] - by[f'{net}-noGAF', sp]:+.2f} AP points")
    for m, per_split in report["reliability"].items():
        for sp, text in per_split.items():
            print(f"\nreliability of {m} on {sp} (mean true score per predicted-score bin):\n{text}")
    print(f"results: {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
