"""Depth images <-> point clouds in a camera's optical frame (ROS-free, vectorised)."""

from __future__ import annotations

import numpy as np

from .base import CameraIntrinsics

__all__ = ["depth_to_points", "project_points", "valid_points"]


def depth_to_points(depth: np.ndarray, intrinsics: CameraIntrinsics,
                    organised: bool = True) -> np.ndarray:
    """Back-project a depth image to points in the optical frame (metres).

    depth: (H, W) metres; 0, negative or non-finite = no data.
    organised=True returns (H, W, 3) float32 with NaN where there is no data
    (pixel (v, u) -> row v, column u); False returns the (N, 3) valid points
    in row-major pixel order.
    """
    depth = np.asarray(depth, dtype=np.float32)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f"depth image is {depth.shape[::-1]} (w, h) but the intrinsics are for "
                         f"{intrinsics.width}x{intrinsics.height}")
    u = (np.arange(intrinsics.width, dtype=np.float32) - intrinsics.cx) / intrinsics.fx
    v = (np.arange(intrinsics.height, dtype=np.float32) - intrinsics.cy) / intrinsics.fy
    valid = np.isfinite(depth) & (depth > 0)
    z = np.where(valid, depth, np.float32(np.nan))
    pts = np.empty(depth.shape + (3,), dtype=np.float32)
    pts[..., 0] = z * u[None, :]
    pts[..., 1] = z * v[:, None]
    pts[..., 2] = z
    return pts if organised else np.take(pts.reshape(-1, 3), np.flatnonzero(valid), axis=0)


def project_points(points: np.ndarray, intrinsics: CameraIntrinsics) -> np.ndarray:
    """(N, 2) pixel coordinates (u, v) of (N, 3) optical-frame points (m); NaN behind the camera."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    z = np.where(p[:, 2] > 1e-9, p[:, 2], np.nan)
    return np.stack([intrinsics.fx * p[:, 0] / z + intrinsics.cx,
                     intrinsics.fy * p[:, 1] / z + intrinsics.cy], axis=1)


def valid_points(points: np.ndarray) -> np.ndarray:
    """(N, 3) finite points of an (..., 3) array (organised clouds flattened row-major)."""
    p = np.asarray(points).reshape(-1, 3)
    return p[np.isfinite(p).all(axis=1)]
