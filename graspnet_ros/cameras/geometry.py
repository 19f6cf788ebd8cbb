"""Depth images <-> point clouds in a camera's optical frame, voxel downsampling and surface
normals (ROS-free, vectorised; metres)."""

from __future__ import annotations

import numpy as np

from .base import CameraIntrinsics

__all__ = ["depth_to_points", "project_points", "valid_points", "voxel_downsample", "voxel_downsample_index",
           "voxel_downsample_nearest", "estimate_normals"]


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


def voxel_downsample_nearest(samples: np.ndarray, voxel: float) -> np.ndarray:
    """One sample per occupied voxel: the one closest to the voxel centre.

    samples: (N, 3) points (m); voxel: cube edge (m). Returns (M, 3) float64,
    ordered by voxel. Keeping real samples (not voxel centroids) keeps the
    points on the surface.
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(-1, 3)
    if len(samples) == 0:
        return samples
    cells = np.floor(samples / voxel).astype(np.int64)
    dist = np.linalg.norm(samples - (cells + 0.5) * voxel, axis=1)
    cells -= cells.min(axis=0)
    dims = cells.max(axis=0) + 1
    keys = (cells[:, 0] * dims[1] + cells[:, 1]) * dims[2] + cells[:, 2]
    order = np.lexsort((dist, keys))
    first = np.ones(len(order), dtype=bool)
    first[1:] = keys[order][1:] != keys[order][:-1]
    return samples[order[first]]


def estimate_normals(points: np.ndarray, k: int = 16) -> np.ndarray:
    """(M, 3) unit surface normals of (M, 3) points in a camera's optical frame: the least-variance
    axis of each point's ``k`` nearest neighbours (Open3D), turned towards the camera at the
    origin (n . -p >= 0)."""
    import open3d as o3d

    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(p) < 3:
        raise ValueError(f"surface normals need at least 3 points, got {len(p)}")
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(p))
    cloud.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(min(k, len(p))))
    cloud.orient_normals_towards_camera_location(np.zeros(3))
    return np.asarray(cloud.normals)
