"""Throughput of the annotation pipeline on this machine.

Builds a small synthetic dataset root (primitive meshes of YCB-like sizes,
scenes of objects standing on a table), then runs the real entry points
(``annotate_objects`` / ``annotate_scenes``, process pool, files written)
and prints, each with a baseline measured in the same run:

  * object level: grasp candidates labelled per second (width + self
    collision + force closure + tolerance + file) and wall time per object,
    vs. the per-candidate route (``candidate_naive`` + one
    ``force_closure_labels`` call per grasp) on a random subset;
  * scene level: collision-checked candidates (valid labels) per second and
    wall time per scene, vs. ``check_collision`` called per grasp (the
    evaluator's checker, one call each) on a random subset;
  * the split of one object's time (geometry kernel, force closure,
    tolerance, writing) in this process.

Run: .venv/bin/python bench/bench_annotation.py [--objects 4 --scenes 2 --per-scene 4
     --views 300 --grasp-voxel 0.005 --geometry-voxel 0.005 --workers 2]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

from graspnet_ros.annotation import (AnnotationSettings, annotate_objects, annotate_scenes,
                                     candidate_geometry, candidate_grasp, candidate_naive,
                                     candidate_scores, sample_surface, scene_poses, tolerance_labels)
from graspnet_ros.annotation.runner import load_mesh
from graspnet_ros.annotation.scene_collision import scene_point_cloud
from graspnet_ros.dataset.annotations_xml import ObjectPose, write_annotations
from graspnet_ros.dataset.layout import Layout
from graspnet_ros.force_closure import MeshRaycaster, force_closure_labels
from graspnet_ros.gripper import check_collision


def make_meshes(count: int, rng: np.random.Generator) -> list[trimesh.Trimesh]:
    """YCB-sized primitives, 4-20 cm: boxes, cylinders, ellipsoids, capsules."""
    meshes = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            m = trimesh.creation.box(rng.uniform([0.03, 0.04, 0.06], [0.07, 0.1, 0.16]))
        elif kind == 1:
            m = trimesh.creation.cylinder(rng.uniform(0.02, 0.045), rng.uniform(0.06, 0.18), sections=64)
        elif kind == 2:
            m = trimesh.creation.icosphere(4, 1.0)
            m.apply_scale(rng.uniform([0.025, 0.03, 0.04], [0.045, 0.06, 0.09]))
        else:
            m = trimesh.creation.capsule(rng.uniform(0.04, 0.1), rng.uniform(0.015, 0.03), count=[24, 24])
        meshes.append(m)
    return meshes


def build_root(root: Path, meshes, scenes: int, per_scene: int, rng: np.random.Generator) -> None:
    layout = Layout(root)
    for obj_id, mesh in enumerate(meshes):
        layout.model_dir(obj_id).mkdir(parents=True, exist_ok=True)
        mesh.export(layout.model_ply(obj_id))
    for scene_id in range(scenes):
        ids = rng.choice(len(meshes), size=min(per_scene, len(meshes)), replace=False)
        poses = []
        for k, obj_id in enumerate(ids):
            yaw = trimesh.transformations.rotation_matrix(rng.uniform(0, 2 * np.pi), [0, 0, 1])
            lowest = (meshes[obj_id].vertices @ yaw[:3, :3].T)[:, 2].min()
            row, col = divmod(k, 3)
            yaw[:3, 3] = [0.13 * col + rng.uniform(-0.01, 0.01), 0.13 * row + rng.uniform(-0.01, 0.01),
                          -lowest]
            poses.append(yaw)
        cam0_wrt_table = np.eye(4)
        cam0_wrt_table[:3, :3] = trimesh.transformations.rotation_matrix(2.6, [1, 0, 0])[:3, :3]
        cam0_wrt_table[:3, 3] = [0.1, -0.3, 0.6]
        layout.scene_dir(scene_id).mkdir(parents=True, exist_ok=True)
        layout.object_id_list(scene_id).write_text("".join(f"{i}\n" for i in ids))
        layout.camera_dir(scene_id, "realsense").mkdir(parents=True, exist_ok=True)
        np.save(layout.cam0_wrt_table(scene_id, "realsense"), cam0_wrt_table)
        write_annotations(layout.frame_file(scene_id, "realsense", "annotations", 0),
                          [ObjectPose(int(i), np.linalg.inv(cam0_wrt_table) @ p) for i, p in zip(ids, poses)])


def object_split(mesh: trimesh.Trimesh, settings: AnnotationSettings, seed: int) -> dict[str, float]:
    """Wall time of each stage for one object, in this process."""
    out = {}
    t = time.perf_counter()
    geometry = sample_surface(mesh, settings.geometry_voxel, settings.oversampling, seed)
    points = (geometry if settings.grasp_point_voxel == settings.geometry_voxel
              else sample_surface(mesh, settings.grasp_point_voxel, settings.oversampling, seed + 1))
    out["sampling"] = time.perf_counter() - t
    t = time.perf_counter()
    widths, collision, empty = candidate_geometry(points, geometry, settings)
    out["widths+self-collision"] = time.perf_counter() - t
    t = time.perf_counter()
    scores = candidate_scores(MeshRaycaster.from_trimesh(mesh), points, widths, ~collision & ~empty,
                              settings)
    out["force closure"] = time.perf_counter() - t
    t = time.perf_counter()
    tolerance_labels(points, scores, settings.tolerance_radius, settings.tolerance_step,
                     settings.tolerance_mu, settings.tolerance_ratio)
    out["tolerance"] = time.perf_counter() - t
    out["points"] = len(points)
    return out


def naive_object_rate(mesh, settings: AnnotationSettings, rng, count: int = 150) -> float:
    """Candidates/s labelled one at a time: width and collision from the definition
    (dense gripper check) and one force-closure call per grasp."""
    geometry = sample_surface(mesh, settings.geometry_voxel, settings.oversampling, 0)
    raycaster = MeshRaycaster.from_trimesh(mesh)
    mus = np.asarray(settings.mus)
    picks = [(rng.integers(len(geometry)), rng.integers(settings.num_views),
              rng.integers(settings.num_angles), rng.integers(settings.num_depths)) for _ in range(count)]
    t = time.perf_counter()
    for i, v, a, d in picks:
        width, hit, empty = candidate_naive(geometry, geometry[i], v, a, d, settings)
        if not (hit or empty):
            force_closure_labels(candidate_grasp(geometry[i], v, a, d, width, settings), raycaster, mus)
    return count / (time.perf_counter() - t)


def naive_scene_rate(root: Path, scene_id: int, settings: AnnotationSettings, rng, count: int = 300) -> float:
    """Valid candidates/s collision-checked with one check_collision call per grasp."""
    layout = Layout(root)
    obj_ids, poses = scene_poses(layout, scene_id)
    clouds = [sample_surface(load_mesh(layout.model_ply(i)), settings.scene_voxel, settings.oversampling, 0)
              for i in obj_ids]
    scene, owner = scene_point_cloud(poses, clouds, settings)
    with np.load(layout.grasp_label(obj_ids[0])) as data:
        points, widths, scores = data["points"], data["offsets"][..., 2], data["scores"]
    valid = np.argwhere(scores > 0)
    rows = valid[rng.choice(len(valid), min(count, len(valid)), replace=False)]
    others = scene[owner != 0]
    t = time.perf_counter()
    for i, v, a, d in rows:
        grasp = candidate_grasp(points[i], v, a, d, widths[i, v, a, d], settings).transform(poses[0])
        check_collision(grasp, others, settings.gripper)
    return len(rows) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--per-scene", type=int, default=4)
    parser.add_argument("--views", type=int, default=300)
    parser.add_argument("--grasp-voxel", type=float, default=0.005)
    parser.add_argument("--geometry-voxel", type=float, default=0.005)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=None, help="dataset root (default: a temp dir)")
    args = parser.parse_args()

    settings = AnnotationSettings(num_views=args.views, grasp_point_voxel=args.grasp_voxel,
                                  geometry_voxel=args.geometry_voxel)
    rng = np.random.default_rng(0)
    root = args.root or Path(tempfile.mkdtemp(prefix="bench_annotation_"))
    meshes = make_meshes(args.objects, rng)
    build_root(root, meshes, args.scenes, args.per_scene, rng)
    layout = Layout(root)
    per_candidate = int(np.prod(settings.shape))
    print(f"settings: V={settings.num_views} A={settings.num_angles} D={settings.num_depths}, "
          f"grasp voxel {settings.grasp_point_voxel} m, geometry voxel {settings.geometry_voxel} m, "
          f"workers={args.workers}, root {root}")

    # warm the compiled kernels' on-disk cache so the timed pool does not compile
    annotate_objects(root, [0], AnnotationSettings(num_views=4, grasp_point_voxel=0.05), workers=0,
                     progress=False)
    shutil.rmtree(root / "grasp_label")
    shutil.rmtree(root / "tolerance")

    t = time.perf_counter()
    annotate_objects(root, range(args.objects), settings, workers=args.workers, progress=False)
    object_wall = time.perf_counter() - t
    num_points = [len(np.load(layout.grasp_label(i))["points"]) for i in range(args.objects)]
    candidates = sum(num_points) * per_candidate
    print(f"\nobject labels: {args.objects} objects, {sum(num_points)} grasp points "
          f"({min(num_points)}-{max(num_points)} per object), {candidates / 1e6:.1f} M candidates")
    print(f"  wall {object_wall:.1f} s = {object_wall / args.objects:.1f} s per object "
          f"({args.workers} workers), {candidates / object_wall / 1e6:.2f} M candidates/s")
    naive = naive_object_rate(meshes[0], settings, rng)
    print(f"  baseline, one candidate at a time (1 process): {naive:,.0f} candidates/s "
          f"-> {candidates / naive / 3600:.1f} h for these objects")

    split = object_split(meshes[0], settings, seed=0)
    print(f"\none object in this process ({split.pop('points')} grasp points): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in split.items()))

    t = time.perf_counter()
    annotate_scenes(root, range(args.scenes), settings, workers=args.workers, progress=False)
    scene_wall = time.perf_counter() - t
    checked = total = 0
    for scene_id in range(args.scenes):
        for obj_id in scene_poses(layout, scene_id)[0]:
            with np.load(layout.grasp_label(obj_id)) as data:
                checked += int((data["scores"] > 0).sum())
                total += data["scores"].size
    print(f"\ncollision labels: {args.scenes} scenes x {args.per_scene} objects, "
          f"{total / 1e6:.1f} M candidates of which {checked / 1e6:.2f} M valid (checked)")
    print(f"  wall {scene_wall:.1f} s = {scene_wall / args.scenes:.1f} s per scene, "
          f"{checked / scene_wall / 1e6:.2f} M checked candidates/s")
    naive = naive_scene_rate(root, 0, settings, rng)
    print(f"  baseline, check_collision per grasp (1 process): {naive:,.0f} checked candidates/s")
    if args.root is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
