"""Force-closure labels of parallel-jaw grasps on a mesh (paper section 3.3).

Contacts: the jaws start at ``c -+ (w/2) y`` and close along the gripper y
axis towards ``c``, where ``c = t + depth * x`` is the fingertip centre (the
point the reference evaluator hands to its contact search). Each jaw's
contact is the first surface it meets on the way in, found by casting one
ray per jaw with Open3D's RaycastingScene; the contact normal is that
triangle's normal.

Why ray casting instead of the reference's signed-distance-field line march:
it is exact on the mesh (no voxel resolution), needs no SDF to precompute,
and Open3D casts millions of rays per second, so labelling is a batch
operation over all candidates at once.

Test (Nguyen's antipodal condition, as in the reference): with d the line
between the contacts, the grasp is force-closure at friction mu iff at both
contacts the angle between d and the (unsigned) surface normal is at most
arctan(mu). A grasp's label is the smallest mu of a list at which it passes,
-1 if none (score s = 1.1 - mu in the annotation, DESIGN.md).

Jaws that start inside the object (the first triangle is hit from behind)
or that meet nothing within w/2 have no contact: label -1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._native import import_open3d
from .grasp import GraspGroup

o3d = import_open3d()

#: mu values of the annotation pipeline (paper eq. 2): 0.1 ... 1.0.
ANNOTATION_MUS = np.round(np.arange(0.1, 1.01, 0.1), 2)
#: mu values of the benchmark evaluator.
BENCHMARK_MUS = np.array([0.2, 0.4, 0.6, 0.8, 1.0, 1.2])


class MeshRaycaster:
    """One object mesh (vertices (V, 3) m, faces (F, 3)) in its own frame."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        vertices = np.asarray(vertices, dtype=np.float32).reshape(-1, 3)
        faces = np.asarray(faces, dtype=np.uint32).reshape(-1, 3)
        if len(vertices) == 0 or len(faces) == 0:
            raise ValueError("mesh has no vertices or no faces")
        if not np.isfinite(vertices).all():
            raise ValueError("mesh vertices contain NaN or infinite values")
        if faces.max() >= len(vertices):
            raise ValueError("mesh faces index past the vertex array")
        self.vertices = vertices
        self.faces = faces
        self._scene = o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(o3d.core.Tensor(vertices), o3d.core.Tensor(faces))

    @classmethod
    def from_trimesh(cls, mesh) -> "MeshRaycaster":
        return cls(np.asarray(mesh.vertices), np.asarray(mesh.faces))

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cast rays; returns hit distance (N,) (inf on a miss) and unit face normals (N, 3).

        Distances are in units of the direction vectors' length (metres for unit directions).
        """
        rays = np.concatenate([origins, directions], axis=1).astype(np.float32)
        ans = self._scene.cast_rays(o3d.core.Tensor(rays))
        return ans["t_hit"].numpy().astype(np.float64), ans["primitive_normals"].numpy().astype(np.float64)


@dataclass
class Contacts:
    """Jaw contacts of N grasps, in the mesh frame."""

    found: np.ndarray  # (N,) bool, both jaws found a contact
    points: np.ndarray  # (N, 2, 3) contact points, m (NaN where not found)
    normals: np.ndarray  # (N, 2, 3) unit surface normals (NaN where not found)


def find_contacts(mesh: MeshRaycaster, centers: np.ndarray, axes: np.ndarray,
                  widths: np.ndarray) -> Contacts:
    """Close two jaws on ``mesh``.

    centers: (N, 3) jaw-closing centres (m); axes: (N, 3) unit closing axes;
    widths: (N,) opening widths (m). Jaw 1 starts at ``c - w/2 * y`` moving +y,
    jaw 2 at ``c + w/2 * y`` moving -y; each travels at most w/2.
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    axes = np.asarray(axes, dtype=np.float64).reshape(-1, 3)
    half = np.asarray(widths, dtype=np.float64).reshape(-1) / 2
    n = len(centers)
    origins = np.concatenate([centers - half[:, None] * axes, centers + half[:, None] * axes])
    dirs = np.concatenate([axes, -axes])
    t_hit, normals = mesh.cast(origins, dirs)
    facing = np.einsum("ij,ij->i", normals, dirs)
    # A hit counts when within the jaw's travel and entering the surface.
    ok = (t_hit <= np.concatenate([half, half]) + 1e-9) & (facing < 0)
    points = np.full_like(origins, np.nan)
    points[ok] = origins[ok] + t_hit[ok, None] * dirs[ok]
    normals = normals.copy()
    normals[~ok] = np.nan
    found = ok[:n] & ok[n:]
    return Contacts(found, np.stack([points[:n], points[n:]], axis=1),
                    np.stack([normals[:n], normals[n:]], axis=1))


