"""Grasp-geometry demo: sample grasps on one mesh, label them, draw them.

The object frame is the mesh's own frame (metres). Labels follow the
annotation recipe of paper section 3.3 on a small scale
(:func:`graspnet_ros.annotation.mesh_labels.label_mesh_grasps`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from .annotation.mesh_labels import label_mesh_grasps
from .grasp import GraspGroup


def default_mesh() -> trimesh.Trimesh:
    """A soup-can-sized cylinder (radius 3.5 cm, height 10 cm) standing on z = 0."""
    mesh = trimesh.creation.cylinder(radius=0.035, height=0.10, sections=64)
    mesh.apply_translation((0, 0, 0.05))
    return mesh


def load_mesh(path: str | Path | None) -> trimesh.Trimesh:
    if path is None:
        return default_mesh()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mesh file not found: {path}")
    mesh = trimesh.load(path, force="mesh")
    if len(mesh.faces) == 0:
        raise ValueError(f"{path}: no triangles in this mesh")
    if mesh.extents.max() > 2.0:
        raise ValueError(f"{path}: mesh is {mesh.extents.max():.1f} units across; "
                         "meshes must be in metres (millimetre files need scaling by 0.001)")
    return mesh


@dataclass
class DemoResult:
    grasps: GraspGroup  # valid labelled grasps, score = 1.1 - mu
    num_candidates: int
    num_force_closure: int
    seconds: float
    picture: Path | None


def spread_by_score(grasps: GraspGroup, count: int) -> GraspGroup:
    """Up to ``count`` grasps taking the best few of every score level, so a
    picture shows the whole range of scores."""
    levels = np.unique(np.round(grasps.scores, 2))
    per_level = max(1, count // max(1, len(levels)))
    keep = np.concatenate([np.flatnonzero(np.round(grasps.scores, 2) == lv)[:per_level] for lv in levels]
                          ) if len(levels) else np.zeros(0, dtype=np.int64)
    return grasps[np.sort(keep)]


def run_demo(mesh_path: str | None = None, out: str | Path = "output/demo_grasps.png",
             num_points: int = 60, num_views: int = 120, num_angles: int = 6,
             depths: tuple[float, ...] = (0.01, 0.02, 0.03), width: float = 0.1,
             seed: int = 0, show: int = 40) -> DemoResult:
    t0 = time.perf_counter()
    mesh = load_mesh(mesh_path)
    grasps, num_candidates = label_mesh_grasps(mesh, num_points, num_views, num_angles, depths, width, seed)
    cloud, _ = trimesh.sample.sample_surface_even(mesh, 3000, seed=seed)
    seconds = time.perf_counter() - t0
    picture = None
    if out:
        from .viz.plot3d import plot_grasps

        shown = spread_by_score(grasps.nms(), show)
        picture = plot_grasps(cloud, shown, out,
                              title=f"{len(grasps)} labelled grasps of {num_candidates} candidates\n"
                                    f"{len(shown)} shown after pose NMS, spread over scores")
    return DemoResult(grasps, num_candidates, len(grasps), seconds, picture)


def summary(result: DemoResult) -> str:
    scores = np.round(result.grasps.scores, 1)
    hist = ", ".join(f"s={s:.1f}: {int((scores == s).sum())}" for s in np.unique(scores)[::-1])
    lines = [
        f"candidates: {result.num_candidates} (object frame, metres)",
        f"collision-free, non-empty and force-closure: {result.num_force_closure} "
        f"({result.num_force_closure / max(1, result.num_candidates):.0%})",
        f"score histogram (s = 1.1 - mu): {hist or 'none'}",
        f"time: {result.seconds:.2f} s ({result.num_candidates / result.seconds:,.0f} candidates/s)",
    ]
    if result.picture:
        lines.append(f"picture: {result.picture}")
    return "\n".join(lines)
