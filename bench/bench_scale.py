"""Scaling past one process: Dask data jobs, DDP training, labels of the real dataset's shapes.

Parts (``--parts dask ddp labels``, default all), each on this machine:

* dask: the ``tiny`` preset generated from scratch (objects, scenes,
  annotation) on a LocalCluster of 1 and of 2 worker processes; scene
  frames per second, object and scene labels per second, and the ratio.
* ddp: ``graspnet-ros train`` on the tiny preset's train scene (V = 60),
  global batch 2, one process vs ``torchrun --nproc_per_node 2`` (gloo);
  steps per second from the training log (start-up excluded).
* labels: grasp and scene-collision label files of the ``full`` preset's
  shapes (grasp points every 5 mm on the tiny preset's train-scene objects,
  V = 300, A = 12, D = 4; random values of the real dtypes, stored
  uncompressed) for those objects; ``data compact`` (time, sizes); the
  trainer's table reads (MB/s of label rows, tables/s) from the compact and
  the original files; peak RSS of a short training run on each, next to
  the step time. The printed extrapolation to 88 objects uses the fact that
  the trainer holds at most ``cache_size`` tables (capped in bytes), not the
  label files.

Run: .venv/bin/python bench/bench_scale.py [--parts dask ddp labels] [--steps 8] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from graspnet_ros.dataset.generate import generate

ENV = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_dask(work: Path) -> dict:
    out = {}
    for workers in (1, 2):
        root = work / f"dask{workers}"
        report = generate(root, "tiny", workers=workers, seed=0, log=lambda *_: None, scheduler="local")
        frames = sum(s.frames for s in report.scenes)
        out[workers] = {"objects_s": report.seconds_objects, "scenes_s": report.seconds_scenes,
                        "annotation_s": report.seconds_annotation, "frames": frames,
                        "frames_per_s": frames / report.seconds_scenes,
                        "labels_per_s": (7 + 4) / report.seconds_annotation}
        print(f"dask {workers} worker(s): objects {report.seconds_objects:.1f} s, scenes "
              f"{report.seconds_scenes:.1f} s ({frames / report.seconds_scenes:.2f} frames/s), annotation "
              f"{report.seconds_annotation:.1f} s ({out[workers]['labels_per_s']:.2f} label files/s)", flush=True)
    for key in ("frames_per_s", "labels_per_s"):
        out[f"ratio_{key}"] = out[2][key] / out[1][key]
    print(f"dask 2 vs 1 workers: frames/s x{out['ratio_frames_per_s']:.2f}, "
          f"label files/s x{out['ratio_labels_per_s']:.2f}", flush=True)
    return out


def _train(root: Path, out: Path, processes: int, steps: int, *extra: str) -> tuple[float, int]:
    """(steps/s from the log excluding the first step, peak RSS of the largest process in kB)."""
    args = ["-m", "graspnet_ros", "train", "--root", str(root), "--out", str(out), "--steps", str(steps),
            "--batch-size", "2", "--log-every", "1", "--no-progress", "--device", "cpu", "--no-resume", *extra]
    cmd = ([sys.executable, *args, "--threads", "1"] if processes == 1 else
           [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(processes),
            "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args])
    # a fresh parent per run, so its children's ru_maxrss is this run's alone
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
             "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r)")
    done = subprocess.run([sys.executable, "-c", probe, *cmd], env=ENV, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    rss = int(done.stdout.rsplit("PEAK_RSS_KB", 1)[1].split()[0])
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    rate = (len(log) - 1) / (log[-1]["elapsed_s"] - log[0]["elapsed_s"])
    return rate, rss


def bench_ddp(work: Path, steps: int) -> dict:
    root = work / "dask2" if (work / "dask2").is_dir() else work / "tiny"
    if not root.is_dir():
        generate(root, "tiny", workers=2, seed=0, log=lambda *_: None)
    out = {}
    for processes in (1, 2):
        rate, _ = _train(root, work / f"ddp{processes}", processes, steps, "--num-view", "60", "--scenes", "0")
        out[processes] = rate
        print(f"ddp {processes} process(es), global batch 2: {rate:.3f} steps/s", flush=True)
    out["ratio"] = out[2] / out[1]
    print(f"ddp 2 vs 1 processes: x{out['ratio']:.2f}", flush=True)
    return out


def _full_shape_root(work: Path, tiny: Path) -> tuple[Path, list[int]]:
    """The tiny root's train scene 0 with grasp and collision labels of the full preset's shapes."""
    from graspnet_ros.annotation.object_labels import sample_surface
    from graspnet_ros.annotation.runner import load_mesh, save_npy_atomic, write_npz_atomic
    from graspnet_ros.dataset.layout import Layout

    root = work / "full_shapes"
    shutil.rmtree(root, ignore_errors=True)
    for sub in ("models", "scenes"):
        shutil.copytree(tiny / sub, root / sub)
    for scene in (s for s in (root / "scenes").iterdir() if s.name != "scene_0000"):
        shutil.rmtree(scene)
    layout = Layout(root)
    obj_ids = [int(v) for v in layout.object_id_list(0).read_text().split()]
    rng = np.random.default_rng(0)
    shape = (300, 12, 4)
    collisions = []
    for obj in obj_ids:
        points = sample_surface(load_mesh(layout.model_ply(obj)), 0.005, 16.0, obj).astype(np.float32)
        n = len(points)
        mu = np.where(rng.random((n, *shape)) < 0.15, rng.integers(1, 11, (n, *shape)) / 10, -1.0)
        offsets = np.empty((n, *shape, 3), np.float32)
        offsets[..., 0] = rng.uniform(0, np.pi, (n, *shape))
        offsets[..., 1] = rng.choice([0.01, 0.02, 0.03, 0.04], (n, *shape))
        offsets[..., 2] = rng.uniform(0.005, 0.1, (n, *shape))
        write_npz_atomic(layout.grasp_label(obj), {"points": points, "offsets": offsets,
                                                   "collision": rng.random((n, *shape)) < 0.1,
                                                   "scores": mu.astype(np.float32)}, compress=False)
        save_npy_atomic(layout.tolerance_label(obj), (rng.integers(0, 500, (n, *shape)) * 1e-4).astype(np.float32))
        collisions.append(rng.random((n, *shape)) < 0.2)
        print(f"labels: object {obj}: {n} grasp points at 5 mm, "
              f"{layout.grasp_label(obj).stat().st_size / 1e6:.0f} MB", flush=True)
    write_npz_atomic(layout.collision_label(0), {f"arr_{i}": c for i, c in enumerate(collisions)}, compress=True)
    return root, obj_ids


def bench_labels(work: Path, steps: int) -> dict:

    from graspnet_ros.dataset.grasp_labels import compact_all, compact_label_path
    from graspnet_ros.model.config import get_config
    from graspnet_ros.model.train import ReaderFrames

    tiny = work / "dask2" if (work / "dask2").is_dir() else work / "tiny"
    if not tiny.is_dir():
        generate(tiny, "tiny", workers=2, seed=0, log=lambda *_: None)
    root, obj_ids = _full_shape_root(work, tiny)
    out: dict = {"objects": len(obj_ids)}
    cfg = get_config("cpu")

    def read_tables(tag: str) -> None:
        frames = ReaderFrames(root, "realsense", [0], cfg)
        t0 = time.perf_counter()
        tables = [frames.table(0, o) for o in obj_ids]
        seconds = time.perf_counter() - t0
        rows = sum(len(t.points) for t in tables)
        per_entry = 5 if tag == "compact" else 21  # bytes read per label entry (+1 scene collision)
        mb = rows * 300 * 12 * 4 * (per_entry + 1) / 1e6
        out[f"{tag}_tables_per_s"] = len(tables) / seconds
        out[f"{tag}_read_mb_per_s"] = mb / seconds
        out["table_mb"] = tables[0].nbytes / 1e6
        print(f"labels ({tag}): {len(tables)} tables of {rows // len(tables)} points in {seconds:.2f} s "
              f"({len(tables) / seconds:.2f} tables/s, {mb / seconds:.0f} MB/s of label rows)", flush=True)

    read_tables("original")
    rate, rss = _train(root, work / "train_original", 1, steps, "--scenes", "0")
    out["original_steps_per_s"], out["original_peak_rss_mb"] = rate, rss / 1024
    print(f"labels (original): training {rate:.3f} steps/s, peak RSS {rss / 1024:.0f} MB", flush=True)
    t0 = time.perf_counter()
    checks = compact_all(root, obj_ids)
    seconds = time.perf_counter() - t0
    orig = sum(c["bytes_original"] for c in checks)
    comp = sum(compact_label_path(root, o).stat().st_size for o in obj_ids)
    out.update(compact_seconds=seconds, original_mb=orig / 1e6, compact_mb=comp / 1e6)
    print(f"labels: data compact {seconds:.1f} s ({orig / 1e6 / seconds:.0f} MB/s), {orig / 1e6:.0f} MB -> "
          f"{comp / 1e6:.0f} MB (x{orig / comp:.1f} smaller)", flush=True)
    read_tables("compact")
    rate, rss = _train(root, work / "train_compact", 1, steps, "--scenes", "0")
    out["compact_steps_per_s"], out["compact_peak_rss_mb"] = rate, rss / 1024
    print(f"labels (compact): training {rate:.3f} steps/s, peak RSS {rss / 1024:.0f} MB", flush=True)
    frames = ReaderFrames(root, "realsense", [0], cfg)
    cap = min(frames._cache_size * 2048 * 300 * 12 * 4 * 12, frames._cache_bytes) / 1e6
    out["extrapolated_88_objects_peak_rss_mb"] = out["compact_peak_rss_mb"] - out["table_mb"] * len(obj_ids) + cap
    print(f"labels: 88 objects (tables capped at {cap:.0f} MB, label files never held): peak RSS <= "
          f"{out['extrapolated_88_objects_peak_rss_mb']:.0f} MB; compact labels of 88 objects at this "
          f"density: {comp / len(obj_ids) * 88 / 1e9:.1f} GB on disk", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", nargs="+", default=["dask", "ddp", "labels"], choices=("dask", "ddp", "labels"))
    ap.add_argument("--steps", type=int, default=8, help="training steps per run")
    ap.add_argument("--out", help="work folder (default: a temporary one, removed)")
    args = ap.parse_args()
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    try:
        if "dask" in args.parts:
            results["dask"] = bench_dask(work)
        if "ddp" in args.parts:
            results["ddp"] = bench_ddp(work, args.steps)
        if "labels" in args.parts:
            results["labels"] = bench_labels(work, args.steps)
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
