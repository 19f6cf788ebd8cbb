"""Multi-view fusion vs a single view: AP of `graspnet-ros detect --views` on rendered scenes.

An eye-in-hand camera takes V views of a table from known poses (here: a ring
of wrist-camera poses ``--distance`` m from the table centre at
``--elevation`` degrees, azimuths spaced 360/V degrees, the first one in
front). Each scene is ``--objects`` primitives (graspnet_ros.toy.table:
boxes, cylinders, capsules, ellipsoids of 3-10 cm) rendered with the RealSense
model's depth noise (graspnet_ros.dataset.synthetic), written in the GraspNet
layout (depth/%04d.png in mm, camera_poses.npy = T_cam0<-cam_k, camK.npy) and
handed to the real command, in process:

    graspnet-ros detect --views SCENE --num-views n --out ...

for n in ``--views`` (1 = the single first view). The grasps (first view's
camera frame) are scored by the package's benchmark evaluator
(graspnet_ros.evaluation.evaluate_frame, reference semantics, ground truth =
the posed meshes and the table in the first camera's frame): AP, AP0.8, AP0.4,
the mean over scenes, and per scene.

Measured (2026-12-02, 2 shared cores, scenes 0-5, 8 objects, ring 0.5 m at
55 deg, model-free baseline detector, default detector config; mean AP /
AP0.8 / AP0.4 over the 6 scenes, in %; one scene varies by +-10 AP, so a
6-scene mean by about +-3):

  --noise         1 view               2 views              4 views
  none (exact)    59.8 / 68.5 / 53.6   63.8 / 77.4 / 50.1   71.6 / 84.1 / 59.6
  full (default)  70.3 / 82.1 / 62.4   67.8 / 80.0 / 57.2   66.1 / 81.1 / 53.3
  pixel           69.0 / 80.7 / 59.8                        64.6 / 76.4 / 49.8
  correlated      67.3 / 79.9 / 54.4                        70.5 / 83.1 / 57.4

With exact depth, fusing 4 views adds 12 AP (the objects' far sides fill in;
5 of 6 scenes gain). With the full RealSense noise model it costs 4 (5 of 6
scenes lose), and the independent per-pixel disparity noise is what does it:
with only the smooth, correlated error fusion gains 3, with only the
per-pixel noise it loses 4. The free-space check is not the limit: on scene
0 it drops ~80% of the fused points lying more than 4 mm off every surface
and ~1.4% of those within 2 mm. The single-view baseline also scores higher
on noisy depth than on exact depth (not investigated further). detect
took 2.5-3.2 s per scene for 1 view and ~10 s for 4 (shared machine).
Fusion helps this detector only on clean depth; a gain on noisy views needs
a detector tuned (or trained) on fused clouds.

Run: .venv/bin/python bench/bench_fusion.py [--scenes 0 1 2 3 4 5] [--views 1 2 4] [--objects 8]
     [--noise full|pixel|correlated|none] [--icp] [--out /tmp/graspnet_ros_bench_fusion]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time
from pathlib import Path

import numpy as np


def ring_poses(num: int, distance: float, elevation_deg: float, centre=(0.0, 0.0, 0.03)) -> np.ndarray:
    """(num, 4, 4) T_table<-camera of wrist-camera views around ``centre`` (m), first at azimuth -90 deg."""
    from graspnet_ros.views import look_at

    el = np.deg2rad(elevation_deg)
    out = []
    for k in range(num):
        az = np.deg2rad(-90.0 + 360.0 * k / num)
        eye = np.asarray(centre) + distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az),
                                                        np.sin(el)])
        out.append(look_at(eye, centre))
    return np.array(out)


#: --noise: keyword arguments of the RealSense noise model (None = exact depth)
NOISE = {"full": {}, "pixel": {"correlated_sigma": 0.0}, "correlated": {"disparity_sigma": 0.0}, "none": None}


def write_scene(folder: Path, scene, poses: np.ndarray, seed: int, noise: str = "full") -> None:
    """depth/%04d.png (uint16 mm; RealSense noise model, see NOISE), camera_poses.npy
    (T_cam0<-cam_k), camK.npy."""
    import cv2

    from graspnet_ros.dataset.synthetic.cameras import camera_model, realsense_noise
    from graspnet_ros.dataset.synthetic.render import SceneRaycaster

    (folder / "depth").mkdir(parents=True, exist_ok=True)
    camera = camera_model("realsense")
    raycaster = SceneRaycaster(scene.meshes, scene.table_poses)
    rng = np.random.default_rng(seed)
    for k, T in enumerate(poses):
        hits = raycaster.cast(camera, T)
        depth = hits.depth if NOISE[noise] is None else realsense_noise(hits.depth, hits.cos_incidence, camera, rng,
                                                                        **NOISE[noise])
        cv2.imwrite(str(folder / "depth" / f"{k:04d}.png"), np.round(depth * 1000.0).astype(np.uint16))
    np.save(folder / "camera_poses.npy", np.linalg.inv(poses[0]) @ poses)
    np.save(folder / "camK.npy", camera.K)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenes", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    ap.add_argument("--views", type=int, nargs="+", default=[1, 2, 4], help="views fused (1 = single view)")
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--distance", type=float, default=0.5, help="camera distance from the table centre (m)")
    ap.add_argument("--elevation", type=float, default=55.0, help="camera elevation above the table (deg)")
    ap.add_argument("--noise", choices=sorted(NOISE), default="full",
                    help="RealSense depth noise: full model, pixel (independent disparity noise only), correlated "
                         "(smooth disparity error only), none (exact depth); edges, flying pixels and dropouts "
                         "are in all but none")
    ap.add_argument("--icp", action="store_true", help="detect --icp: refine the view poses by ICP")
    ap.add_argument("--out", default="/tmp/graspnet_ros_bench_fusion")
    args = ap.parse_args()

    from graspnet_ros import cli
    from graspnet_ros.evaluation import evaluate_frame
    from graspnet_ros.evaluation.ground_truth import FrameGroundTruth
    from graspnet_ros.toy.table import toy_scene
    from graspnet_ros.grasp import GraspGroup

    out = Path(args.out)
    rows: dict[int, list[tuple[float, float, float, int, float]]] = {n: [] for n in args.views}
    poses = ring_poses(max(args.views), args.distance, args.elevation)
    print(f"{len(args.scenes)} scenes x {args.objects} objects, views {args.views}, ring at {args.distance} m, "
          f"{args.elevation} deg elevation, depth noise: {args.noise}")
    for s in args.scenes:
        scene = toy_scene(args.objects, seed=1000 + s)
        folder = out / f"scene_{s:03d}"
        write_scene(folder, scene, poses, seed=s, noise=args.noise)
        cam0_from_table = np.linalg.inv(poses[0])
        gt = FrameGroundTruth.from_meshes(scene.obj_ids, cam0_from_table[None] @ scene.table_poses, scene.meshes,
                                          cam0_from_table, name=f"scene {s}")
        for n in args.views:
            stem = out / f"grasps_{s:03d}_{n}"
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                code = cli.main(["detect", "--views", str(folder), "--num-views", str(n), "--out", str(stem),
                                 "--top", "0"] + (["--icp"] if args.icp and n > 1 else []))
            seconds = time.perf_counter() - t0
            if code != 0:
                raise SystemExit(f"detect failed on scene {s} with {n} views (exit {code})")
            grasps = GraspGroup(np.load(stem.with_suffix(".npy")), frame_id="camera")
            res = evaluate_frame(grasps, gt)
            rows[n].append((res.ap, res.ap_at(0.8), res.ap_at(0.4), len(grasps), seconds))
            print(f"  scene {s}: {n} view(s): AP {100 * res.ap:5.1f}  AP0.8 {100 * res.ap_at(0.8):5.1f}  "
                  f"AP0.4 {100 * res.ap_at(0.4):5.1f}  ({len(grasps)} grasps, detect {seconds:.1f} s)", flush=True)
    print("\nviews |    AP | AP0.8 | AP0.4 | grasps | detect s (mean over scenes)")
    for n in args.views:
        a = np.array(rows[n])
        print(f"{n:5d} | {100 * a[:, 0].mean():5.1f} | {100 * a[:, 1].mean():5.1f} | {100 * a[:, 2].mean():5.1f} | "
              f"{a[:, 3].mean():6.1f} | {a[:, 4].mean():5.1f}")


if __name__ == "__main__":
    main()
