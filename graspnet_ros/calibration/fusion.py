"""Fuse depth images from several calibrated views into one point cloud (Open3D).

Each view gives a depth image, its intrinsics and its camera pose
``T_ref<-cam`` (for example ``camera_poses.npy`` from
:mod:`graspnet_ros.calibration.poses`, where ref = the first camera, or
``cam0_wrt_table @ camera_poses`` for the table frame). Points are
back-projected (pinhole, OpenCV pixel-centre convention), moved into the
reference frame, optionally aligned by point-to-plane ICP against the views
before them (the first view stays fixed), merged and voxel-downsampled.

Depth units: ``uint16`` images are millimetres (RealSense, GraspNet PNGs),
float images are metres, unless ``depth_scale`` (metres per unit) says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._native import import_open3d
from ..cameras import geometry
from ..cameras.base import CameraIntrinsics
from .detect import camera_matrix
from .poses import check_transforms

__all__ = ["DepthView", "FusionResult", "depth_to_points", "fuse_views", "nearest_distances", "seen_through"]


@dataclass
class DepthView:
    """One view: depth (H, W), K (3, 3) pixels, T_ref_cam (4, 4) metres, optional BGR colour (H, W, 3) uint8.

    depth_scale: metres per depth unit; None = 0.001 for integer images, 1.0 for float images.
    """

    depth: np.ndarray
    K: np.ndarray
    T_ref_cam: np.ndarray
    color: np.ndarray | None = None
    depth_scale: float | None = None


@dataclass
class FusionResult:
    """Fused cloud in the reference frame and the per-view outcome.

    points: (N, 3) metres; colors: (N, 3) RGB in [0, 1] or None; poses: (V, 4, 4)
    the camera poses used (ICP-refined if requested); fitness / rmse: per-view
    ICP overlap fraction and inlier RMSE in metres (1 / 0 for the fixed first
    view, NaN without ICP); view_points: per-view points in the reference frame
    before downsampling.
    """

    points: np.ndarray
    colors: np.ndarray | None
    poses: np.ndarray
    fitness: np.ndarray
    rmse: np.ndarray
    view_points: list[np.ndarray]

    def to_open3d(self):
        """An ``open3d.geometry.PointCloud`` of the fused points (and colours)."""
        o3d = import_open3d()
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(self.points))
        if self.colors is not None:
            pcd.colors = o3d.utility.Vector3dVector(self.colors)
        return pcd


def depth_to_points(depth: np.ndarray, K: np.ndarray, depth_scale: float | None = None,
                    min_depth: float = 0.05, max_depth: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Back-project a depth image to (N, 3) camera-frame points (metres) and their (N,) flat pixel indices.

    Pixels with depth outside [min_depth, max_depth] metres (or 0 / NaN) are dropped. Integer depth
    is millimetres unless ``depth_scale`` (metres per unit) says otherwise; the back-projection is
    :func:`graspnet_ros.cameras.geometry.depth_to_points`.
    """
    d = np.asarray(depth)
    if d.ndim != 2:
        raise ValueError(f"depth must be an (H, W) image, got shape {d.shape}")
    K = camera_matrix(K)
    scale = (0.001 if np.issubdtype(d.dtype, np.integer) else 1.0) if depth_scale is None else float(depth_scale)
    z = d.astype(np.float64) * scale
    z = np.where(np.isfinite(z) & (z >= min_depth) & (z <= max_depth), z, 0.0)
    organised = geometry.depth_to_points(z, CameraIntrinsics.from_matrix(K, d.shape[1], d.shape[0]))
    flat = organised.reshape(-1, 3)
    idx = np.flatnonzero(np.isfinite(flat[:, 2]))
    return flat[idx].astype(np.float64), idx


