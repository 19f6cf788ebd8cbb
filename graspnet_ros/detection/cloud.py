"""Point-cloud preparation for grasp detection (metres, the cloud's own frame)."""

from __future__ import annotations

import numpy as np

from ..workspace import Workspace

__all__ = ["finite_points", "crop", "voxel_downsample", "voxel_downsample_index", "random_subsample"]


def finite_points(points: np.ndarray) -> np.ndarray:
    """(N, 3) float32 rows of an (..., 3) array whose coordinates are all finite."""
    p = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    return p[np.isfinite(p).all(axis=1)]


def crop(points: np.ndarray, workspace: Workspace) -> np.ndarray:
    """Points (N, 3) inside the workspace box (bounds inclusive)."""
    p = np.asarray(points)
    return p[workspace.contains(p)]


def voxel_downsample(points: np.ndarray, voxel: float) -> np.ndarray:
    """One point per occupied cube of edge ``voxel`` (m): the mean of its points.

    voxel <= 0 returns the points unchanged. Output order follows the voxel
    keys (deterministic).
    """
    p = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    if voxel <= 0 or len(p) == 0:
        return p
    cells = np.floor((p - p.min(axis=0)) / voxel).astype(np.int64)
    dims = cells.max(axis=0) + 1
    keys = (cells[:, 0] * dims[1] + cells[:, 1]) * dims[2] + cells[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    sums = np.stack([np.bincount(inverse, weights=p[:, k], minlength=len(counts)) for k in range(3)],
                    axis=1)
    return (sums / counts[:, None]).astype(np.float32)


def voxel_downsample_index(points: np.ndarray, voxel: float) -> np.ndarray:
    """Sorted indices of one point per occupied cube of edge ``voxel`` (m): the first in index
    order, so the kept points are input points (:func:`voxel_downsample` averages instead);
    all indices when voxel <= 0."""
    p = np.asarray(points).reshape(-1, 3)
    if voxel <= 0 or len(p) == 0:
        return np.arange(len(p))
    keys = np.floor(p / voxel).astype(np.int64)
    keys -= keys.min(axis=0)
    dims = keys.max(axis=0) + 1
    flat = (keys[:, 0] * dims[1] + keys[:, 1]) * dims[2] + keys[:, 2]
    return np.sort(np.unique(flat, return_index=True)[1])


def random_subsample(points: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """At most ``max_points`` rows, drawn without replacement (order kept)."""
    p = np.asarray(points)
    if max_points <= 0 or len(p) <= max_points:
        return p
    idx = np.sort(np.random.default_rng(seed).choice(len(p), max_points, replace=False))
    return p[idx]
