"""Latency of the detector node's pipeline (what every job runs) with and without scene segmentation.

Frames of at most 20,000 points (5 mm voxels): ``--frames`` rendered RealSense views of settled synthetic scenes (the
``run`` loop's scenes: 5 objects, seeds 0.., camera 0.55 m away at 70 deg), and
the real Azure Kinect recording's first frame, whole (921,600 pixels; the
pipeline crops it to the workspace and caps it after segmentation), when
``../shared/data`` exists.
For each frame: the default pipeline of ``config/grasp_detector_node.yaml``
(crop, 5 mm voxels, at most 20,000 points, segmentation, model-free baseline,
NMS), the same with ``segmentation.enabled: false`` (the baseline measured
in the same run), and both again with the shipped network as the detector
(``checkpoint: shipped``). Prints the median ms per stage, the ratio, and the
peak RSS. The issue's goal: at most 150 ms end to end with segmentation.

Run: scripts/run.sh bench pipeline [--frames 50] [--detector baseline|network|both]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import numpy as np


def synthetic_clouds(n: int) -> list[np.ndarray]:
    from graspnet_ros import loop
    from graspnet_ros.dataset.synthetic import live

    clouds = []
    per_scene = 5
    for s in range((n + per_scene - 1) // per_scene):
        ids = live.default_object_ids(5, s)
        scene = live.build_scene(ids, s)
        T = live.camera_pose(scene.poses[:, :2, 3].mean(axis=0))
        for k in range(per_scene):
            frame = loop.render(scene.meshes, scene.poses, ids, "realsense", T, np.random.default_rng(100 * s + k),
                                noise="simple")  # as when its figures were measured
            clouds.append(twenty_thousand(frame.cloud))
    return clouds[:n]


def twenty_thousand(cloud: np.ndarray) -> np.ndarray:
    """The 5 mm voxel grid, then 20,000 points at most (the issue's frame size)."""
    from graspnet_ros.cameras.geometry import voxel_downsample
    from graspnet_ros.detection.cloud import random_subsample

    return random_subsample(voxel_downsample(np.asarray(cloud, dtype=np.float32), 0.005), 20000, 0)


def kinect_cloud() -> np.ndarray | None:
    path = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kinect" / "recording.mkv"
    if not path.is_file():
        return None
    from graspnet_ros.cameras.geometry import depth_to_points
    from graspnet_ros.cameras.kinect import KinectCamera

    cam = KinectCamera(playback=str(path), loop=False)
    f = cam.read()
    cam.close()
    return depth_to_points(f.depth, f.intrinsics, organised=False)  # whole: the pipeline crops and caps it


def time_pipeline(pipeline, clouds: list[np.ndarray]) -> dict[str, float]:
    """Median ms per stage over the clouds (first run discarded as warm-up)."""
    pipeline.process(clouds[0], "camera")
    stages: dict[str, list[float]] = {}
    for c in clouds:
        t0 = time.perf_counter()
        try:
            res = pipeline.process(c, "camera")
            timings = dict(res.timings)
        except ValueError:
            timings = {}
        timings["wall"] = time.perf_counter() - t0
        for k, v in timings.items():
            stages.setdefault(k, []).append(v * 1000.0)
    return {k: statistics.median(v) for k, v in stages.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--detector", choices=("baseline", "network", "both"), default="both")
    args = ap.parse_args()
    from graspnet_ros.detection.detector_params import build_pipeline, detector_params  # before torch: OpenMP

    import torch

    torch.set_num_threads(args.threads)
    clouds = synthetic_clouds(args.frames)
    detectors = {"baseline": {}, "network": {"checkpoint": "shipped"}}
    chosen = list(detectors) if args.detector == "both" else [args.detector]
    rows = [("synthetic", clouds)]
    real = kinect_cloud()
    if real is not None:
        rows.append(("real Kinect frame", [real] * 5))
    print(f"{'frames':<19}{'detector':<10}{'pipeline':<22}{'wall':>6}{'prepare':>9}{'detect':>8}{'nms':>6}"
          "   ms (median)")
    for name, cs in rows:
        for det in chosen:
            on = build_pipeline(detector_params(overrides=detectors[det]))
            off = build_pipeline(detector_params(overrides={**detectors[det], "segmentation.enabled": False}))
            a, b = time_pipeline(on, cs), time_pipeline(off, cs)
            for label, t in (("with segmentation", a), ("without (baseline)", b)):
                print(f"{name:<19}{det:<10}{label:<22}{t['wall']:>6.0f}{t.get('prepare', 0):>9.0f}"
                      f"{t.get('detect', 0):>8.0f}{t.get('nms', 0):>6.1f}")
            print(f"{name:<19}{det:<10}{'ratio with / without':<22}{a['wall'] / b['wall']:>6.2f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB; {len(clouds)} synthetic frames "
          f"of {int(np.median([len(c) for c in clouds]))} points (median)")


if __name__ == "__main__":
    main()
