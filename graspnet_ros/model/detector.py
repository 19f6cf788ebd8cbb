"""The network as a detector: sample, forward, decode, GAF, then the shared stages.

``GraspDetector.detect(points)`` takes a cloud in the camera frame (metres)
and runs: preprocessing (drop NaN/inf, workspace crop, voxel downsample,
sample the network's N points), the network (or the model-free baseline,
:mod:`graspnet_ros.detection.baseline`, when no model is given), decode, GAF
re-ranking, the collision stage (:mod:`graspnet_ros.detection.collision`)
and pose NMS. It returns a GraspGroup sorted by score plus wall-clock
timings per stage (seconds). The live pipeline
(:class:`graspnet_ros.detection.runner.DetectionPipeline`) prepares the cloud
and runs NMS itself, so it turns those stages off here
(:func:`graspnet_ros.detection.detectors.make_detector`).

Bad input: a cloud that is not (M, 3), or that has no finite points, or
fewer than the network's seed count after preprocessing, raises ValueError
naming the problem.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..cameras.geometry import voxel_downsample_index
from ..detection.baseline import BaselineConfig, BaselineDetector
from ..detection.collision import CollisionConfig, filter_collisions
from ..detection.scores import ScoreCalibration, calibrate
from ..grasp import GraspGroup
from ..gripper import GripperModel
from ..nms import pose_nms
from ..workspace import Workspace
from .decode import decode
from .gaf import gaf_rescore
from .graspnet import GraspNet


@dataclass(frozen=True)
class DetectorConfig:
    """Pre- and post-processing around the network (metres, camera frame)."""

    voxel_size: float = 0.005  # 0 disables voxel downsampling
    workspace: Workspace | None = None  # crop box in the camera frame
    depth_range: tuple[float, float] = (0.05, 3.0)  # kept z range
    objectness_threshold: float = 0.5
    grasps_per_seed: int = 3  # decode the 3 best in-plane angles per seed (1 = the paper's one grasp)
    use_gaf: bool = True
    collision_check: bool = True
    collision_voxel: float = 0.008  # m, coarser cloud for collision checks (the evaluator samples models at 8 mm)
    reject_empty: bool = True
    # the cloud is voxel-downsampled, so "empty" means fewer than 3 points between the jaws
    gripper: GripperModel = GripperModel(empty_threshold=3)
    max_candidates: int | None = 1000  # best-scoring grasps passed to collision checks
    nms: bool = True
    nms_translation: float = 0.03
    nms_rotation_deg: float = 30.0
    max_grasps: int | None = None
    seed: int = 0

    @property
    def collision(self) -> CollisionConfig:
        """The collision stage's settings (:mod:`graspnet_ros.detection.collision`)."""
        return CollisionConfig(self.collision_check, self.collision_voxel, self.reject_empty, self.gripper,
                               self.max_candidates)


@dataclass
class Detection:
    grasps: GraspGroup  # camera frame, best first
    timings: dict[str, float]  # seconds per stage
    cloud: np.ndarray  # (M, 3) preprocessed cloud used for collision checks
    num_input_points: int
    detector: str  # "model" or "baseline"
    stats: dict = field(default_factory=dict)


