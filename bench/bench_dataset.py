"""Speed of the synthetic dataset generator on this machine.

Prints, with baselines measured in the same run:
  * frames rendered per second per camera on a 10-object scene (ray casting,
    depth noise and shading), against the bare Open3D ``cast_rays`` call on the
    same scene, and with the PNG/mat/xml writes included;
  * physics settling time per 10-object scene (MuJoCo), as wall seconds and
    as a real-time factor (simulated seconds per wall second);
  * wall time of generating the tiny preset from scratch (objects, scenes,
    annotation) into a temporary folder; ``--preset small`` (about an hour's
    budget) or ``--preset full`` instead; ``--no-annotate`` to time objects and
    scenes alone.

Run: .venv/bin/python bench/bench_dataset.py [--preset tiny|small] [--workers N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from graspnet_ros._native import import_open3d
from graspnet_ros.dataset.generate import generate
from graspnet_ros.dataset.layout import Layout
from graspnet_ros.dataset.objects import get_spec, load_collision, load_model, write_object
from graspnet_ros.dataset.synthetic.cameras import camera_model, viewpoints
from graspnet_ros.dataset.synthetic.physics import settle
from graspnet_ros.dataset.synthetic.render import SceneRaycaster, pixel_rays
from graspnet_ros.dataset.synthetic.scenes import render_frame

#: 10 objects: 5 YCB with quick decompositions (sugar box, banana, spatula,
#: marker, screwdriver) and 5 random objects.
BENCH_OBJECTS = [1, 4, 12, 16, 17, 55, 56, 57, 58, 59]


def bench_physics(layout: Layout, seeds=(0, 1, 2)) -> None:
    pieces = [load_collision(layout, i) for i in BENCH_OBJECTS]
    walls, sims = [], []
    for s in seeds:
        r = settle(pieces, s)
        walls.append(r.wall_time)
        sims.append(r.sim_time)
    print(f"physics: {np.mean(walls):.2f} s per 10-object scene (min {min(walls):.2f}, max {max(walls):.2f}); "
          f"{np.mean(sims):.2f} s simulated, real-time factor {np.sum(sims) / np.sum(walls):.1f}x")


def bench_render(layout: Layout, frames: int = 6) -> None:
    o3d = import_open3d()
    pieces = [load_collision(layout, i) for i in BENCH_OBJECTS]
    poses = settle(pieces, 0).poses
    raycaster = SceneRaycaster([load_model(layout, i) for i in BENCH_OBJECTS], poses)
    faces = sum(len(load_model(layout, i).faces) for i in BENCH_OBJECTS)
    rng = np.random.default_rng(0)
    for name in ("realsense", "kinect"):
        camera = camera_model(name)
        views = viewpoints(frames, rng, centre=poses[:, :2, 3].mean(axis=0))
        render_frame(raycaster, name, views[0], BENCH_OBJECTS, rng)  # warm-up (BVH build)
        t0 = time.perf_counter()
        for v in views:
            render_frame(raycaster, name, v, BENCH_OBJECTS, rng)
        t_frame = (time.perf_counter() - t0) / frames
        dirs = pixel_rays(camera) @ views[0][:3, :3].T.astype(np.float32)
        rays = o3d.core.Tensor(np.concatenate([np.broadcast_to(views[0][:3, 3].astype(np.float32), dirs.shape),
                                               dirs], axis=-1))
        scene = raycaster._scene
        t0 = time.perf_counter()
        for _ in range(frames):
            scene.cast_rays(rays)
        t_cast = (time.perf_counter() - t0) / frames
        print(f"render {name} {camera.width}x{camera.height}, {faces:,} triangles: {1 / t_frame:.2f} frames/s "
              f"({t_frame * 1000:.0f} ms: cast + noise + shading); baseline bare cast_rays "
              f"{t_cast * 1000:.0f} ms ({t_cast / t_frame * 100:.0f} % of a frame)")


def bench_preset(preset: str, workers: int, annotate: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"bench_{preset}_"))
    try:
        t0 = time.perf_counter()
        try:
            report = generate(root, preset, workers=workers, seed=0, annotate_labels=annotate, log=lambda s: None)
        except ImportError as exc:
            print(f"preset {preset}: annotation unavailable ({exc}); timing without it")
            report = generate(root, preset, workers=workers, seed=0, annotate_labels=False, log=lambda s: None)
        wall = time.perf_counter() - t0
        frames = sum(s.frames for s in report.scenes)
        print(f"preset {preset} from scratch, {workers} worker(s): {wall:.1f} s wall "
              f"(objects {report.seconds_objects:.1f} s, scenes {report.seconds_scenes:.1f} s for {frames} frames, "
              f"annotation {report.seconds_annotation:.1f} s)")
        t0 = time.perf_counter()
        generate(root, preset, workers=workers, seed=0, annotate_labels=False, log=lambda s: None)
        print(f"preset {preset} re-run on the complete root (resume check): {time.perf_counter() - t0:.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny", choices=("tiny", "small", "full"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--no-annotate", action="store_true")
    parser.add_argument("--skip-preset", action="store_true", help="only the render and physics numbers")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="bench_objects_"))
    try:
        layout = Layout(root)
        t0 = time.perf_counter()
        for i in BENCH_OBJECTS:
            write_object(layout, get_spec(i))
        print(f"objects: {len(BENCH_OBJECTS)} models + collision pieces in {time.perf_counter() - t0:.1f} s")
        bench_physics(layout)
        bench_render(layout)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not args.skip_preset:
        bench_preset(args.preset, args.workers, not args.no_annotate)


if __name__ == "__main__":
    main()
