"""Point-cloud preparation for grasp detection (metres, the cloud's own frame)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Workspace", "finite_points", "crop", "voxel_downsample", "voxel_downsample_index", "random_subsample"]


@dataclass(frozen=True)
class Workspace:
    """An axis-aligned box [lower, upper] (m) in the cloud's frame; None bounds are open."""

    lower: tuple[float, float, float] = (-np.inf, -np.inf, 0.0)
    upper: tuple[float, float, float] = (np.inf, np.inf, np.inf)

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.lower, float), np.asarray(self.upper, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.isnan(lo).any() or np.isnan(hi).any():
            raise ValueError("workspace bounds must be 3 numbers each (x, y, z in metres)")
        if (lo >= hi).any():
            raise ValueError(f"workspace lower bound {lo.tolist()} must be below upper {hi.tolist()}")

    @classmethod
    def from_lists(cls, lower, upper) -> "Workspace":
        """From two 3-lists where NaN or None means unbounded (ROS parameters cannot hold inf)."""
        def fix(v, inf):
            return tuple(inf if (x is None or not np.isfinite(x)) else float(x) for x in v)
        return cls(fix(lower, -np.inf), fix(upper, np.inf))


def finite_points(points: np.ndarray) -> np.ndarray:
    """(N, 3) float32 rows of an (..., 3) array whose coordinates are all finite."""
    p = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    return p[np.isfinite(p).all(axis=1)]


def crop(points: np.ndarray, workspace: Workspace) -> np.ndarray:
    """Points (N, 3) inside the workspace box (bounds inclusive)."""
    p = np.asarray(points)
    lo, hi = np.asarray(workspace.lower), np.asarray(workspace.upper)
    return p[((p >= lo) & (p <= hi)).all(axis=1)]


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