def clean_cloud_index(points: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Indices (sorted) of the rows of ``points`` that :func:`clean_cloud` keeps."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise ValueError(f"point cloud must be an (M, 3) array in metres, got shape {pts.shape}")
    pts = pts[:, :3]
    if len(pts) == 0:
        raise ValueError("point cloud is empty: check the camera topic / depth image")
    finite = np.isfinite(pts).all(axis=1)
    if not finite.any():
        raise ValueError("point cloud has no finite points (all NaN/inf): check the depth image and its scale")
    keep = finite & (pts[:, 2] >= cfg.depth_range[0]) & (pts[:, 2] <= cfg.depth_range[1])
    if cfg.workspace is not None:
        keep &= cfg.workspace.contains(pts)
    idx = np.flatnonzero(keep)
    return idx[voxel_downsample_index(pts[idx], cfg.voxel_size)]


def clean_cloud(points: np.ndarray, cfg: DetectorConfig) -> np.ndarray:
    """Validate, drop non-finite points, crop to the workspace, voxel-downsample."""
    return np.asarray(points, dtype=np.float64)[clean_cloud_index(points, cfg), :3]


def sample_points(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly n points: a random subset, or all points plus random repeats
    when there are fewer (the reference's sampling)."""
    if len(points) >= n:
        idx = rng.choice(len(points), n, replace=False)
    else:
        idx = np.concatenate([np.arange(len(points)), rng.choice(len(points), n - len(points), replace=True)])
    return points[idx]


class GraspDetector:
    """The network (``model`` given) or the model-free baseline (``model=None``)."""

    def __init__(self, model: GraspNet | None = None, config: DetectorConfig = DetectorConfig(),
                 baseline: BaselineConfig = BaselineConfig(),
                 score_calibration: ScoreCalibration | None = None) -> None:
        """score_calibration: map of the raw scores (:mod:`graspnet_ros.detection.scores`), applied
        before GAF; None keeps the raw scores."""
        self.model = model.eval() if model is not None else None
        self.config = config
        self.score_calibration = score_calibration
        self.baseline = baseline

    @classmethod
    def from_checkpoint(cls, path: str | Path | None, config: DetectorConfig = DetectorConfig(),
                        baseline: BaselineConfig = BaselineConfig(),
                        score_calibration: ScoreCalibration | None = None) -> "GraspDetector":
        """Load a checkpoint (see :mod:`.checkpoint`; ``"shipped"`` = the package's own);
        ``None`` gives the baseline."""
        if path is None:
            return cls(None, config, baseline, score_calibration)
        from .checkpoint import load_model, resolve_checkpoint

        return cls(load_model(resolve_checkpoint(path)), config, baseline, score_calibration)

    @property
    def kind(self) -> str:
        return "baseline" if self.model is None else "model"

    @property
    def min_points(self) -> int:
        return self.model.cfg.num_seeds if self.model is not None else self.baseline.normal_neighbours

    def detect(self, points: np.ndarray, objects: np.ndarray | None = None) -> Detection:
        """Grasps (camera frame) on a cloud (M, 3+) in metres.

        objects: optional (M,) bool, the points that stand on the support (scene segmentation).
        The network still sees the whole scene (what it was trained on: with only 5 cm of
        context around the mug of the real Kinect frame it found no grasp), the baseline samples
        grasp points on the objects only, the whole cloud counts for collisions, and the
        pipeline keeps only grasps on the objects.
        """
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        n_in = int(np.asarray(points).shape[0]) if np.ndim(points) == 2 else 0
        idx = clean_cloud_index(points, cfg)
        cloud = np.asarray(points, dtype=np.float64)[idx, :3]
        obj = None if objects is None else np.asarray(objects, bool).reshape(-1)[idx]
        if len(cloud) < self.min_points:
            raise ValueError(
                f"only {len(cloud)} points left after preprocessing ({n_in} in; depth range "
                f"{cfg.depth_range} m, voxel {cfg.voxel_size} m); the {self.kind} needs at least "
                f"{self.min_points}: widen the workspace or move the camera closer")
        stats: dict = {"points_after_preprocessing": len(cloud)}
        tree = cKDTree(cloud)
        if self.model is not None:
            sample = sample_points(cloud, self.model.cfg.num_points, rng)
            timings["preprocess"] = _elapsed(t0)
            t = time.perf_counter()
            with torch.no_grad():
                out = self.model(torch.from_numpy(sample.astype(np.float32))[None])
            timings["network"] = _elapsed(t)
            t = time.perf_counter()
            dec = decode(out, self.model.cfg, cfg.objectness_threshold, cfg.grasps_per_seed)[0]
            grasps, tolerance = calibrate(dec.grasps, self.score_calibration), dec.tolerance
            timings["decode"] = _elapsed(t)
            t = time.perf_counter()
            if cfg.use_gaf and len(grasps):
                grasps = grasps.with_scores(gaf_rescore(grasps.scores, tolerance))
            timings["gaf"] = _elapsed(t)
        else:
            timings["preprocess"] = _elapsed(t0)
            t = time.perf_counter()
            grasps = BaselineDetector(self.baseline, seed=cfg.seed,
                                      score_calibration=self.score_calibration).candidates(cloud, tree, obj)
            timings["network"] = _elapsed(t)
            timings["decode"] = timings["gaf"] = 0.0
        stats["candidates"] = len(grasps)
        t = time.perf_counter()
        # the baseline knows no shapes: its fingers must also stay in seen free space
        grasps = filter_collisions(grasps, cloud, cfg.collision, cfg.voxel_size, tree,
                                   knows_shapes=self.model is not None)
        timings["collision"] = _elapsed(t)
        stats["collision_free"] = len(grasps)
        t = time.perf_counter()
        if cfg.nms and len(grasps):
            grasps = grasps[pose_nms(grasps, cfg.nms_translation, np.deg2rad(cfg.nms_rotation_deg))]
        else:
            grasps = grasps.sort_by_score()
        if cfg.max_grasps is not None:
            grasps = grasps[:cfg.max_grasps]
        timings["nms"] = _elapsed(t)
        timings["total"] = _elapsed(t0)
        return Detection(grasps, timings, cloud, n_in, self.kind, stats)


def _elapsed(t0: float) -> float:
    """Seconds since ``t0`` (the one timing unit of the detection stack)."""
    return time.perf_counter() - t0
