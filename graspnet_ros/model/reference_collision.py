"""graspnet-baseline's model-free collision detector (``utils/collision_detector.py``).

The ``reference`` detector preset filters grasps as graspnet-baseline's demo
does: the scene cloud (camera frame, metres) is voxel-downsampled by Open3D
(one centroid per ``voxel_size`` cell), and a grasp collides when the points
inside its two fingers (length 0.06 m, width 0.01 m), its base (0.01 m) and
the ``approach_dist`` it travels before closing, counted as voxels, exceed
``collision_thresh`` of that volume. The finger box ends at the grasp depth
(x = depth in the gripper frame), the jaw opening is the grasp width and the
gripper's thickness its height. This differs from the package's own
:func:`graspnet_ros.gripper.check_collision` (any point, no approach region),
which is why the preset uses this one.

Same inequalities and volumes as the reference, vectorised: a k-d tree
gathers each grasp's candidate points (a superset: its bounding sphere), the
masks run on those only.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .._native import import_open3d
from ..grasp import GraspGroup

#: graspnet-baseline ModelFreeCollisionDetector finger dimensions (m).
FINGER_WIDTH = 0.01
FINGER_LENGTH = 0.06


def voxel_down_sample(points: np.ndarray, voxel_size: float) -> np.ndarray:
    """Open3D ``voxel_down_sample`` of (M, 3) points (m): one centroid per occupied cell."""
    o3d = import_open3d()
    cloud = o3d.geometry.PointCloud()
    cloud.points = o3d.utility.Vector3dVector(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    return np.asarray(cloud.voxel_down_sample(voxel_size).points)


def model_free_collision(grasps: GraspGroup, scene_points: np.ndarray, voxel_size: float = 0.01,
                         approach_dist: float = 0.05, collision_thresh: float = 0.01,
                         downsampled: np.ndarray | None = None) -> np.ndarray:
    """(N,) bool collision mask of ``ModelFreeCollisionDetector(scene_points,
    voxel_size).detect(grasps, approach_dist, collision_thresh)``.

    grasps and scene_points (M, 3) share one frame (metres); the defaults are
    the demo's. ``downsampled`` passes a cloud already through
    :func:`voxel_down_sample` (reused across calls).
    """
    if voxel_size <= 0:
        raise ValueError(f"voxel_size must be > 0 m, got {voxel_size}")
    n = len(grasps)
    if n == 0:
        return np.zeros(0, dtype=bool)
    pts = voxel_down_sample(scene_points, voxel_size) if downsampled is None else downsampled
    approach_dist = max(approach_dist, FINGER_WIDTH)
    T, R = grasps.translations, grasps.rotations
    heights, depths, widths = grasps.heights, grasps.depths, grasps.widths
    # every counted point lies in x (depth - L - f - approach, depth], |y| < w/2 + f, |z| < h/2
    x_lo = depths - FINGER_LENGTH - FINGER_WIDTH - approach_dist
    half = np.stack([(depths - x_lo) / 2, widths / 2 + FINGER_WIDTH, heights / 2], axis=1)
    centres = T + R[:, :, 0] * ((depths + x_lo) / 2)[:, None]
    near = cKDTree(pts).query_ball_point(centres, np.linalg.norm(half, axis=1) * (1 + 1e-9) + 1e-12)
    counts = np.fromiter((len(c) for c in near), dtype=np.int64, count=n)
    gid = np.repeat(np.arange(n), counts)
    pid = np.concatenate([np.asarray(c, dtype=np.int64) for c in near]) if counts.sum() else np.zeros(0, np.int64)
    t = np.einsum("pk,pkj->pj", pts[pid] - T[gid], R[gid])  # (P, 3) in each grasp's frame
    h, d, w = heights[gid], depths[gid], widths[gid]
    f, L = FINGER_WIDTH, FINGER_LENGTH
    m1 = (t[:, 2] > -h / 2) & (t[:, 2] < h / 2)
    m2 = (t[:, 0] > d - L) & (t[:, 0] < d)
    m3 = t[:, 1] > -(w / 2 + f)
    m4 = t[:, 1] < -w / 2
    m5 = t[:, 1] < (w / 2 + f)
    m6 = t[:, 1] > w / 2
    m7 = (t[:, 0] <= d - L) & (t[:, 0] > d - L - f)
    m8 = (t[:, 0] <= d - L - f) & (t[:, 0] > d - L - f - approach_dist)
    hit = (m1 & m2 & m3 & m4) | (m1 & m2 & m5 & m6) | (m1 & m3 & m5 & m7) | (m1 & m3 & m5 & m8)
    global_count = np.bincount(gid[hit], minlength=n)
    vox3 = voxel_size ** 3
    volume = (heights * L * f / vox3) * 2 + heights * (widths + 2 * f) * f / vox3 \
        + heights * (widths + 2 * f) * approach_dist / vox3
    return global_count / (volume + 1e-6) > collision_thresh


def model_free_collision_naive(grasps: GraspGroup, scene_points: np.ndarray, voxel_size: float = 0.01,
                               approach_dist: float = 0.05, collision_thresh: float = 0.01) -> np.ndarray:
    """The reference's dense (N x M) computation, line by line, for tests."""
    pts = voxel_down_sample(scene_points, voxel_size)
    approach_dist = max(approach_dist, FINGER_WIDTH)
    T, R = grasps.translations, grasps.rotations
    heights, depths, widths = grasps.heights[:, None], grasps.depths[:, None], grasps.widths[:, None]
    targets = np.matmul(pts[None] - T[:, None], R)
    f, L = FINGER_WIDTH, FINGER_LENGTH
    mask1 = (targets[:, :, 2] > -heights / 2) & (targets[:, :, 2] < heights / 2)
    mask2 = (targets[:, :, 0] > depths - L) & (targets[:, :, 0] < depths)
    mask3 = targets[:, :, 1] > -(widths / 2 + f)
    mask4 = targets[:, :, 1] < -widths / 2
    mask5 = targets[:, :, 1] < (widths / 2 + f)
    mask6 = targets[:, :, 1] > widths / 2
    mask7 = (targets[:, :, 0] <= depths - L) & (targets[:, :, 0] > depths - L - f)
    mask8 = (targets[:, :, 0] <= depths - L - f) & (targets[:, :, 0] > depths - L - f - approach_dist)
    global_mask = ((mask1 & mask2 & mask3 & mask4) | (mask1 & mask2 & mask5 & mask6)
                   | (mask1 & mask3 & mask5 & mask7) | (mask1 & mask3 & mask5 & mask8))
    left_right_volume = (heights * L * f / (voxel_size ** 3)).reshape(-1)
    bottom_volume = (heights * (widths + 2 * f) * f / (voxel_size ** 3)).reshape(-1)
    shifting_volume = (heights * (widths + 2 * f) * approach_dist / (voxel_size ** 3)).reshape(-1)
    volume = left_right_volume * 2 + bottom_volume + shifting_volume
    return global_mask.sum(axis=1) / (volume + 1e-6) > collision_thresh
