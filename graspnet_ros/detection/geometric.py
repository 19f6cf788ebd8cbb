"""A model-free grasp detector working on the point cloud alone.

Used when no network checkpoint is available. It follows the annotation
recipe of the paper (section 3.3) with the cloud standing in for the mesh:

1. surface normals from the k nearest neighbours (PCA), oriented towards
   the camera (the cloud frame's origin); the dominant plane (the table,
   found by RANSAC) is kept for collisions but not sampled;
2. grasp points sampled on the cloud off that plane; approach views from the Fibonacci
   sphere (:func:`graspnet_ros.views.fibonacci_views`) within
   ``max_tilt`` of the inward normal; ``num_angles`` in-plane angles and
   the given depths (:meth:`GraspGroup.from_approach`);
3. for each candidate, the cloud points between the open jaws
   (the benchmark gripper's closing region, width ``max_width``): fewer
   than ``GripperModel.empty_threshold`` -> dropped; otherwise the jaws
   close on the extreme points along the closing axis, the grasp is
   re-centred between them and its width is their span + ``margin``;
4. friction label: the larger angle between the closing axis and the
   normals of the two contact sets, turned into the smallest passing mu by
   :func:`graspnet_ros.force_closure.labels_from_angles`; score 1.1 - mu
   (the dataset's score), -1 labels dropped;
5. collision and empty check of the tightened grasps against the whole
   cloud with :func:`graspnet_ros.gripper.check_collision`.

Everything is vectorised over candidates (k-nearest-neighbour blocks of a
k-d tree). Frames: grasps come back in the cloud's frame, metres.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..force_closure import ANNOTATION_MUS, labels_from_angles
from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision
from ..views import fibonacci_views

__all__ = ["GeometricDetector", "estimate_normals", "dominant_plane"]


def dominant_plane(points: np.ndarray, threshold: float = 0.006, iterations: int = 200,
                   sample: int = 4000, seed: int = 0) -> tuple[np.ndarray, float, np.ndarray]:
    """RANSAC plane n . p + d = 0 with the most points within ``threshold`` (m).

    All hypotheses are scored in one matrix product on a random subsample.
    Returns (unit normal (3,), d, inlier mask over all points).
    """
    p = np.asarray(points, dtype=np.float64)
    rng = np.random.default_rng(seed)
    sub = p[rng.choice(len(p), min(sample, len(p)), replace=False)]
    tri = sub[rng.integers(0, len(sub), size=(iterations, 3))]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-9
    n, tri = n[ok] / norm[ok, None], tri[ok]
    d = -(n * tri[:, 0]).sum(axis=1)
    if len(n) == 0:
        return np.array([0.0, 0.0, 1.0]), 0.0, np.zeros(len(p), bool)
    score = (np.abs(sub @ n.T + d) < threshold).sum(axis=0)
    best = int(np.argmax(score))
    inliers = np.abs(p @ n[best] + d[best]) < threshold
    return n[best], float(d[best]), inliers


def estimate_normals(points: np.ndarray, k: int = 16, tree: cKDTree | None = None,
                     viewpoint: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) unit normals by PCA of the k nearest neighbours, oriented towards ``viewpoint``
    (default: the origin, i.e. the camera of an optical-frame cloud)."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 3:
        return np.tile([0.0, 0.0, -1.0], (len(p), 1))
    tree = tree if tree is not None else cKDTree(p)
    _, idx = tree.query(p, k=min(k, len(p)))
    nb = p[idx] - p[idx].mean(axis=1, keepdims=True)
    cov = np.einsum("nki,nkj->nij", nb, nb)
    _, vecs = np.linalg.eigh(cov)
    n = vecs[:, :, 0]
    view = (np.zeros(3) if viewpoint is None else np.asarray(viewpoint, float)) - p
    flip = (n * view).sum(axis=1) < 0
    n[flip] *= -1
    return n


@dataclass
class GeometricDetector:
    """Antipodal grasps from a cloud (see the module docstring). All lengths in metres."""

    num_seeds: int = 256
    num_views: int = 60
    max_tilt: float = np.deg2rad(40.0)
    num_angles: int = 6
    depths: tuple[float, ...] = (0.02,)
    max_width: float = 0.10
    margin: float = 0.01
    contact_band: float = 0.004
    neighbours: int = 192
    normal_k: int = 16
    gripper: GripperModel = GripperModel()
    seed: int = 0
    name: str = "geometric"

    def detect(self, points: np.ndarray, frame_id: str = "camera",
               objects: np.ndarray | None = None) -> tuple[GraspGroup, dict]:
        """Grasps (sorted best first) on an (N, 3) cloud in ``frame_id`` and per-stage seconds;
        ``objects`` (N,) bool: grasp points only there (the whole cloud counts for collisions)."""
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        empty = GraspGroup(frame_id=frame_id)
        if len(p) < self.gripper.empty_threshold:
            return empty, timings
        tree = cKDTree(p)
        normals = estimate_normals(p, self.normal_k, tree)
        timings["normals"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        pool = np.arange(len(p))
        if objects is not None:
            pool = np.flatnonzero(np.asarray(objects, bool).reshape(-1))
        elif len(p) >= 100:
            _, _, on_plane = dominant_plane(p, seed=self.seed)
            if (~on_plane).sum() >= self.gripper.empty_threshold:
                pool = np.flatnonzero(~on_plane)
        timings["plane"] = time.perf_counter() - t0
        seeds = rng.choice(pool, min(self.num_seeds, len(pool)), replace=False)
        views = fibonacci_views(self.num_views)  # unit vectors; approach = view
        cos = normals[seeds] @ views.T  # approach along -normal <=> view . normal = -1
        s_idx, v_idx = np.nonzero(cos <= -np.cos(self.max_tilt))
        na, nd = self.num_angles, len(self.depths)
        s_idx = np.repeat(s_idx, na * nd)
        v_idx = np.repeat(v_idx, na * nd)
        reps = len(s_idx) // (na * nd)
        angles = np.tile(np.repeat(np.arange(na) * np.pi / na, nd), reps)
        depths = np.tile(np.asarray(self.depths, float), reps * na)
        if len(s_idx) == 0:
            return empty, timings
        cand = GraspGroup.from_approach(p[seeds[s_idx]], views[v_idx], angles, depths,
                                        self.max_width, score=0.0, frame_id=frame_id)
        timings["sample"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        k = min(self.neighbours, len(p))
        _, seed_nb = tree.query(p[seeds], k=k)  # (S, k): one neighbourhood per grasp point
        cand, labels = self._close_jaws(cand, p, normals, seed_nb.reshape(len(seeds), k)[s_idx])
        timings["contacts"] = time.perf_counter() - t0
        if len(cand) == 0:
            return empty, timings

        t0 = time.perf_counter()
        ok = check_collision(cand, p, self.gripper, tree=tree).valid
        grasps = cand.filter(ok).with_scores(1.1 - labels[ok])
        timings["collision"] = time.perf_counter() - t0
        return grasps.sort_by_score(), timings

    def _close_jaws(self, cand: GraspGroup, p: np.ndarray, normals: np.ndarray,
                    idx: np.ndarray) -> tuple[GraspGroup, np.ndarray]:
        """Tighten each candidate on the points between its jaws; label by friction.

        idx: (G, k) indices of the cloud points near each candidate's grasp point.
        """
        g = self.gripper
        rot, t = cand.rotations, cand.translations
        local = np.matmul(p[idx] - t[:, None], rot)  # (G, k, 3) gripper coordinates
        x, y, z = local[..., 0], local[..., 1], local[..., 2]
        inner = ((np.abs(z) < g.height / 2) & (x > -g.depth_base) & (x < cand.depths[:, None])
                 & (np.abs(y) <= self.max_width / 2))
        count = inner.sum(axis=1)
        y_in = np.where(inner, y, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows (empty grasps)
            y_lo, y_hi = np.nanmin(y_in, axis=1), np.nanmax(y_in, axis=1)
        span = y_hi - y_lo
        width = span + self.margin
        keep = (count >= g.empty_threshold) & (width <= self.max_width) & (span > 0.005)
        # contact sets: inner points within contact_band of each extreme along y
        # |normal . closing axis| of each neighbour
        align = np.abs(np.matmul(normals[idx], rot[:, :, 1:2])[..., 0])
        near_lo = inner & (y <= (y_lo + self.contact_band)[:, None])
        near_hi = inner & (y >= (y_hi - self.contact_band)[:, None])
        # each jaw's contact alignment: the mean over its contact band
        with np.errstate(invalid="ignore", divide="ignore"):
            align_lo = (align * near_lo).sum(axis=1) / near_lo.sum(axis=1)
            align_hi = (align * near_hi).sum(axis=1) / near_hi.sum(axis=1)
        angle = np.arccos(np.clip(np.minimum(align_lo, align_hi), 0.0, 1.0))
        labels = labels_from_angles(np.where(keep, angle, np.nan), ANNOTATION_MUS)
        keep &= labels > 0
        arr = cand.array[keep].copy()
        mid = ((y_lo + y_hi) / 2)[keep]
        arr[:, 13:16] += rot[keep][:, :, 1] * mid[:, None]  # re-centre between the contacts
        arr[:, 1] = width[keep]
        return GraspGroup(arr, frame_id=cand.frame_id, copy=False, validate=False), labels[keep]
