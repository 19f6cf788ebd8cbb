"""The benchmark's simplified two-finger gripper: collision and empty checks.

Regions in the gripper frame (x = approach, y = closing, z = height), with
w = grasp width, d = grasp depth, h = gripper height, b = base depth,
f = finger width (all metres); every region spans -h/2 < z < h/2:

* left finger:  -b < x < d,            -(w/2 + f) < y < -w/2
* right finger: -b < x < d,             w/2 < y < w/2 + f
* base (palm):  -(b + f) < x < -b,     -(w/2 + f) < y < w/2 + f
* closing region (between the jaws): -b < x < d, -w/2 <= y <= w/2

A grasp collides when any point lies in a finger or the base; it is empty
when fewer than ``empty_threshold`` points lie in the closing region. These
are the reference evaluator's inequalities (graspnetAPI eval_utils), which
use a fixed height of 0.02 m whatever the grasp's own height column says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .grasp import GraspGroup


@dataclass(frozen=True)
class GripperModel:
    """Dimensions of the simplified gripper, metres."""

    height: float = 0.02
    depth_base: float = 0.02
    finger_width: float = 0.01
    empty_threshold: int = 10


@dataclass
class CollisionResult:
    """Per-grasp outcome of :func:`check_collision`."""

    collision: np.ndarray  # (N,) bool: a point inside a finger or the base
    empty: np.ndarray  # (N,) bool: fewer than empty_threshold points between the jaws
    inner_count: np.ndarray  # (N,) int: points between the jaws

    @property
    def valid(self) -> np.ndarray:
        """Neither colliding nor empty."""
        return ~(self.collision | self.empty)


def _region_masks(local: np.ndarray, width: np.ndarray, depth: np.ndarray,
                  model: GripperModel, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Collision and inner masks for points already in gripper coordinates.

    local: coordinates (x, y, z) along ``axis``; width, depth broadcastable to
    one coordinate slice. The left and right finger tests are folded into one
    on |y| (exact in floating point).
    """
    x, y, z = np.moveaxis(local, axis, 0)
    ay = np.abs(y)
    half = width / 2
    f, b = model.finger_width, model.depth_base
    in_height = np.abs(z) < model.height / 2
    along_fingers = (x > -b) & (x < depth)
    finger = (ay > half) & (ay < half + f)
    base = (x > -(b + f)) & (x < -b) & (ay < half + f)
    collide = in_height & ((along_fingers & finger) | base)
    inner = in_height & along_fingers & (ay <= half)
    return collide, inner


def _morton_keys(points: np.ndarray, resolution: float = 0.005) -> np.ndarray:
    """Z-order curve keys of (N, 3) points, so that sorting groups nearby points."""
    cells = np.floor((points - points.min(axis=0)) / resolution).astype(np.uint64)
    cells = np.minimum(cells, np.uint64(2**21 - 1))
    keys = np.zeros(len(points), dtype=np.uint64)
    for bit in range(21):
        for axis in range(3):
            keys |= ((cells[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit + axis)
    return keys


def check_collision_naive(grasps: GraspGroup, points: np.ndarray,
                          model: GripperModel = GripperModel()) -> CollisionResult:
    """Dense (N x M) reference implementation; use only on small inputs."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    local = np.einsum("nmk,nkj->nmj", pts[None] - grasps.translations[:, None], grasps.rotations)
    collide, inner = _region_masks(local, grasps.widths[:, None], grasps.depths[:, None], model)
    count = inner.sum(axis=1)
    return CollisionResult(np.asarray(collide.any(axis=1)), np.asarray(count < model.empty_threshold), count)


def check_collision(grasps: GraspGroup, points: np.ndarray,
                    model: GripperModel = GripperModel(), tree: cKDTree | None = None,
                    group_size: int = 16) -> CollisionResult:
    """Collision and empty checks of many grasps against a point cloud.

    grasps and points (M, 3) must be in the same frame (metres). Grasps are
    sorted into spatially coherent groups of ``group_size``; for each group a
    k-d tree ball query gathers the points that can reach any of its grippers,
    one matrix product puts those points into every gripper frame of the
    group, and the region inequalities run on that dense block. Memory is
    bounded by (points near the group) x group_size x 3 floats. Pass a
    prebuilt ``tree`` over ``points`` to reuse it across calls.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    n = len(grasps)
    if n == 0 or len(pts) == 0:
        zeros = np.zeros(n, dtype=np.int64)
        return CollisionResult(np.zeros(n, bool), zeros < model.empty_threshold, zeros)
    if not np.isfinite(pts).all():
        raise ValueError("point cloud contains NaN or infinite values; remove them first")
    f, b = model.finger_width, model.depth_base
    # Bounding sphere of each gripper box: x in [-(b+f), d], |y| <= w/2+f, |z| <= h/2.
    x_lo, x_hi = -(b + f), grasps.depths
    radius = np.sqrt(((x_hi - x_lo) / 2) ** 2 + (grasps.widths / 2 + f) ** 2 + (model.height / 2) ** 2)
    centres = grasps.translations + grasps.approaches * ((x_lo + x_hi) / 2)[:, None]
    tree = tree if tree is not None else cKDTree(pts)
    rot = grasps.rotations
    offsets = np.einsum("gk,gkj->gj", grasps.translations, rot)  # t expressed in each gripper frame
    order = np.argsort(_morton_keys(centres), kind="stable")
    collision = np.zeros(n, dtype=bool)
    count = np.zeros(n, dtype=np.int64)
    for group in np.array_split(order, int(np.ceil(n / group_size))):
        mid = centres[group].mean(axis=0)
        reach = np.linalg.norm(centres[group] - mid, axis=1) + radius[group]
        near = tree.query_ball_point(mid, float(reach.max()) + 1e-9, return_sorted=False)
        if not near:
            continue
        # (M', 3, G): coordinate j of every nearby point in every gripper frame of the group
        local = (pts[near] @ rot[group].transpose(1, 2, 0).reshape(3, -1)).reshape(len(near), 3, len(group))
        local -= offsets[group].T
        collide, inner = _region_masks(local, grasps.widths[group], grasps.depths[group], model, axis=1)
        collision[group] = collide.any(axis=0)
        count[group] = inner.sum(axis=0)
    return CollisionResult(collision, count < model.empty_threshold, count)


def table_points(size_x: float = 1.0, size_y: float = 1.0, thickness: float = 0.05,
                 spacing: float = 0.008) -> np.ndarray:
    """(M, 3) grid of points filling a table slab in the table frame (m).

    The slab is centred on the origin in x and y and spans z in
    [-thickness, 0], so the table top is the plane z = 0. The sampling
    follows the reference evaluator's grid (linspace with int(size/spacing)
    samples per axis).
    """
    axes = [np.linspace(0.0, size, max(2, int(size / spacing)))
            for size in (size_x, size_y, thickness)]
    grid = np.stack(np.meshgrid(*axes, indexing="xy"), axis=-1).reshape(-1, 3)
    return grid + np.array([-size_x / 2, -size_y / 2, -thickness])
