"""Trial objects and scenes: primitive objects, placements, random clear-table scenes, dataset cases, label cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import trimesh

from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision
from ..robot.sim import SimObject


# -- objects and grasp labels -------------------------------------------------------
def primitive_objects() -> dict[str, trimesh.Trimesh]:
    """Boxes and cylinders (object frame at the bottom centre, metres) for simulated trials."""
    def box(x: float, y: float, z: float) -> trimesh.Trimesh:
        m = trimesh.creation.box((x, y, z))
        m.apply_translation((0, 0, z / 2))
        return m

    def cyl(r: float, h: float) -> trimesh.Trimesh:
        m = trimesh.creation.cylinder(radius=r, height=h, sections=48)
        m.apply_translation((0, 0, h / 2))
        return m

    return {"box_5x5x8": box(0.05, 0.05, 0.08), "box_7x4x10": box(0.07, 0.04, 0.10),
            "box_9x6x4": box(0.09, 0.06, 0.04), "cylinder_r3h10": cyl(0.03, 0.10),
            "cylinder_r2h12": cyl(0.02, 0.12), "cylinder_r4h6": cyl(0.04, 0.06)}


def place(mesh: trimesh.Trimesh, x: float, y: float, yaw: float, table_z: float = 0.0) -> np.ndarray:
    """T_base<-obj standing the mesh's bottom on the table at (x, y), rotated by yaw (rad)."""
    T = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    T[:2, :2] = ((c, -s), (s, c))
    T[:3, 3] = (x, y, table_z - mesh.bounds[0, 2] + 1e-4)
    return T


def random_scene(seed: int, num_objects: int = 5, table_z: float = 0.0, spread: float = 0.18
                 ) -> list[SimObject]:
    """A cluttered scene of primitives at random non-overlapping spots (deterministic in seed)."""
    rng = np.random.default_rng(seed)
    catalogue = primitive_objects()
    names = list(catalogue)
    chosen = rng.choice(len(names), size=num_objects, replace=num_objects > len(names))
    objects, centres = [], []
    for k, i in enumerate(chosen):
        mesh = catalogue[names[i]]
        radius = float(np.linalg.norm(mesh.extents[:2]) / 2)
        for _ in range(200):
            xy = rng.uniform(-spread, spread, 2)
            if all(np.linalg.norm(xy - c) > radius + r + 0.01 for c, r in centres):
                break
        centres.append((xy, radius))
        objects.append(SimObject(mesh, place(mesh, xy[0], xy[1], rng.uniform(0, np.pi), table_z),
                                 name=f"{names[i]}#{k}", object_id=int(i)))
    return objects


def table_collision_free(grasps: GraspGroup, table_z: float, model: GripperModel = GripperModel()) -> np.ndarray:
    """(N,) bool: the benchmark gripper at each grasp (base frame) stays clear of the table slab."""
    if len(grasps) == 0:
        return np.zeros(0, bool)
    c = grasps.translations[:, :2].mean(axis=0)
    pts = np.concatenate([
        _grid(c, 0.5, 0.004, table_z),
        _grid(c, 0.5, 0.004, table_z - 0.01)])
    return ~check_collision(grasps, pts, model).collision


def _grid(center: np.ndarray, size: float, spacing: float, z: float) -> np.ndarray:
    a = np.arange(-size / 2, size / 2, spacing)
    gx, gy = np.meshgrid(a + center[0], a + center[1])
    return np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)], axis=1)


# -- score bins -------------------------------------------------------------------------
@dataclass
class ObjectCase:
    """One object of the score-bins protocol: its mesh, pose and grasp labels (object frame)."""

    name: str
    obj: SimObject
    labels: GraspGroup


@dataclass
class SceneCase:
    name: str
    objects: list[SimObject]


def iter_names(values: Iterable[str] | None, known: Sequence[str], what: str) -> list[str]:
    """Validate user-given names against the known ones (all when None)."""
    if not values:
        return list(known)
    bad = [v for v in values if v not in known]
    if bad:
        raise ValueError(f"unknown {what} {bad}; choose from {list(known)}")
    return list(values)


def cached_labels(name: str, mesh: trimesh.Trimesh, cache: Path | None, seed: int, params: dict) -> GraspGroup:
    """:func:`~graspnet_ros.annotation.mesh_labels.label_mesh_grasps` of ``mesh`` (its frame),
    cached as .npy under ``cache`` (atomic write)."""
    key = f"{name}_s{seed}_" + "_".join(f"{k}{v}" for k, v in sorted(params.items())).replace(" ", "")
    key = "".join(c if c.isalnum() or c in "._-" else "-" for c in key)
    path = None if cache is None else Path(cache) / f"{key}.npy"
    if path is not None and path.is_file():
        return GraspGroup.load(path, frame_id="object")
    from ..annotation.mesh_labels import label_mesh_grasps

    labels, _ = label_mesh_grasps(mesh, seed=seed, **{k: tuple(v) if isinstance(v, list) else v
                                                      for k, v in params.items()})
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp.npy")
        np.save(tmp, labels.array)
        os.replace(tmp, path)
    return labels


def dataset_cases(root: str | Path, scene_id: int | None = None, ann_id: int = 0, camera: str = "realsense",
                  object_ids: Sequence[int] | None = None) -> list[ObjectCase]:
    """Score-bins objects from a GraspNet-1Billion root (real or synthetic), one case per object.

    Each object of one frame (default: the first scene, frame ``ann_id``) is
    put alone on the table at its pose in the table frame (the base frame; it
    settles before the trials), with its convex collision pieces
    (``models/%03d/collision/piece_*.obj``; its convex hull when absent) and its
    ground-truth grasp labels (every friction level, ignoring clutter
    collisions) moved into the object frame.
    """
    from ..dataset.objects import load_collision
    from ..dataset.reader import GraspNetDataset

    ds = GraspNetDataset(root, camera)
    scenes = ds.scene_ids()
    if not scenes:
        raise FileNotFoundError(f"{root}: no scenes under scenes/")
    frame = ds.frame(scenes[0] if scene_id is None else scene_id, ann_id)
    cases = []
    for obj_id, pose in zip(frame.object_ids.tolist(), frame.object_poses):
        if object_ids is not None and obj_id not in object_ids:
            continue
        grasps = ds.ground_truth_grasps(frame, fric_coef_thresh=1.0, object_ids=[obj_id], use_collision=False)
        labels = grasps.transform(np.linalg.inv(pose), frame_id="object")
        try:
            parts = load_collision(ds.layout, obj_id)
        except FileNotFoundError:
            parts = None
        T_base_obj = frame.table_pose @ pose
        name = f"object_{obj_id:03d}"
        cases.append(ObjectCase(name, SimObject(ds.model_mesh(obj_id), T_base_obj, parts, name, obj_id), labels))
    return cases
