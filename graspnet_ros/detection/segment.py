"""Scene segmentation before detection: keep what stands on the support (ROS-free).

A real view holds more than a table and objects: the table edge, the floor,
walls, the robot. Grasps are only proposed on what stands on the support:

1. **Support plane.** Given (``support_plane``, from TF or the table frame of a
   simulated scene) or found by RANSAC on the cloud among the planes whose
   normal lies within ``max_tilt_deg`` of the ``up`` hint (a direction in the
   cloud's frame; the default, -y of an optical frame, is "image up is world
   up"); of those, the one most aligned with ``up``, and of near-ties the one
   nearest the camera (a table above the floor).
2. **Support region.** The largest connected patch of the plane's inliers
   (on a ``region_cell`` grid in the plane), as its 2-D convex hull: points
   beyond the table's edge (walls behind it, the floor beside it) fall
   outside the prism over it.
3. **Above the support.** Points between ``min_height`` (at 0.5 m from
   the camera, growing with the square of the depth beyond, as sensor noise
   does) and ``max_height`` above the plane whose projection lies in the hull.
4. **Objects** (``cluster_eps`` > 0): Euclidean clusters (Open3D DBSCAN) of
   those points, after dropping the sparse ones (fewer than
   ``outlier_neighbours`` within ``outlier_radius``: flying pixels at depth
   edges, which otherwise bridge objects to the table behind); both radii
   grow to 3 and 4 times the median point spacing of a sparser cloud; a
   cluster is kept when it has ``min_cluster_points``, its lowest point
   is within ``max_base_gap`` of the plane (it stands on the support) and
   it is at most ``max_object_size`` across along the plane.

Frames: every array is in the cloud's own frame (a camera optical frame for
the package's sources: z forward, x right, y down); the plane is
``normal . p + offset = 0`` with the normal pointing to the camera's side
(offset > 0 is the camera's height above the support). Units: metres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..cameras.geometry import estimate_normals
from ..params import Param

__all__ = ["SegmentationConfig", "Segmentation", "segment_scene", "fit_support_plane", "plane_from_pose",
           "segmentation_config", "SEGMENTATION_PARAMETERS", "near_mask"]


#: Depth (m) at which ``min_height`` applies; farther, it grows with the square of the depth, like
#: the noise of stereo and time-of-flight depth.
NOISE_REFERENCE_DEPTH = 0.5


@dataclass(frozen=True)
class SegmentationConfig:
    """Settings of :func:`segment_scene` (metres, degrees). ``enabled=False`` keeps every point."""

    enabled: bool = True
    up: tuple[float, float, float] = (0.0, -1.0, 0.0)
    max_tilt_deg: float = 80.0
    plane_distance: float = 0.01
    ransac_iterations: int = 300
    min_plane_points: int = 200
    region_cell: float = 0.02
    min_height: float = 0.01
    max_height: float = 0.35
    outlier_radius: float = 0.01
    outlier_neighbours: int = 8
    cluster_eps: float = 0.02
    min_cluster_points: int = 30
    max_base_gap: float = 0.04
    max_object_size: float = 0.6
    seed: int = 0

    def __post_init__(self) -> None:
        up = np.asarray(self.up, dtype=float)
        if up.shape != (3,) or not np.isfinite(up).all() or np.linalg.norm(up) < 1e-9:
            raise ValueError(f"segmentation.up must be a non-zero 3-vector, got {self.up}")
        if not 0.0 < self.max_tilt_deg <= 90.0:
            raise ValueError(f"segmentation.max_tilt_deg must be in (0, 90], got {self.max_tilt_deg}")
        if self.plane_distance <= 0 or self.region_cell <= 0:
            raise ValueError("segmentation.plane_distance and region_cell must be > 0 (metres)")
        if not self.min_height < self.max_height:
            raise ValueError(f"segmentation.min_height ({self.min_height}) must be below max_height "
                             f"({self.max_height})")


@dataclass
class Segmentation:
    """What :func:`segment_scene` kept.

    mask: (N,) bool over the input points (True = kept). plane: (4,)
    ``(nx, ny, nz, offset)`` of the support, None when none was found (then
    only the non-finite points are dropped). labels: (N,) int cluster index of
    each kept point, -1 elsewhere. reason: why nothing or everything was kept.
    normals: (N, 3) unit surface normals of the input points towards the camera
    (:func:`~graspnet_ros.cameras.geometry.estimate_normals`; NaN rows where a
    point is not finite) when the plane search computed them, else None; a
    detector that needs normals reuses them.
    """

    mask: np.ndarray
    plane: np.ndarray | None
    labels: np.ndarray
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    normals: np.ndarray | None = None


#: The ``segmentation.*`` parameters of the detector node (and of every job built from its table).
SEGMENTATION_PARAMETERS = [
    Param("segmentation.enabled", True, "Scene segmentation before detection: grasps only on what stands on "
          "the support plane (false = every point in the workspace)."),
    Param("segmentation.up", [0.0, -1.0, 0.0], "Rough 'up' direction in the input frame (optical frame: -y = "
          "image up); the support's normal lies within max_tilt_deg of it. [0, 0, -1] for a camera looking "
          "straight down."),
    Param("segmentation.max_tilt_deg", 80.0, "Largest angle between the support normal and 'up' (deg).",
          (1.0, 90.0)),
    Param("segmentation.plane_distance", 0.01, "Support-plane inlier distance (m).", (0.001, 0.1)),
    Param("segmentation.min_height", 0.01, "Points kept start this far above the support (m).", (0.0, 0.5)),
    Param("segmentation.max_height", 0.35, "Points kept end this far above the support (m).", (0.01, 2.0)),
    Param("segmentation.outlier_radius", 0.01, "Before clustering, points with fewer than outlier_neighbours "
          "others within this radius are dropped: the flying pixels at depth edges that bridge objects to the "
          "table behind them (m).", (0.001, 0.1)),
    Param("segmentation.outlier_neighbours", 8, "See outlier_radius (0 = keep every point).", (0, 1000)),
    Param("segmentation.cluster_eps", 0.02, "Object clustering distance (m, 0 = no clustering).", (0.0, 0.2)),
    Param("segmentation.min_cluster_points", 30, "Smaller clusters are dropped (noise).", (1, 100000)),
    Param("segmentation.max_base_gap", 0.04, "A cluster whose lowest point is higher above the support does not "
          "stand on it (m).", (0.0, 1.0)),
    Param("segmentation.max_object_size", 0.6, "Larger clusters (across, along the support; touching objects "
          "form one) are not objects (m).", (0.01, 5.0)),
    Param("segmentation.grasp_radius", 0.015, "A grasp point must lie this close to a segmented object point (m).",
          (0.001, 0.2)),
]


def segmentation_config(p: Mapping[str, Any]) -> SegmentationConfig:
    """A :class:`SegmentationConfig` from ``segmentation.*`` parameter names (missing = default)."""
    d = SegmentationConfig()
    kw: dict[str, Any] = {}
    for name in SegmentationConfig.__dataclass_fields__:
        key = f"segmentation.{name}"
        if key in p:
            default = getattr(d, name)
            value = p[key]
            kw[name] = tuple(float(x) for x in value) if isinstance(default, tuple) else type(default)(value)
    return SegmentationConfig(**kw)


def plane_from_pose(T_cloud_support: np.ndarray) -> np.ndarray:
    """Support plane (normal, offset) in the cloud's frame from the pose of a support frame whose
    z axis points up out of the support and whose origin lies on it (e.g. T_camera<-table)."""
    T = np.asarray(T_cloud_support, dtype=np.float64)
    n = T[:3, 2] / np.linalg.norm(T[:3, 2])
    return np.append(n, -n @ T[:3, 3])


def _orient(normal: np.ndarray, offset: float) -> np.ndarray:
    """Plane with its normal toward the origin's side (offset >= 0)."""
    return np.append(normal, offset) * (1.0 if offset >= 0 else -1.0)


