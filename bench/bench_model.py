"""Speed and memory of the grasp network on this machine.

Prints, for the "cpu" and "paper" configs (untrained weights; every seed is
decoded, objectness threshold 0, so collision checks and NMS see the
worst-case number of grasps), for the shipped cpu checkpoint (trained
weights, default thresholds: what a user runs) and for the model-free
baseline detector:

  * end-to-end latency per frame of 20k points, median over --frames frames
    of toy box scenes (or, with --root, test frames of a dataset root
    cropped to the objects' box), split into preprocess / network / decode / gaf /
    collision / nms (ms), and the peak resident memory of the process;
  * training steps per second (batch 2, one toy frame, augmentation on);
  * farthest point sampling: fpsample's exact C++ FPS vs the torch loop
    (the baseline measured in the same run).

Each configuration runs in its own subprocess so peak memory is its own.
Run: scripts/run.sh bench model [--frames 50] [--threads 2] [--root DATASET]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def dataset_frames(root: str, n: int, num_points: int = 20000) -> list[np.ndarray]:
    """n clouds of 20k points from the test scenes of a dataset root (objects box + 2 cm crop)."""
    from graspnet_ros.dataset.cloud import frame_point_cloud
    from graspnet_ros.dataset.reader import GraspNetDataset

    ds = GraspNetDataset(root, "realsense")
    scenes = [s for s in ds.scene_ids() if s >= 100]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        s = scenes[i % len(scenes)]
        c = frame_point_cloud(ds.frame(s, (i // len(scenes)) % ds.num_frames(s)), workspace="objects")
        c = c[np.isfinite(c).all(axis=1)]
        out.append(c[rng.choice(len(c), num_points, replace=len(c) < num_points)])
    return out


def frames(n: int, num_points: int = 20000, root: str | None = None) -> list[np.ndarray]:
    from graspnet_ros.toy import frame as toy_scene

    if root:
        return dataset_frames(root, n, num_points)

    rng = np.random.default_rng(0)
    scenes = []
    for i in range(5):
        boxes = tuple(((*rng.uniform(0.03, 0.08, 2), rng.uniform(0.04, 0.12)),
                       (*rng.uniform(-0.15, 0.15, 2), rng.uniform(-np.pi, np.pi))) for _ in range(4))
        s = toy_scene.make_scene(boxes, noise=0.001, seed=i)
        pts, _ = s.cloud()
        scenes.append(pts[np.linalg.norm(pts - s.T_cam_table[:3, 3], axis=1) < 0.35])
    return [scenes[i % 5][rng.choice(len(scenes[i % 5]), num_points, replace=False)] for i in range(n)]


def run_one(kind: str, n_frames: int, threads: int, root: str | None = None,
            checkpoint: str | None = None) -> dict:
    import torch

    from graspnet_ros.model.config import get_config
    from graspnet_ros.model.detector import DetectorConfig, GraspDetector
    from graspnet_ros.model.graspnet import GraspNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    clouds = frames(n_frames, root=root)
    if kind == "baseline":
        det = GraspDetector(None)
    elif kind == "shipped":  # trained weights, default thresholds: the grasp counts a user sees
        from graspnet_ros.model.checkpoint import load_model, shipped_checkpoint

        det = GraspDetector(load_model(checkpoint or shipped_checkpoint()))
    else:
        det = GraspDetector(GraspNet(get_config(kind)), DetectorConfig(objectness_threshold=0.0))
    for c in clouds[:2]:
        det.detect(c)  # warm-up
    rows = [det.detect(c) for c in clouds]
    stages = list(rows[0].timings)
    out = {"kind": kind, "frames": n_frames, "threads": threads,
           "median_ms": {k: 1000.0 * float(np.median([r.timings[k] for r in rows])) for k in stages},
           "grasps_before_collision": float(np.median([r.stats["candidates"] for r in rows])),
           "grasps_out": float(np.median([len(r.grasps) for r in rows]))}
    if kind in ("cpu", "paper"):
        out["train_steps_per_s"] = train_speed(kind)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def train_speed(kind: str, steps: int = 4) -> float:
    import torch

    from graspnet_ros.toy import frame as toy_scene
    from graspnet_ros.model.config import LabelConfig, get_config
    from graspnet_ros.model.graspnet import GraspNet
    from graspnet_ros.model.train import StaticFrames, augmentation, train_step

    cfg = get_config(kind)
    src = StaticFrames([toy_scene.training_frame(toy_scene.make_scene(), 16)], voxel_size=0.005)
    model = GraspNet(cfg).train()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    rng = np.random.default_rng(0)
    lab = LabelConfig(match_radius=0.015)

    def batch():
        return [src.get(0, cfg.num_points, rng).transformed(augmentation(rng)) for _ in range(2)]

    train_step(model, batch(), opt, label_cfg=lab)
    t = time.perf_counter()
    for _ in range(steps):
        train_step(model, batch(), opt, label_cfg=lab)
    return steps / (time.perf_counter() - t)


def fps_compare(threads: int) -> list[dict]:
    import torch

    from graspnet_ros.model.pointops import farthest_point_sample

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    rows = []
    for n, m in ((8192, 1024), (20000, 2048)):
        x = torch.from_numpy(rng.random((1, n, 3)).astype(np.float32))
        res = {}
        for backend in ("fpsample", "torch"):
            t = time.perf_counter()
            idx = farthest_point_sample(x, m, backend)
            res[backend] = (time.perf_counter() - t) * 1000
            res[backend + "_idx"] = idx
        rows.append({"points": n, "samples": m, "fpsample_ms": res["fpsample"], "torch_loop_ms": res["torch"],
                     "identical": bool(torch.equal(res["fpsample_idx"], res["torch_idx"]))})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kinds", default="baseline,cpu,shipped,paper",
                    help="baseline, cpu / paper (untrained, every seed decoded: worst case), "
                         "shipped (the shipped cpu checkpoint, default thresholds)")
    ap.add_argument("--checkpoint", help="weights for 'shipped' (default: the shipped checkpoint)")
    ap.add_argument("--root", help="take the clouds from this dataset root's test scenes "
                                   "(default: toy box scenes)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.frames, args.threads, args.root, args.checkpoint)))
        return
    print(f"grasp network latency, median over {args.frames} frames of 20k points "
          f"({'test scenes of ' + args.root if args.root else 'toy box scenes'}), {args.threads} torch threads")
    for kind in args.kinds.split(","):
        cmd = [sys.executable, __file__, "--one", kind, "--frames", str(args.frames), "--threads", str(args.threads)]
        cmd += ["--root", args.root] if args.root else []
        cmd += ["--checkpoint", args.checkpoint] if args.checkpoint else []
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(f"{kind}: failed\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        ms = r["median_ms"]
        stages = "  ".join(f"{k} {v:7.1f}" for k, v in ms.items())
        print(f"{kind:9s} {stages}  | grasps {r['grasps_before_collision']:.0f} -> {r['grasps_out']:.0f}"
              f"  | peak RSS {r['peak_rss_mb']:.0f} MB"
              + (f"  | train {r['train_steps_per_s']:.3f} steps/s (batch 2)" if "train_steps_per_s" in r else ""))
    print("farthest point sampling (baseline: the torch loop)")
    for row in fps_compare(args.threads):
        print(f"  {row['points']} -> {row['samples']}: fpsample {row['fpsample_ms']:.0f} ms, torch loop "
              f"{row['torch_loop_ms']:.0f} ms, identical indices: {row['identical']}")


if __name__ == "__main__":
    main()