def antipodal_angle(contacts: Contacts) -> np.ndarray:
    """(N,) the larger of the two angles (rad) between the contact line and the
    contact normals (unsigned); NaN where contacts are missing or coincide."""
    d = contacts.points[:, 1] - contacts.points[:, 0]
    length = np.linalg.norm(d, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = d / length[:, None]
        cos = np.abs(np.einsum("nij,nj->ni", contacts.normals, u))
        angle = np.arccos(np.clip(cos, 0.0, 1.0)).max(axis=1)
    angle[~contacts.found | ~(length > 0)] = np.nan
    return angle


def labels_from_angles(angles: np.ndarray, mus: np.ndarray = ANNOTATION_MUS) -> np.ndarray:
    """Smallest mu with arctan(mu) >= angle, per grasp; -1 where none or NaN."""
    mus = np.sort(np.asarray(mus, dtype=np.float64))
    limits = np.arctan(mus)
    idx = np.searchsorted(limits, np.nan_to_num(angles, nan=np.inf), side="left")
    out = np.full(len(angles), -1.0)
    ok = idx < len(mus)
    out[ok] = mus[idx[ok]]
    return out


def grasp_contacts(grasps: GraspGroup, mesh: MeshRaycaster) -> Contacts:
    """Jaw contacts of grasps expressed in the mesh's frame (jaws close at t + depth * x)."""
    centers = grasps.translations + grasps.depths[:, None] * grasps.approaches
    return find_contacts(mesh, centers, grasps.closing_axes, grasps.widths)


def force_closure_labels(grasps: GraspGroup, mesh: MeshRaycaster,
                         mus: np.ndarray = ANNOTATION_MUS) -> np.ndarray:
    """Friction labels (N,) of grasps expressed in the mesh's frame.

    Each label is the smallest mu in ``mus`` at which the grasp is
    force-closure, or -1 (no contact on a jaw, or not force-closure at the
    largest mu). Vectorised: one ray cast for all 2N jaws.
    """
    if len(grasps) == 0:
        return np.zeros(0)
    return labels_from_angles(antipodal_angle(grasp_contacts(grasps, mesh)), mus)


def tight_widths(contacts: Contacts, margin: float = 0.01, max_width: float = 0.1) -> np.ndarray:
    """Jaw openings (N,) that just clear the contacts: contact span + ``margin`` (m),
    capped at ``max_width``; NaN where contacts are missing."""
    span = np.linalg.norm(contacts.points[:, 1] - contacts.points[:, 0], axis=1)
    return np.minimum(span + margin, max_width)


def force_closure_naive(p1: np.ndarray, p2: np.ndarray, n1: np.ndarray, n2: np.ndarray,
                        mu: float) -> bool:
    """One grasp, one mu: the textbook antipodal test, for cross-checking."""
    d = np.asarray(p2, float) - np.asarray(p1, float)
    if not np.linalg.norm(d) > 0:
        return False
    for n, v in ((np.asarray(n1, float), d), (np.asarray(n2, float), -d)):
        cos = abs(n @ v) / (np.linalg.norm(n) * np.linalg.norm(v))
        if np.arccos(min(1.0, cos)) > np.arctan(mu):
            return False
    return True
