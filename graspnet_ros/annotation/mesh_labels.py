"""Force-closure labels of grasps on one mesh, small scale (the paper's section 3.3 recipe).

The quick recipe the demo and the simulated trials use (the dataset's labels
come from :mod:`.object_labels`, at full scale): grasp points spread over the
surface, approach views from a Fibonacci sphere (only those coming from
outside the surface), in-plane angles over [0, pi) and gripper depths; each
candidate is closed onto the mesh (ray-cast contacts), labelled with the
smallest passing friction coefficient of 0.1 .. 1.0, given the tight width
plus 1 cm, and checked against the object's own points with the benchmark
gripper. Frame: the mesh's own (``frame_id`` 'object'), metres.
"""

from __future__ import annotations

import numpy as np
import trimesh

from ..force_closure import (
    ANNOTATION_MUS,
    MeshRaycaster,
    antipodal_angle,
    grasp_contacts,
    labels_from_angles,
    tight_widths,
)
from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision
from ..views import fibonacci_views

__all__ = ["sample_candidates", "label_mesh_grasps"]


def sample_candidates(mesh: trimesh.Trimesh, num_points: int, num_views: int, num_angles: int,
                      depths: tuple[float, ...], width: float, seed: int) -> GraspGroup:
    """Candidate grasps (score 0, opening ``width`` m) on the surface of ``mesh``, in its frame."""
    points, face = trimesh.sample.sample_surface_even(mesh, num_points, seed=seed)
    normals = mesh.face_normals[face]
    views = fibonacci_views(num_views)
    # approach = -view; keep views that come from outside the surface
    outside = (views @ normals.T).T > 0.3  # (P, V)
    p_idx, v_idx = np.nonzero(outside)
    angles = np.arange(num_angles) * np.pi / num_angles
    n = len(p_idx)
    p_idx = np.repeat(p_idx, num_angles * len(depths))
    v_idx = np.repeat(v_idx, num_angles * len(depths))
    ang = np.tile(np.repeat(angles, len(depths)), n)
    dep = np.tile(np.asarray(depths, dtype=float), n * num_angles)
    return GraspGroup.from_approach(points[p_idx], -views[v_idx], ang, dep, width, score=0.0,
                                    frame_id="object")


def label_mesh_grasps(mesh: trimesh.Trimesh, num_points: int = 80, num_views: int = 120, num_angles: int = 12,
                      depths: tuple[float, ...] = (0.01, 0.02, 0.03, 0.04), max_width: float = 0.1,
                      seed: int = 0) -> tuple[GraspGroup, int]:
    """(the force-closure, collision-free grasps with score s = 1.1 - mu, the number of candidates).

    Widths are the tight width between the contacts (at most ``max_width`` m) plus 1 cm.
    """
    cand = sample_candidates(mesh, num_points, num_views, num_angles, tuple(depths), max_width, seed)
    contacts = grasp_contacts(cand, MeshRaycaster.from_trimesh(mesh))
    labels = labels_from_angles(antipodal_angle(contacts), ANNOTATION_MUS)
    fc = labels > 0
    cand.array[fc, 1] = tight_widths(contacts, max_width=max_width)[fc]
    cloud, _ = trimesh.sample.sample_surface_even(mesh, 3000, seed=seed)
    good = fc & check_collision(cand, cloud, GripperModel()).valid
    return cand.filter(good).with_scores(np.round(1.1 - labels[good], 2)), len(cand)
