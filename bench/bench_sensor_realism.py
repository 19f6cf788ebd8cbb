"""How real do the synthetic depth frames look? Four statistics per frame.

For each frame (depth in metres registered to the colour camera, 0 = none):

* invalid: share of pixels without depth;
* plane std: a RANSAC plane (5 mm threshold, Open3D) on the back-projected
  valid pixels, then the std of the residuals of the points within 1 cm;
* roughness: abs(depth - its 5x5 median) in mm, p50 / p95, over valid
  pixels whose whole 5x5 window is valid (holes are counted by "invalid");
* plane share: share of valid pixels within 1 cm of that plane.

Frames: synthetic RealSense and Kinect frames, each with the old per-pixel
noise (``simple``) and the simulated sensor (``sensor``): GraspNet-like
tabletop views (ten settled objects of the loop's object set, scene seeds
100, 130, 160, camera 0.45 m away at 60 degrees) and, for the Kinect, a desk view
like the real recording (camera 0.2 m above a desk looking almost
horizontally at a mug, a wall 1.3 m away). Next to them: the real Azure
Kinect recording ``../shared/data/kinect/recording.mkv`` (capture 0,
registered to colour by the package's Kinect camera) and the real D435
figures measured on a GraspNet-1Billion frame (quoted from issue 15: the
frame is not in this repository).

With ``--scene lab`` the same objects are also put in a lab (the generator's
scene kind ``lab``: a finite table on a floor, walls, a robot arm,
distractors; ``graspnet_ros/dataset/synthetic/lab.py``) and seen from three
views of the generator's 256-view arc (elevations about 69, 49 and 30
degrees, 0.54-0.8 m), one per seed; rows "arc views, lab" and, from the
same views without the lab, "arc views, tabletop" are printed next to the
others, with the time per lab frame.

Also times ``stereo_depth`` (ray-cast IR pair, shadow rays, SGBM, registration)
on one core at 1280x720. Writes ``output/bench_sensor_realism/sensor_realism.png``: depth
images side by side and depth-error histograms (measured - noiseless render;
for the real frame, residuals to its plane).

Run: .venv/bin/python bench/bench_sensor_realism.py [--out DIR] [--scene tabletop|lab]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import trimesh

from graspnet_ros._native import import_open3d
from graspnet_ros.dataset.synthetic.cameras import KINECT, REALSENSE, CameraModel, ViewSettings, look_at, viewpoints
from graspnet_ros.dataset.synthetic.lab import LabScene, lab_scene
from graspnet_ros.dataset.synthetic.render import SceneRaycaster, albedo_image
from graspnet_ros.dataset.synthetic.scenes import scene_raycaster
from graspnet_ros.dataset.synthetic.sensors import infrared_materials, sensor_depth
from graspnet_ros.dataset.synthetic.stereo import stereo_depth

REAL_KINECT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kinect" / "recording.mkv"
#: Real D435 on a GraspNet-1Billion frame (1280x720, table at about 0.45 m), issue 15.
REAL_D435 = {"invalid": 0.105, "plane_std": 2.9, "rough50": 0.0, "rough95": 1.0, "plane_share": 0.57}


@dataclass
class Stats:
    invalid: float  # share
    plane_std: float  # mm
    rough50: float  # mm
    rough95: float  # mm
    plane_share: float  # share of valid pixels
    residuals: np.ndarray  # m, plane residuals of the inliers


def frame_stats(depth: np.ndarray, K: np.ndarray, seed: int = 0) -> Stats:
    """The four statistics of one depth image (m, 0 = none) with intrinsics K."""
    o3d = import_open3d()
    valid = depth > 0
    v, u = np.nonzero(valid)
    z = depth[valid].astype(np.float64)
    pts = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=1)
    o3d.utility.random.seed(seed)
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    plane, _ = cloud.segment_plane(distance_threshold=0.005, ransac_n=3, num_iterations=1000)
    a = np.asarray(plane)
    res = (pts @ a[:3] + a[3]) / np.linalg.norm(a[:3])
    inl = np.abs(res) < 0.01
    mm = np.round(depth * 1000.0).astype(np.uint16)
    med = cv2.medianBlur(mm, 5).astype(np.float32)
    full = cv2.erode(valid.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    rough = np.abs(mm.astype(np.float32) - med)[full]
    return Stats(1.0 - valid.mean(), 1000.0 * res[inl].std(), float(np.percentile(rough, 50)),
                 float(np.percentile(rough, 95)), inl.mean(), res[inl])


# ---------------------------------------------------------------------------
# scenes


def tabletop(seed: int) -> tuple[SceneRaycaster, list[int], np.ndarray]:
    """Ten settled objects (the loop's object set) on the table, and a camera
    0.45 m from the clutter's centre at 60 degrees (GraspNet-1Billion's range)."""
    from graspnet_ros.loop import build_scene, camera_pose, default_object_ids

    scene = build_scene(default_object_ids(10, seed), seed)
    centre = scene.poses[:, :2, 3].mean(axis=0)
    return SceneRaycaster(scene.meshes, scene.poses), scene.obj_ids, camera_pose(centre, 0.45, 60.0)


#: Views of the 256-view arc the lab frames use, one per seed: rows 1, 4 and 7 (high to low), mid-arc columns.
LAB_VIEWS = (48, 144, 240)


def lab(seed: int, view: int) -> tuple[SceneRaycaster, SceneRaycaster, list[int], np.ndarray, LabScene]:
    """The tabletop scene's objects in a lab drawn from ``seed`` (as the
    generator's ``--scene lab`` does), seen from view ``view`` of its arc:
    (lab raycaster, the same objects on the plain table, ids, pose, lab)."""
    from graspnet_ros.loop import build_scene, default_object_ids

    scene = build_scene(default_object_ids(10, seed), seed)
    rng = np.random.default_rng(seed)
    arc = rng.uniform(0, 2 * np.pi)
    room = lab_scene(rng, arc + ViewSettings().azimuth_span / 2)
    views = viewpoints(256, rng, azimuth0=arc, centre=scene.poses[:, :2, 3].mean(axis=0))
    return (scene_raycaster(scene.meshes, scene.poses, room), scene_raycaster(scene.meshes, scene.poses),
            scene.obj_ids, views[view], room)


def desk() -> tuple[SceneRaycaster, list[int], np.ndarray]:
    """Like the real recording: a mug with a handle on a desk 0.2 m below the
    camera, which looks 12 degrees down; a wall 1.3 m away behind the desk."""
    body = trimesh.creation.cylinder(radius=0.04, height=0.10)
    body.apply_translation((0, 0, 0.05))
    handle = trimesh.creation.torus(major_radius=0.028, minor_radius=0.006)
    handle.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, (1, 0, 0)))
    handle.apply_translation((0.045, 0, 0.055))
    wall = trimesh.creation.box((3.0, 0.05, 2.0))
    wall.apply_translation((0, 0.025, 0.5))
    poses = np.stack([np.eye(4), np.eye(4), np.eye(4)])
    poses[0, :2, 3] = poses[1, :2, 3] = (0.02, -0.35)
    poses[2, 1, 3] = 0.8  # the table's far edge
    eye = np.array([0.0, -0.6, 0.2])
    target = eye + np.array([0.0, np.cos(np.deg2rad(12)), -np.sin(np.deg2rad(12))])
    return SceneRaycaster([body, handle, wall], poses), [0, 0, 1], look_at(eye, target)


def render(kind: str, camera: CameraModel, raycaster: SceneRaycaster, obj_ids: list[int], pose: np.ndarray,
           seed: int, desk_materials: bool = False, room: LabScene | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(depth m, noiseless depth m) in the colour grid; kind 'simple' or 'sensor';
    ``room``: the lab the raycaster holds (for its materials), if any."""
    rng = np.random.default_rng(seed)
    hits = raycaster.cast(camera, pose)
    if desk_materials:  # white mug and handle, pale wall, light desk
        albedo_of, gloss_of = np.array([0.85, 0.85, 0.7, 0.75]), np.array([0.3, 0.3, 0.0, 0.0])
        grey = np.append(albedo_of, 0.0)[np.where(hits.index >= 0, hits.index, len(albedo_of))].astype(np.float32)
        if kind == "simple":
            return sensor_depth("simple", camera, raycaster, pose, hits, grey, obj_ids, rng), hits.depth
        if camera.kind == "tof":
            from graspnet_ros.dataset.synthetic.tof import tof_depth

            return tof_depth(raycaster, camera, pose, albedo_of, rng=rng), hits.depth
        return stereo_depth(raycaster, camera, pose, albedo_of, gloss_of, rng=rng), hits.depth
    from graspnet_ros.dataset.objects import object_colour

    _, grey = albedo_image(hits, np.array([object_colour(i) for i in obj_ids]).reshape(-1, 3),
                           None if room is None else room.colours())
    return sensor_depth(kind, camera, raycaster, pose, hits, grey, obj_ids, rng, lab=room), hits.depth