def fit_support_plane(points: np.ndarray, config: SegmentationConfig = SegmentationConfig(),
                      normals: np.ndarray | None = None) -> np.ndarray | None:
    """The support plane (4,) of an (N, 3) cloud, or None when no plane qualifies.
    ``normals``: the points' (N, 3) surface normals when already known (else estimated here).

    Hypotheses: ``ransac_iterations`` seed points (seeded draw), each with the
    plane of its 16 nearest neighbours (local PCA, so a seed on the table
    proposes the table even where the table is a small part of the view).
    Each is scored by its inliers on a subsample: points within
    ``plane_distance`` whose own local normal agrees (a wall crossing a
    horizontal plane does not count). A hypothesis qualifies when its normal
    is within ``max_tilt_deg`` of ``up`` and it holds ``min_plane_points``
    (scaled to the subsample). The few best-supported distinct planes are
    then judged by what stands on them (:func:`_standing`: points between
    ``min_height`` and ``max_height`` above the plane, over its largest
    patch): a desk with a mug beats the wall behind it, a table beats the
    face of a box on it and the floor under it. The winner is refined by
    least squares.
    """
    from pykdtree.kdtree import KDTree

    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(p) < _min_plane_input(config):
        return None
    up = np.asarray(config.up, dtype=np.float64)
    up /= np.linalg.norm(up)
    rng = np.random.default_rng(config.seed)
    tree = KDTree(p)
    point_normals = estimate_normals(p) if normals is None else normals  # only |n . n'| is compared below
    pick = rng.choice(len(p), min(len(p), 5000), replace=False)
    sub, sub_normals = p[pick], point_normals[pick]
    seeds = p[rng.choice(len(p), min(len(p), config.ransac_iterations), replace=False)]
    normals, offsets = _local_planes(p, tree, seeds)
    sub32, normals32 = sub.astype(np.float32), normals.T.astype(np.float32)  # (5000 x 300) products
    near = np.abs(sub32 @ normals32 + offsets.astype(np.float32)) < config.plane_distance
    facing = np.abs(sub_normals.astype(np.float32) @ normals32) > np.cos(np.deg2rad(25.0))
    scores = (near & facing).sum(axis=0)
    need = config.min_plane_points * len(sub) / len(p)
    ok = (normals @ up >= np.cos(np.deg2rad(config.max_tilt_deg))) & (scores >= need)
    distinct: list[int] = []
    for h in np.flatnonzero(ok)[np.argsort(-scores[ok], kind="stable")]:
        if all(abs(normals[h] @ normals[g]) < np.cos(np.deg2rad(10.0)) or
               abs(offsets[h] - offsets[g]) > 2 * config.plane_distance for g in distinct):
            distinct.append(int(h))
        if len(distinct) == 6:
            break
    if not distinct:
        return None
    best = distinct[0]
    if len(distinct) > 1:
        standing = [int(_standing(sub, np.append(normals[h], offsets[h]), config, p)[2].sum()) for h in distinct]
        best = distinct[int(np.argmax(standing))]
    plane = np.append(normals[best], offsets[best])
    # least-squares refit on the inliers that face the plane (object bases and the foot of a wall
    # within plane_distance would tilt it), with a tighter band the second time
    for band in (config.plane_distance, 0.5 * config.plane_distance):
        cand = np.flatnonzero(np.abs(p @ plane[:3] + plane[3]) < band)
        if len(cand) > 3000:
            cand = cand[rng.choice(len(cand), 3000, replace=False)]
        q = p[cand[np.abs(point_normals[cand] @ plane[:3]) > np.cos(np.deg2rad(15.0))]]
        if len(q) < 3:
            break
        centre = q.mean(axis=0)
        normal = np.linalg.svd(q - centre, full_matrices=False)[2][-1]
        refit = _orient(normal, -normal @ centre)
        if abs(refit[:3] @ plane[:3]) < np.cos(np.deg2rad(10.0)):
            break
        plane = refit
    return plane