def nearest_distances(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N,) distance in metres from each point to its nearest neighbour in ``reference``."""
    from scipy.spatial import cKDTree

    return cKDTree(np.asarray(reference, dtype=np.float64)).query(np.asarray(points, dtype=np.float64))[0]


#: Default coarse-to-fine ICP schedule: (voxel size, correspondence radius) in metres.
ICP_SCALES = ((0.01, 0.03), (0.005, 0.01), (0.0025, 0.005))


def _icp_multiscale(o3d, src: np.ndarray, model: np.ndarray, T0: np.ndarray,
                    scales: Sequence[tuple[float, float]], iterations: int) -> tuple[np.ndarray, float, float]:
    """Point-to-plane ICP of ``src`` (camera frame) onto ``model`` (reference frame), coarse to fine."""
    reg = o3d.pipelines.registration
    T, fitness, rmse = T0, 0.0, float("nan")
    for voxel, radius in scales:
        m = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(model)).voxel_down_sample(voxel)
        m.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=3 * voxel, max_nn=30))
        s = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(src)).voxel_down_sample(voxel)
        out = reg.registration_icp(s, m, radius, T, reg.TransformationEstimationPointToPlane(),
                                   reg.ICPConvergenceCriteria(max_iteration=int(iterations)))
        if out.fitness == 0:  # no overlap within the radius: keep the previous estimate
            break
        T, fitness, rmse = np.asarray(out.transformation), float(out.fitness), float(out.inlier_rmse)
    return T, fitness, rmse


def seen_through(points: np.ndarray, view: DepthView, T_ref_cam: np.ndarray, margin: float,
                 min_depth: float = 0.05, max_depth: float = 3.0) -> np.ndarray:
    """(N,) bool: ``view`` looked THROUGH each reference-frame point (N, 3, m): the point projects
    into the image and the view measured a surface more than ``margin`` m behind it, so the
    space there is empty (a flying pixel or noise of another view). Points outside the image,
    behind the camera or on pixels without valid depth are never flagged."""
    T = np.linalg.inv(np.asarray(T_ref_cam, dtype=np.float64))
    q = np.asarray(points, dtype=np.float64) @ T[:3, :3].T + T[:3, 3]
    K = camera_matrix(view.K)
    d = np.asarray(view.depth)
    scale = (0.001 if np.issubdtype(d.dtype, np.integer) else 1.0) if view.depth_scale is None else float(
        view.depth_scale)
    out = np.zeros(len(q), dtype=bool)
    front = q[:, 2] > min_depth
    z = np.where(front, q[:, 2], 1.0)
    u = np.floor(K[0, 0] * q[:, 0] / z + K[0, 2] + 0.5).astype(np.int64)
    v = np.floor(K[1, 1] * q[:, 1] / z + K[1, 2] + 0.5).astype(np.int64)
    inside = front & (u >= 0) & (u < d.shape[1]) & (v >= 0) & (v < d.shape[0])
    measured = d[v[inside], u[inside]].astype(np.float64) * scale
    valid = np.isfinite(measured) & (measured >= min_depth) & (measured <= max_depth)
    out[np.flatnonzero(inside)[valid]] = measured[valid] > q[inside, 2][valid] + margin
    return out


def fuse_views(views: Sequence[DepthView], voxel_size: float = 0.002, icp: bool = False,
               icp_scales: Sequence[tuple[float, float]] = ICP_SCALES, icp_iterations: int = 50,
               min_depth: float = 0.05, max_depth: float = 3.0, free_space: float | None = None) -> FusionResult:
    """Merge depth views with known poses into one cloud in the reference frame.

    voxel_size: output voxel downsampling in metres (0 = keep every point).
    icp: refine each view i > 0 by coarse-to-fine point-to-plane ICP against
        the merged views 0..i-1, starting from its given pose. icp_scales:
        (voxel size, correspondence radius) pairs in metres, coarse first; the
        first radius bounds the pose error ICP can correct.
    free_space: when set (m), a point of one view is dropped where another view
        looked through it by more than this margin (:func:`seen_through`):
        depth noise and flying pixels at object edges differ from view to view,
        and fused unchecked they pile up as phantom surfaces. None keeps every point.
    Raises ValueError on an empty view list or malformed views.
    """
    if len(views) == 0:
        raise ValueError("no views to fuse")
    o3d = import_open3d()
    poses = check_transforms(np.stack([np.asarray(v.T_ref_cam, dtype=np.float64) for v in views]),
                             "view poses T_ref_cam").copy()
    cam_points, colors = [], []
    for i, v in enumerate(views):
        pts, idx = depth_to_points(v.depth, v.K, v.depth_scale, min_depth, max_depth)
        if len(pts) == 0:
            raise ValueError(f"view {i} has no valid depth in [{min_depth}, {max_depth}] m")
        cam_points.append(pts)
        if v.color is not None:
            c = np.asarray(v.color)
            if c.ndim != 3 or c.shape[:2] != np.asarray(v.depth).shape:
                raise ValueError(f"view {i}: colour must be (H, W, 3) BGR matching depth "
                                 f"{np.asarray(v.depth).shape}, got {c.shape}")
            colors.append(c.reshape(-1, c.shape[-1])[idx][:, 2::-1].astype(np.float64) / 255.0)  # BGR -> RGB
    use_colors = len(colors) == len(views)
    n = len(views)
    fitness, rmse = np.full(n, np.nan), np.full(n, np.nan)
    view_points = [cam_points[0] @ poses[0, :3, :3].T + poses[0, :3, 3]]
    if icp and n > 1:
        fitness[0], rmse[0] = 1.0, 0.0
        finest = min(v for v, _ in icp_scales)
        model = np.asarray(o3d.geometry.PointCloud(o3d.utility.Vector3dVector(view_points[0]))
                           .voxel_down_sample(finest / 2).points)
    for i in range(1, n):
        if icp:
            poses[i], fitness[i], rmse[i] = _icp_multiscale(o3d, cam_points[i], model, poses[i], icp_scales,
                                                            icp_iterations)
        view_points.append(cam_points[i] @ poses[i, :3, :3].T + poses[i, :3, 3])
        if icp and i < n - 1:
            merged = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.concatenate([model, view_points[i]])))
            model = np.asarray(merged.voxel_down_sample(finest / 2).points)
    if free_space is not None and n > 1:
        if not free_space >= 0:
            raise ValueError(f"free_space must be a margin >= 0 m (or None), got {free_space}")
        for i in range(n):
            keep = ~np.logical_or.reduce([seen_through(view_points[i], views[j], poses[j], free_space, min_depth,
                                                       max_depth) for j in range(n) if j != i])
            view_points[i] = view_points[i][keep]
            if use_colors:
                colors[i] = colors[i][keep]
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(np.concatenate(view_points)))
    if use_colors:
        pcd.colors = o3d.utility.Vector3dVector(np.concatenate(colors))
    if voxel_size > 0:
        pcd = pcd.voxel_down_sample(voxel_size)
    return FusionResult(np.asarray(pcd.points), np.asarray(pcd.colors) if use_colors else None, poses,
                        fitness, rmse, view_points)