def real_kinect() -> np.ndarray | None:
    if not REAL_KINECT.is_file():
        print(f"(real Kinect recording not found at {REAL_KINECT}: its row is left out)")
        return None
    from graspnet_ros.cameras.kinect import KinectCamera

    cam = KinectCamera(playback=str(REAL_KINECT), loop=False)
    cam.open()
    try:
        frame = cam.read()
    finally:
        cam.close()
    return frame.depth, frame.intrinsics.K


def time_stereo(raycaster, obj_ids, pose, repeat: int = 5) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds per 1280x720 stereo_depth frame with one thread
    (Open3D and OpenCV); CPU time is what a core spends, wall time also counts
    waiting for a core on a shared machine."""
    albedo, gloss = infrared_materials(obj_ids)
    cv2.setNumThreads(1)
    wall, cpu = [], []
    for i in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        stereo_depth(raycaster, REALSENSE, pose, albedo, gloss, rng=np.random.default_rng(i), nthreads=1)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    cv2.setNumThreads(-1)
    return wall, cpu


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("output/bench_sensor_realism"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[100, 130, 160])
    ap.add_argument("--scene", choices=("tabletop", "lab"), default="tabletop",
                    help="lab: also the seeds' objects in a lab (floor, walls, robot), three views of the arc")
    args = ap.parse_args(argv)
    rows: dict[str, list[Stats]] = {}
    images: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    errors: dict[str, list[np.ndarray]] = {}
    scenes = [tabletop(s) for s in args.seeds]
    for cam_name, camera in (("RealSense", REALSENSE), ("Kinect", KINECT)):
        for kind in ("simple", "sensor"):
            label = f"synthetic {cam_name}, {kind}, tabletop"
            for i, (rc, ids, pose) in enumerate(scenes):
                depth, truth = render(kind, camera, rc, ids, pose, seed=i)
                rows.setdefault(label, []).append(frame_stats(depth, camera.K))
                ok = (depth > 0) & (truth > 0)
                errors.setdefault(label, []).append((depth - truth)[ok])
                if i == 0:
                    images[label] = (depth, truth)
    lab_seconds: dict[str, list[float]] = {}
    if args.scene == "lab":
        labs = [lab(s, LAB_VIEWS[i % len(LAB_VIEWS)]) for i, s in enumerate(args.seeds)]
        for cam_name, camera in (("RealSense", REALSENSE), ("Kinect", KINECT)):
            for kind, scene_kind in itertools.product(("simple", "sensor"), ("tabletop", "lab")):
                label = f"synthetic {cam_name}, {kind}, arc views, {scene_kind}"
                for i, (rc_lab, rc_top, ids, pose, room) in enumerate(labs):
                    rc, room = (rc_lab, room) if scene_kind == "lab" else (rc_top, None)
                    t0 = time.perf_counter()
                    depth, truth = render(kind, camera, rc, ids, pose, seed=i, room=room)
                    if scene_kind == "lab":
                        lab_seconds.setdefault(label, []).append(time.perf_counter() - t0)
                    rows.setdefault(label, []).append(frame_stats(depth, camera.K))
                    ok = (depth > 0) & (truth > 0)
                    errors.setdefault(label, []).append((depth - truth)[ok])
                    if i == len(labs) - 1:  # the lowest view: floor, wall and robot in sight
                        images[label] = (depth, truth)
    rc, ids, pose = desk()
    for cam_name, camera in (("Kinect", KINECT), ("RealSense", REALSENSE)):
        for kind in ("simple", "sensor"):
            label = f"synthetic {cam_name}, {kind}, desk"
            depth, truth = render(kind, camera, rc, ids, pose, seed=0, desk_materials=True)
            rows[label] = [frame_stats(depth, camera.K)]
            ok = (depth > 0) & (truth > 0)
            errors[label] = [(depth - truth)[ok]]
            images[label] = (depth, truth)
    real = real_kinect()
    if real is not None:
        st = frame_stats(*real)
        rows["real Azure Kinect, recording.mkv capture 0"] = [st]
        errors["real Azure Kinect, recording.mkv capture 0"] = [st.residuals]
        images["real Azure Kinect, recording.mkv capture 0"] = (real[0], None)
    wall, cpu = time_stereo(*scenes[0])

    def fmt(vals, f):
        lo, hi = min(vals), max(vals)
        return f(lo) if abs(hi - lo) < 1e-9 or f(lo) == f(hi) else f"{f(lo)}-{f(hi)}"

    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    mm = lambda x: f"{x:.1f}"  # noqa: E731
    print("| frame | invalid | plane residual std (mm) | roughness p50 / p95 (mm) | plane share |")
    print("| --- | --- | --- | --- | --- |")
    r = REAL_D435
    print(f"| real D435, GraspNet-1Billion frame (issue 15) | {pct(r['invalid'])} | {r['plane_std']:.1f} | "
          f"{r['rough50']:.0f} / {r['rough95']:.0f} | {pct(r['plane_share'])} |")
    for label, stats in rows.items():
        print(f"| {label} | {fmt([s.invalid for s in stats], pct)} | {fmt([s.plane_std for s in stats], mm)} | "
              f"{fmt([s.rough50 for s in stats], mm)} / {fmt([s.rough95 for s in stats], mm)} | "
              f"{fmt([s.plane_share for s in stats], pct)} |")
    for label, secs in lab_seconds.items():
        print(f"{label}: {np.median(secs):.2f} s per 1280x720 frame (median of {len(secs)}, all threads; "
              "ray cast and depth model)")
    print(f"\nstereo_depth, 1280x720, one thread, {len(wall)} frames: wall min {min(wall):.2f} s, median "
          f"{np.median(wall):.2f} s; CPU min {min(cpu):.2f} s, median {np.median(cpu):.2f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    plot(args.out / "sensor_realism.png", images, errors)


def plot(path: Path, images: dict, errors: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    labels = list(images)
    cols = 4
    nrows = int(np.ceil(len(labels) / cols)) + 1
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.2 * nrows))
    for ax, label in zip(axes[:-1].ravel(), labels):
        depth, _ = images[label]
        shown = np.where(depth > 0, depth, np.nan)
        lo, hi = np.nanpercentile(shown, [1, 99])
        ax.imshow(shown, cmap="turbo", vmin=lo, vmax=hi)
        ax.set_facecolor("black")
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    for ax in axes[:-1].ravel()[len(labels):]:
        ax.axis("off")
    scenes = ("tabletop", "lab")
    groups = [("RealSense, tabletop / lab", [k for k in errors if "RealSense" in k and k.endswith(scenes)]),
              ("Kinect, tabletop / lab", [k for k in errors if "Kinect" in k and k.endswith(scenes)]),
              ("desk scene", [k for k in errors if "desk" in k]),
              ("real Kinect: plane residuals", [k for k in errors if k.startswith("real")])]
    bins = np.linspace(-15, 15, 121)
    for ax, (title, keys) in zip(axes[-1], groups):
        for k in keys:
            e = 1000.0 * np.concatenate(errors[k])
            ax.hist(np.clip(e, bins[0], bins[-1]), bins=bins, histtype="step", density=True,
                    label=k.replace("synthetic ", ""), log=True)
        ax.set_title(f"depth error (mm): {title}", fontsize=9)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
