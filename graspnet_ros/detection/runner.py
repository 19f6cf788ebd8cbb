"""One detection pass: prepare the cloud, segment the scene, detect, NMS, keep the best (ROS-free).

Every job that detects grasps (the detector node, ``detect``, ``run``, the
trials, evaluate-bag) goes through :class:`DetectionPipeline`, so they all
crop, downsample and segment the same way (:mod:`.segment`): grasps are only
proposed on what stands on the support.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..grasp import GraspGroup
from ..workspace import Workspace
from ..cameras.geometry import voxel_downsample
from .cloud import crop, finite_points, random_subsample
from .detectors import Detector
from .segment import Segmentation, SegmentationConfig, segment_scene, segmentation_config

__all__ = ["PipelineConfig", "DetectionPipeline", "DetectionResult", "PreparedCloud", "pipeline_config"]


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of :class:`DetectionPipeline` (metres, radians).

    workspace: crop box in the cloud's frame. voxel_size: downsampling cube
    edge (0 = off). max_points: random subsample cap after downsampling.
    max_input_points: larger clouds are rejected (protects the node).
    max_grasps: grasps kept after NMS. min_score: lower bound on scores.
    nms_translation / nms_rotation: pose-NMS thresholds (0 = no NMS).
    segmentation: scene segmentation (:mod:`.segment`). grasp_radius: a
    grasp is kept only when its grasp point lies within this distance of a
    point that stands on the support (when a support was found).
    """

    workspace: Workspace = Workspace((-0.5, -0.5, 0.1), (0.5, 0.5, 1.5))
    voxel_size: float = 0.005
    max_points: int = 20000
    max_input_points: int = 3_000_000
    max_grasps: int = 50
    min_score: float = 0.0
    nms_translation: float = 0.03
    nms_rotation: float = float(np.deg2rad(30.0))
    seed: int = 0
    segmentation: SegmentationConfig = SegmentationConfig()
    grasp_radius: float = 0.015

    def __post_init__(self) -> None:
        if self.voxel_size < 0 or self.max_points < 0 or self.max_grasps < 0:
            raise ValueError("voxel_size, max_points and max_grasps must be >= 0")
        if self.max_input_points <= 0:
            raise ValueError("max_input_points must be > 0")


def pipeline_config(p: Mapping[str, Any]) -> PipelineConfig:
    """A :class:`PipelineConfig` from ``grasp_detector_node`` parameter names (docs/nodes.md):
    ``workspace.lower``/``upper``, ``voxel_size``, ``max_points``, ``max_input_points``,
    ``max_grasps``, ``min_score``, ``nms_translation``, ``nms_rotation_deg``, ``seed``.
    ``segmentation.*`` (:func:`.segment.segmentation_config`). Missing names keep the defaults
    (which are the node's)."""
    d = PipelineConfig()
    rotation = float(np.deg2rad(p["nms_rotation_deg"])) if "nms_rotation_deg" in p else d.nms_rotation
    return PipelineConfig(
        workspace=Workspace.from_lists(p.get("workspace.lower", d.workspace.lower),
                                       p.get("workspace.upper", d.workspace.upper)),
        voxel_size=float(p.get("voxel_size", d.voxel_size)), max_points=int(p.get("max_points", d.max_points)),
        max_input_points=int(p.get("max_input_points", d.max_input_points)),
        max_grasps=int(p.get("max_grasps", d.max_grasps)), min_score=float(p.get("min_score", d.min_score)),
        nms_translation=float(p.get("nms_translation", d.nms_translation)), nms_rotation=rotation,
        seed=int(p.get("seed", d.seed)), segmentation=segmentation_config(p),
        grasp_radius=float(p.get("segmentation.grasp_radius", d.grasp_radius)))


@dataclass
class PreparedCloud:
    """The cloud a detector gets (the input's frame, metres).

    points: (M, 3) float32 finite, cropped, downsampled, capped; the whole
    scene, used for collision checks. objects: (M,) bool, True where a point
    stands on the support; None when segmentation is off or found no
    support (then every point may hold grasps). segmentation: what the
    segmentation decided (plane, counts, reason), None when off. normals:
    (M, 3) surface normals of the points when the segmentation computed them.
    """

    points: np.ndarray
    objects: np.ndarray | None = None
    segmentation: Segmentation | None = None
    normals: np.ndarray | None = None


@dataclass
class DetectionResult:
    grasps: GraspGroup
    timings: dict[str, float] = field(default_factory=dict)
    num_input: int = 0
    num_used: int = 0
    segmentation: Segmentation | None = None
    cloud: np.ndarray | None = None  # (num_used, 3) the prepared points the detector got (input frame, m)