def _min_plane_input(config: SegmentationConfig) -> int:
    """Fewest points :func:`fit_support_plane` searches for a plane in."""
    return max(24, config.min_plane_points)


def _standing(p: np.ndarray, plane: np.ndarray, config: SegmentationConfig, region: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(height above the plane, on-plane mask, mask of points standing on its support region) of (N, 3)
    points: between min_height and max_height above it, over the convex hull of its largest patch
    (of the plane's inliers among ``region``, default ``p``)."""
    height = p @ plane[:3] + plane[3]
    basis = _plane_basis(plane[:3])
    on_plane = np.abs(height) < config.plane_distance
    # depth noise grows with the square of the distance: so does the lowest height kept
    floor = config.min_height * np.maximum(1.0, (p[:, 2] / NOISE_REFERENCE_DEPTH) ** 2)
    above = (height > floor) & (height < config.max_height)
    support = p[on_plane] if region is None else region[np.abs(region @ plane[:3] + plane[3]) < config.plane_distance]
    hull = _support_hull(support @ basis.T, config.region_cell) if len(support) >= 3 else None
    if hull is not None:
        cand = np.flatnonzero(above)
        above[cand] = (p[cand] @ basis.T @ hull[:, :2].T + hull[:, 2] <= 1e-9).all(axis=1)
    return height, on_plane, above


def _local_planes(p: np.ndarray, tree, at: np.ndarray, k: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Plane (normal toward the origin, offset >= 0) of the k nearest points of ``p`` around each of ``at``."""
    _, nbr = tree.query(at, k=min(k, len(p)))
    centre = p[nbr].mean(axis=1)
    d = p[nbr] - centre[:, None]
    normals = np.linalg.eigh(np.einsum("nki,nkj->nij", d, d))[1][:, :, 0]  # smallest-variance axis
    offsets = -np.einsum("ij,ij->i", normals, centre)
    flip = np.where(offsets < 0, -1.0, 1.0)
    return normals * flip[:, None], offsets * flip


def _plane_basis(normal: np.ndarray) -> np.ndarray:
    """(2, 3) orthonormal in-plane axes."""
    a = np.cross(normal, [1.0, 0.0, 0.0] if abs(normal[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    return np.stack([a, np.cross(normal, a)])


def _largest_patch(uv: np.ndarray, cell: float) -> tuple[np.ndarray, float]:
    """(mask of the 2-D points in the largest 8-connected patch of ``cell``-sized grid cells, its area m^2)."""
    from scipy import ndimage

    if len(uv) == 0:
        return np.zeros(0, bool), 0.0
    ij = np.floor((uv - uv.min(axis=0)) / cell).astype(np.int64)
    grid = np.zeros(ij.max(axis=0) + 1, dtype=bool)
    grid[ij[:, 0], ij[:, 1]] = True
    labels, n = ndimage.label(grid, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    biggest = int(np.argmax(sizes))
    return labels[ij[:, 0], ij[:, 1]] == biggest, float(sizes[biggest]) * cell * cell


def _support_hull(uv: np.ndarray, cell: float) -> np.ndarray | None:
    """(F, 3) half-planes ``a . uv + b <= 0`` of the convex hull of the largest connected patch of
    2-D points, or None when it is degenerate."""
    from scipy.spatial import ConvexHull

    uv = uv[_largest_patch(uv, cell)[0]]
    if len(uv) < 3:
        return None
    try:
        return ConvexHull(uv).equations
    except Exception:  # degenerate (collinear) patch  # noqa: BLE001
        return None


def segment_scene(points: np.ndarray, config: SegmentationConfig = SegmentationConfig(),
                  support_plane: np.ndarray | None = None) -> Segmentation:
    """Which of ``points`` (N, 3, the cloud's frame, metres) stand on the support; see the module docstring.

    ``support_plane``: (4,) plane in the cloud's frame when known (TF, the simulated table); None finds it.
    Never raises on a scene without a support: it keeps every finite point and says why in ``reason``.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    finite = np.asarray(np.isfinite(p).all(axis=1))
    labels = np.full(len(p), -1, dtype=np.int64)
    if not config.enabled:
        return Segmentation(finite, None, labels, "segmentation disabled")
    q = p[finite]
    plane = None
    if support_plane is not None:
        given = np.asarray(support_plane, dtype=np.float64).reshape(4)
        scale = np.linalg.norm(given[:3])
        plane = _orient(given[:3] / scale, given[3] / scale)
    normals = None
    if plane is None and len(q) >= _min_plane_input(config):
        q_normals = estimate_normals(q)
        normals = np.full(p.shape, np.nan)
        normals[finite] = q_normals
        plane = fit_support_plane(q, config, q_normals)
    if plane is None:
        return Segmentation(finite, None, labels, f"no support plane within {config.max_tilt_deg:g} degrees of "
                                                  f"up {list(config.up)} (set segmentation.up or give the "
                                                  "support frame); kept every point")
    height, on_plane, above = _standing(q, plane, config)
    basis = _plane_basis(plane[:3])
    keep = above.copy()
    sub_labels = np.full(len(q), -1, dtype=np.int64)
    n_clusters = 0
    if config.cluster_eps > 0 and above.any():
        from .._native import import_open3d

        o3d = import_open3d()
        idx = np.flatnonzero(above)
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(q[idx]))
        # a sparse cloud (small image, far objects) keeps the radii at a few point spacings
        spacing = float(np.median(np.asarray(pcd.compute_nearest_neighbor_distance()))) if len(idx) > 1 else 0.0
        if config.outlier_neighbours > 0:
            pcd, inliers = pcd.remove_radius_outlier(nb_points=config.outlier_neighbours,
                                                     radius=max(config.outlier_radius, 3.0 * spacing))
            idx = idx[np.asarray(inliers, dtype=np.int64)]
        lab = np.asarray(pcd.cluster_dbscan(eps=max(config.cluster_eps, 4.0 * spacing), min_points=4))
        keep[:] = False
        sizes = np.bincount(lab[lab >= 0]) if (lab >= 0).any() else np.zeros(0, dtype=np.int64)
        for c in np.flatnonzero(sizes >= config.min_cluster_points):  # DBSCAN also makes many specks
            members = idx[lab == c]
            if height[members].min() > config.max_base_gap:
                continue
            extent = np.ptp(q[members] @ basis.T, axis=0)
            if np.hypot(*extent) > config.max_object_size:
                continue
            keep[members] = True
            sub_labels[members] = n_clusters
            n_clusters += 1
    mask = np.zeros(len(p), dtype=bool)
    mask[np.flatnonzero(finite)[keep]] = True
    labels[np.flatnonzero(finite)] = sub_labels
    counts = {"input": int(len(p)), "support": int(on_plane.sum()), "above": int(above.sum()),
              "kept": int(keep.sum()), "objects": n_clusters}
    reason = "" if keep.any() else "nothing stands on the support plane"
    return Segmentation(mask, plane, labels, reason, counts, normals)


def near_mask(points: np.ndarray, kept: np.ndarray, radius: float) -> np.ndarray:
    """(N,) bool: which of ``points`` (..., 3; NaN rows never) lie within ``radius`` (m) of a ``kept``
    point, e.g. the pixels of a full-resolution organised cloud behind a segmentation of its voxels."""
    from scipy.spatial import cKDTree

    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    out = np.zeros(len(p), dtype=bool)
    finite = np.isfinite(p).all(axis=1)
    k = np.asarray(kept, dtype=np.float64).reshape(-1, 3)
    if len(k) and finite.any():
        dist, _ = cKDTree(k).query(p[finite], k=1, distance_upper_bound=radius)
        out[finite] = np.isfinite(dist)
    return out
