"""The model-free antipodal grasp detector on estimated surface normals (needs no torch).

The classic point-cloud recipe (in the spirit of GPD and Dex-Net's antipodal
samplers), the detector when no checkpoint is given and the yardstick for
the trained network (:class:`BaselineDetector`, a :class:`.detectors.Detector`):

1. surface normals by PCA over the k nearest neighbours, oriented towards
   the camera (the origin of the camera frame);
2. the dominant plane (the table) is found by RANSAC and left out of the
   candidate points (it stays in the cloud for collision checks);
3. for sampled surface points p with normal n, grasps approach along -n
   at several in-plane angles and depths; the points in the gripper's
   closing slab (|z| < h/2, -base < x < depth) give the object's extent
   along the closing axis y: the grasp is re-centred on it and opened to
   extent + 2 x margin (at most 0.1 m); a grasp is dropped when the object
   goes on where a finger would be (wider than the jaws open) or when its
   gathered neighbourhood does not reach past both fingers, so the opening
   is never narrower than the object it closes on;
4. the contacts are the slab points within 4 mm of either end. One view
   rarely sees both jaws' surfaces, so the better-seen end stands for both
   (as for parallel faces): with n its best-aligned normal, the friction an
   antipodal grasp needs is mu = tan(angle between n and the closing axis),
   and the score is
   s = 1.1 - mu (grasps needing mu > 1 are dropped), the same scale as the
   network's.

5. the collision stage every detector's grasps pass (:mod:`.collision`), plus
   the unseen-space test of the fingers (:func:`.collision.fingers_in_shadow`).

Everything is vectorised over candidates x angles x depths x neighbours.
Frames: grasps come back in the cloud's frame, which must be the camera's
optical frame (normals are oriented towards its origin), metres.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

from ..cameras.geometry import estimate_normals
from ..grasp import DEFAULT_HEIGHT, GraspGroup, rotation_from_approach
from ..gripper import GripperModel
from .collision import CollisionConfig, filter_collisions
from .scores import ScoreCalibration, calibrate


@dataclass(frozen=True)
class BaselineConfig:
    num_candidates: int = 400
    num_angles: int = 6
    depths: tuple[float, ...] = (0.01, 0.02, 0.03)
    normal_neighbours: int = 16
    neighbourhood: int = 512  # points gathered around each candidate (at most)
    neighbourhood_radius: float = 0.08  # m: holds the closing region of the widest grasp
    contact_band: float = 0.004  # m
    margin: float = 0.005  # m, added on each side of the extent
    max_width: float = 0.1  # m
    min_slab_points: int = 6
    plane_distance: float = 0.008  # m, RANSAC inlier distance
    plane_min_fraction: float = 0.15  # remove the plane only if it holds this fraction of the cloud
    gripper: GripperModel = GripperModel()


def dominant_plane(points: np.ndarray, distance: float, iterations: int = 200,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """(M,) bool inliers of the best RANSAC plane (vectorised over hypotheses)."""
    rng = rng or np.random.default_rng(0)
    if len(points) < 3:
        return np.zeros(len(points), dtype=bool)
    sample = points[rng.choice(len(points), min(len(points), 3000), replace=False)]
    tri = sample[rng.integers(0, len(sample), size=(iterations, 3))]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-9
    n, tri = n[ok] / norm[ok, None], tri[ok]
    if not len(n):
        return np.zeros(len(points), dtype=bool)
    d = np.abs(np.einsum("hj,mj->hm", n, sample) - np.einsum("hj,hj->h", n, tri[:, 0])[:, None])
    best = int((d < distance).sum(axis=1).argmax())
    return np.abs(points @ n[best] - n[best] @ tri[best, 0]) < distance


def detect_baseline(points: np.ndarray, cfg: BaselineConfig = BaselineConfig(), seed: int = 0,
                    tree: cKDTree | None = None, pool: np.ndarray | None = None,
                    normals: np.ndarray | None = None) -> GraspGroup:
    """Antipodal grasp candidates (camera frame) on a cloud (M, 3) in metres,
    sorted by score, before collision filtering and NMS. ``pool``: indices of
    the points grasp points may be sampled from (segmented objects); None =
    every point off the dominant plane. ``normals``: (M, 3) unit normals towards
    the camera (:func:`~graspnet_ros.cameras.geometry.estimate_normals`), None = estimated here."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(pts) < max(cfg.normal_neighbours, 3):
        return GraspGroup()
    rng = np.random.default_rng(seed)
    tree = tree if tree is not None else cKDTree(pts)
    if normals is None:
        normals = estimate_normals(pts, cfg.normal_neighbours)
    elif np.shape(normals) != pts.shape:
        raise ValueError(f"normals are {np.shape(normals)}, the points {pts.shape}: one normal per point")
    if pool is None:
        plane = dominant_plane(pts, cfg.plane_distance, rng=rng)
        pool = np.flatnonzero(~plane) if plane.mean() >= cfg.plane_min_fraction else np.arange(len(pts))
    if not len(pool):
        return GraspGroup()
    cand = rng.choice(pool, min(cfg.num_candidates, len(pool)), replace=False)
    C, A = len(cand), cfg.num_angles
    K = min(cfg.neighbourhood, len(pts))
    dist, nn = tree.query(pts[cand], k=K, distance_upper_bound=cfg.neighbourhood_radius)
    nn, dist = nn.reshape(C, K), dist.reshape(C, K)
    present = np.isfinite(dist)
    # every point within `reach` of a candidate was gathered (all of the radius, unless K ran out)
    reach = np.where(present[:, -1], dist[:, -1], cfg.neighbourhood_radius)
    nn = np.where(present, nn, 0)
    angles = np.arange(A) * np.pi / A
    rot = rotation_from_approach(np.repeat(-normals[cand], A, axis=0), np.tile(angles, C)).reshape(C, A, 3, 3)
    # the neighbours in each gripper frame, R^T (q - p), float32 from here on: one (K, 3) x (3, 3A)
    # product per candidate, then (3, C, A, K) so each coordinate is a contiguous block
    rel = (pts[nn] - pts[cand][:, None]).astype(np.float32)  # (C, K, 3)
    cols = rot.astype(np.float32).transpose(0, 2, 1, 3).reshape(C, 3, A * 3)
    x, y, z = (rel @ cols).reshape(C, K, A, 3).transpose(3, 0, 2, 1).copy()  # each (C, A, K)
    g = cfg.gripper
    depths = np.asarray(cfg.depths)
    half = cfg.max_width / 2
    # Only the gathered points inside the gripper's closing region of the deepest grasp count: list
    # them once, as entries e (candidate c, angle a, neighbour k) sorted by the group c * A + a,
    # and reduce each group's contiguous run for every depth (a few % of the C x A x K pairs).
    flat = np.flatnonzero(present[:, None, :] & (np.abs(z) < g.height / 2) & (x > -g.depth_base)
                          & (x < np.float32(depths.max())))  # entries: (c * A + a) * K + k
    group = flat // K
    starts = np.flatnonzero(np.diff(group, prepend=-1))
    ye = y.ravel()[flat][:, None]  # (E, 1)
    between = x.ravel()[flat][:, None] < depths.astype(np.float32)[None, :]  # (E, D)
    slab = between & (np.abs(ye) < half)
    inf = np.float32(np.inf)

    def per_group(ufunc: np.ufunc, values: np.ndarray, empty: float) -> np.ndarray:
        """(C, A, D) reduction of (E, D) entry values over each group (``empty`` where none)."""
        out = np.full((C * A, len(depths)), empty, dtype=values.dtype)
        if len(starts):
            out[group[starts]] = ufunc.reduceat(values, starts, axis=0)
        return out.reshape(C, A, len(depths))

    y_lo = per_group(np.minimum, np.where(slab, ye, inf), np.inf).astype(np.float64)
    y_hi = per_group(np.maximum, np.where(slab, ye, -inf), -np.inf).astype(np.float64)
    count = per_group(np.add, slab.astype(np.int32), 0)
    width = y_hi - y_lo + 2 * cfg.margin
    # the object must end inside the jaws: no point where a finger would go (the slab continues past
    # the widest opening), and the gathered neighbourhood must reach past both fingers
    finger = cfg.margin + g.finger_width
    lo = y_lo.astype(np.float32).reshape(C * A, -1)[group]  # (E, D)
    hi = y_hi.astype(np.float32).reshape(C * A, -1)[group]
    past = per_group(np.maximum, between & ((ye > hi) & (ye <= hi + finger) | (ye < lo) & (ye >= lo - finger)),
                     False)
    span = np.maximum(np.abs(y_lo), np.abs(y_hi)) + finger
    need = np.sqrt(span ** 2 + np.maximum(depths, g.depth_base)[None, None, :] ** 2 + (g.height / 2) ** 2)
    ok = (count >= cfg.min_slab_points) & (width <= cfg.max_width) & ~past & (need <= reach[:, None, None])
    # contacts: the best-aligned normal among the slab points near each end
    nrm = normals[nn].astype(np.float32)  # (C, K, 3)
    ny = (rot[..., 1].astype(np.float32) @ nrm.transpose(0, 2, 1)).ravel()[flat][:, None]  # normal . y, (E, 1)
    left = slab & (ye <= lo + cfg.contact_band)
    right = slab & (ye >= hi - cfg.contact_band)
    cos_l = -per_group(np.minimum, np.where(left, ny, np.float32(1)), 1.0)  # outward normal of the left face ~ -y
    cos_r = per_group(np.maximum, np.where(right, ny, np.float32(-1)), -1.0)
    # A single view rarely sees both jaws' surfaces; the better-seen side stands
    # for both (parallel faces), so the grasp is scored by its best contact.
    angle = np.arccos(np.clip(np.maximum(cos_l, cos_r).astype(np.float64), -1.0, 1.0))
    mu = np.tan(np.minimum(angle, np.pi / 2 - 1e-6))
    score = 1.1 - mu
    ok &= np.isfinite(score) & (score > 0) & (angle < np.pi / 2)
    ci, ai, di = np.nonzero(ok)
    if not len(ci):
        return GraspGroup()
    R = rot[ci, ai]
    centre = pts[cand[ci]] + R[:, :, 1] * ((y_lo + y_hi)[ci, ai, di] / 2)[:, None]
    grasps = GraspGroup.from_components(R, centre, width[ci, ai, di], depths[di], score[ci, ai, di],
                                        heights=DEFAULT_HEIGHT)
    return grasps.sort_by_score()