class DetectionPipeline:
    """``process(points, frame_id)`` -> :class:`DetectionResult`.

    Bad input raises ValueError with the reason (empty cloud, no finite
    point, too many points, nothing left in the workspace); callers log it
    and publish an empty result.
    """

    def __init__(self, detector: Detector, config: PipelineConfig = PipelineConfig()) -> None:
        self.detector = detector
        self.config = config

    def prepare(self, points: np.ndarray, support_plane: np.ndarray | None = None) -> PreparedCloud:
        """Finite, cropped, downsampled, segmented, capped points.

        support_plane: (4,) ``(normal, offset)`` of the support in the cloud's frame when known (TF,
        a simulated table; see :func:`.segment.plane_from_pose`), else found in the cloud. The cap
        (``max_points``) keeps the points on objects first.
        """
        cfg = self.config
        p = np.asarray(points)
        if p.size == 0:
            raise ValueError("empty point cloud")
        if p.shape[-1] != 3:
            raise ValueError(f"points must be (..., 3), got {p.shape}")
        n = p.size // 3
        if n > cfg.max_input_points:
            raise ValueError(f"cloud has {n} points, more than max_input_points = "
                             f"{cfg.max_input_points}; downsample at the source or raise the limit")
        p = finite_points(p)
        if len(p) == 0:
            raise ValueError(f"no finite point in the cloud ({n} points, all NaN or infinite)")
        p = crop(p, cfg.workspace)
        if len(p) == 0:
            raise ValueError(f"no point inside the workspace {list(cfg.workspace.lower)} .. "
                             f"{list(cfg.workspace.upper)} m (is the cloud in metres and the frame right?)")
        p = voxel_downsample(p, cfg.voxel_size)
        if not cfg.segmentation.enabled:
            return PreparedCloud(random_subsample(p, cfg.max_points, cfg.seed))
        seg = segment_scene(p, cfg.segmentation, support_plane)
        if seg.plane is None:
            return PreparedCloud(random_subsample(p, cfg.max_points, cfg.seed), None, seg)
        if not seg.mask.any():
            raise ValueError(f"{seg.reason} ({seg.counts.get('support', 0)} points on the support plane, "
                             f"{seg.counts.get('above', 0)} above it); check segmentation.min_height / "
                             "max_height or the workspace")
        keep = _cap_objects_first(seg.mask, cfg.max_points, cfg.seed)
        return PreparedCloud(p[keep], seg.mask[keep], seg, None if seg.normals is None else seg.normals[keep])

    def process(self, points: np.ndarray, frame_id: str, support_plane: np.ndarray | None = None
                ) -> DetectionResult:
        """Grasps in ``frame_id`` (the cloud's frame) on ``points`` (..., 3) metres; see :meth:`prepare`."""
        cfg = self.config
        t_all = time.perf_counter()
        n_in = int(np.asarray(points).size // 3)
        prep = self.prepare(points, support_plane)
        p = prep.points
        timings = {"prepare": time.perf_counter() - t_all}
        t0 = time.perf_counter()
        grasps, det_timings = self.detector.detect(p, frame_id, objects=prep.objects, normals=prep.normals)
        timings.update({f"detect.{k}": v for k, v in det_timings.items()})
        timings["detect"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        grasps.frame_id = frame_id
        if len(grasps) and prep.objects is not None:
            from scipy.spatial import cKDTree

            dist, _ = cKDTree(p[prep.objects]).query(grasps.translations, k=1)
            grasps = grasps.filter(dist <= cfg.grasp_radius)
        if len(grasps):
            grasps = grasps.filter(grasps.scores >= cfg.min_score)
        if len(grasps) and cfg.nms_translation > 0:
            grasps = grasps.nms(cfg.nms_translation, cfg.nms_rotation)
        grasps = grasps.top_k(cfg.max_grasps)
        timings["nms"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_all
        return DetectionResult(grasps, timings, n_in, len(p), prep.segmentation, p)


def _cap_objects_first(objects: np.ndarray, max_points: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_points`` points: every object point first (randomly capped),
    then a random share of the rest."""
    idx_obj, idx_rest = np.flatnonzero(objects), np.flatnonzero(~objects)
    if max_points <= 0 or len(objects) <= max_points:
        return np.arange(len(objects))
    rng = np.random.default_rng(seed)
    if len(idx_obj) >= max_points:
        return np.sort(rng.choice(idx_obj, max_points, replace=False))
    rest = rng.choice(idx_rest, max_points - len(idx_obj), replace=False)
    return np.sort(np.concatenate([idx_obj, rest]))
