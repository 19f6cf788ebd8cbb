"""Line drawings of the simplified gripper, for plots and RViz markers."""

from __future__ import annotations

import numpy as np

from ..grasp import GraspGroup


def gripper_polylines(grasps: GraspGroup, depth_base: float = 0.02, tail: float = 0.04) -> np.ndarray:
    """(N, 6, 3) points of each gripper's outline in ``grasps.frame_id`` (m).

    Order: left fingertip, left finger base, right finger base, right
    fingertip, then the palm centre and the end of the approach tail. Draw
    segments 0-1-2-3 (the U of the jaws) and 4-5 (the tail).
    """
    n = len(grasps)
    half = grasps.widths / 2
    local = np.zeros((n, 6, 3))
    local[:, 0] = np.stack([grasps.depths, -half, np.zeros(n)], axis=1)
    local[:, 1] = np.stack([np.full(n, -depth_base), -half, np.zeros(n)], axis=1)
    local[:, 2] = np.stack([np.full(n, -depth_base), half, np.zeros(n)], axis=1)
    local[:, 3] = np.stack([grasps.depths, half, np.zeros(n)], axis=1)
    local[:, 4] = (-depth_base, 0.0, 0.0)
    local[:, 5] = (-depth_base - tail, 0.0, 0.0)
    return np.einsum("nij,nkj->nki", grasps.rotations, local) + grasps.translations[:, None]