@dataclass
class BaselineDetector:
    """:class:`.detectors.Detector` over :func:`detect_baseline` and the collision stage.

    ``detect(points, frame_id, objects, normals)``: grasps in ``frame_id`` (the cloud's, metres),
    best first, and per-stage seconds; ``objects`` (M,) bool: grasp points only there; ``normals``
    (M, 3): the points' surface normals towards the camera when known (else estimated).
    """

    config: BaselineConfig = field(default_factory=BaselineConfig)
    collision: CollisionConfig = field(default_factory=CollisionConfig)
    #: map of the raw antipodal scores to the friction label they predict; None = raw
    score_calibration: ScoreCalibration | None = None
    seed: int = 0
    name: str = "baseline"

    def detect(self, points: np.ndarray, frame_id: str = "camera", objects: np.ndarray | None = None,
               normals: np.ndarray | None = None) -> tuple[GraspGroup, dict[str, float]]:
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if len(pts) < self.config.normal_neighbours:
            raise ValueError(f"only {len(pts)} points reach the baseline detector; it needs at least "
                             f"{self.config.normal_neighbours}: widen the workspace or move the camera closer")
        t0 = time.perf_counter()
        tree = cKDTree(pts)
        grasps = self.candidates(pts, tree, objects, normals)
        timings = {"candidates": time.perf_counter() - t0}
        t0 = time.perf_counter()
        grasps = filter_collisions(grasps, pts, self.collision, tree=tree, knows_shapes=False)
        timings["collision"] = time.perf_counter() - t0
        grasps.frame_id = frame_id
        return grasps.sort_by_score(), timings

    def candidates(self, points: np.ndarray, tree: cKDTree, objects: np.ndarray | None = None,
                   normals: np.ndarray | None = None) -> GraspGroup:
        """Calibrated candidates before the collision stage: :func:`detect_baseline` on (M, 3) float64
        ``points`` (m) with their k-d ``tree``, grasp points on ``objects`` (M,) bool when any is set,
        ``normals`` (M, 3) when known."""
        obj = None if objects is None else np.asarray(objects, bool).reshape(-1)
        pool = None if obj is None or not obj.any() else np.flatnonzero(obj)
        return calibrate(detect_baseline(points, self.config, seed=self.seed, tree=tree, pool=pool,
                                         normals=normals), self.score_calibration)
