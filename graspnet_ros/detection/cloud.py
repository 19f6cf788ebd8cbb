"""Point-cloud preparation for grasp detection (metres, the cloud's own frame); voxel
downsampling is :mod:`graspnet_ros.cameras.geometry`'s."""

from __future__ import annotations

import numpy as np

from ..workspace import Workspace

__all__ = ["finite_points", "crop", "random_subsample"]


def finite_points(points: np.ndarray) -> np.ndarray:
    """(N, 3) float32 rows of an (..., 3) array whose coordinates are all finite."""
    p = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    return p[np.isfinite(p).all(axis=1)]


def crop(points: np.ndarray, workspace: Workspace) -> np.ndarray:
    """Points (N, 3) inside the workspace box (bounds inclusive)."""
    p = np.asarray(points)
    return p[workspace.contains(p)]


def random_subsample(points: np.ndarray, max_points: int, seed: int = 0) -> np.ndarray:
    """At most ``max_points`` rows, drawn without replacement (order kept)."""
    p = np.asarray(points)
    if max_points <= 0 or len(p) <= max_points:
        return p
    idx = np.sort(np.random.default_rng(seed).choice(len(p), max_points, replace=False))
    return p[idx]
