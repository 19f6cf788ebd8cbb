"""Approach-view templates: points spread evenly on a sphere."""

from __future__ import annotations

import numpy as np


def fibonacci_views(n: int = 300, radius: float = 1.0) -> np.ndarray:
    """(n, 3) view vectors on a Fibonacci sphere lattice (the reference's V views).

    z_i = (2i + 1) / n - 1 and azimuth 2 pi i phi with phi = (sqrt(5) - 1) / 2.
    """
    if n <= 0:
        raise ValueError(f"number of views must be positive, got {n}")
    i = np.arange(n, dtype=np.float64)
    phi = (np.sqrt(5.0) - 1.0) / 2.0
    z = (2.0 * i + 1.0) / n - 1.0
    r = np.sqrt(np.clip(1.0 - z * z, 0.0, None))
    return radius * np.stack([r * np.cos(2 * np.pi * i * phi), r * np.sin(2 * np.pi * i * phi), z], axis=1)


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """(4, 4) pose T_world<-optical of a REP-103 optical camera at ``eye`` looking at ``target``.

    eye, target, up: 3-vectors in the world frame (metres). Camera z points
    from eye to target, x is horizontal (perpendicular to ``up``) and image
    "up" (-y) leans towards ``up``. Raises ValueError when the viewing
    direction is parallel to ``up``.
    """
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    if not np.linalg.norm(z) > 0:
        raise ValueError("look_at: eye and target coincide")
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: the viewing direction is parallel to 'up'; pass another up vector")
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    pose[:3, 3] = eye
    return pose
