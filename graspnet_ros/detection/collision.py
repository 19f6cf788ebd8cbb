"""The collision stage every detector's grasps pass (ROS-free; metres, the cloud's frame).

Grasps are checked against the benchmark gripper (:func:`graspnet_ros.gripper.check_collision`)
on a coarser copy of the detector's cloud (the evaluator samples the object models at 8 mm),
empty grasps are dropped, and for a detector that knows no shapes (the model-free baseline)
grasps whose fingers reach into space the camera cannot see are dropped too
(:func:`fingers_in_shadow`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision
from ..cameras.geometry import voxel_downsample_index

__all__ = ["CollisionConfig", "filter_collisions", "fingers_in_shadow"]


@dataclass(frozen=True)
class CollisionConfig:
    """enabled: run the check at all. voxel: cube edge (m) of the coarser cloud the check uses
    (no coarsening when <= the cloud's own voxel). reject_empty: drop grasps with fewer than
    ``gripper.empty_threshold`` points between the jaws (the cloud is voxel-downsampled, so the
    default gripper counts 3). max_candidates: only the best-scoring grasps are checked."""

    enabled: bool = True
    voxel: float = 0.008
    reject_empty: bool = True
    gripper: GripperModel = GripperModel(empty_threshold=3)
    max_candidates: int | None = 1000


def filter_collisions(grasps: GraspGroup, cloud: np.ndarray, cfg: CollisionConfig = CollisionConfig(),
                      cloud_voxel: float = 0.0, tree: cKDTree | None = None, knows_shapes: bool = True
                      ) -> GraspGroup:
    """The grasps (same frame as ``cloud`` (M, 3), metres) that pass the stage, best first.

    cloud_voxel: the voxel (m) the cloud was already downsampled with; tree: a k-d tree of
    ``cloud`` to reuse; knows_shapes False adds the unseen-space test of the fingers.
    """
    if cfg.max_candidates is not None and len(grasps) > cfg.max_candidates:
        grasps = grasps.sort_by_score()[:cfg.max_candidates]
    if not cfg.enabled or not len(grasps):
        return grasps
    cloud = np.asarray(cloud, dtype=np.float64).reshape(-1, 3)
    coarse = cloud[voxel_downsample_index(cloud, cfg.voxel)] if cfg.voxel > cloud_voxel else cloud
    res = check_collision(grasps, coarse, cfg.gripper, tree=tree if coarse is cloud else None)
    keep = ~res.collision
    if cfg.reject_empty:
        keep &= ~res.empty
    if not knows_shapes:
        keep &= ~fingers_in_shadow(grasps, cloud, cfg.gripper)
    return grasps.filter(keep)


def fingers_in_shadow(grasps: GraspGroup, points: np.ndarray, gripper: GripperModel = GripperModel(),
                      bin_rad: float = 0.01, tolerance: float = 0.03) -> np.ndarray:
    """(N,) bool: a finger of the grasp lies in space the camera cannot see (behind an observed
    surface by more than ``tolerance`` m), where the unseen back of the object may be.

    grasps and points (M, 3) in the camera's optical frame (metres, camera at the origin). The
    cloud becomes a z-buffer over viewing directions (``bin_rad`` wide); each finger is sampled
    at 3 x 3 points (base to tip, bottom to top) on its mid-plane.
    """
    flat = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = flat[np.isfinite(flat).all(axis=1) & (flat[:, 2] > 1e-6)]
    if not len(grasps) or not len(pts):
        return np.zeros(len(grasps), dtype=bool)
    g = gripper
    xs = np.linspace(-g.depth_base, 1.0, 3)  # the last row scaled to each grasp's depth below
    zs = np.array([-g.height / 2, 0.0, g.height / 2])
    X, Z = np.meshgrid(xs, zs, indexing="ij")
    n = len(grasps)
    local = np.zeros((n, 2, 9, 3))
    local[..., 0] = np.where(X.ravel() > 0, X.ravel()[None] * grasps.depths[:, None], X.ravel()[None])[:, None]
    local[..., 1] = (np.array([-1.0, 1.0])[None, :, None] * (grasps.widths / 2 + g.finger_width / 2)[:, None, None])
    local[..., 2] = Z.ravel()[None, None]
    world = np.einsum("nij,nfsj->nfsi", grasps.rotations, local) + grasps.translations[:, None, None]
    span = 3.0  # |x/z|, |y/z| covered (a 143-degree field of view); beyond it counts as seen

    def cells(q: np.ndarray) -> np.ndarray:
        return np.floor((np.clip(q[..., :2] / q[..., 2:3], -span, span) + span) / bin_rad).astype(np.int64)

    ij = cells(pts)
    shape = np.full(2, int(2 * span / bin_rad) + 1)
    zbuf = np.full(shape, np.inf)
    np.minimum.at(zbuf, (ij[:, 0], ij[:, 1]), pts[:, 2])
    front = world[..., 2] > 1e-6
    fij = cells(np.where(front[..., None], world, 1.0))
    inside = front & (fij >= 0).all(axis=-1) & (fij < shape).all(axis=-1)
    seen = np.full(world.shape[:-1], np.inf)
    seen[inside] = zbuf[fij[inside][:, 0], fij[inside][:, 1]]
    return (world[..., 2] > seen + tolerance).any(axis=(1, 2))

