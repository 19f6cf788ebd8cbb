"""graspnet-baseline's demo pipeline around its released checkpoints (``--preset reference``).

:class:`ReferenceDetector` runs a checkpoint loaded with the ``reference``
config the way graspnet-baseline's ``demo.py`` does, on a cloud in the camera
frame (metres):

1. keep the finite points with depth z > 0 (the demo's ``depth > 0``; no
   voxel grid, no depth range);
2. draw ``num_points`` of them with ``np.random.RandomState(seed).choice``
   without replacement (all points plus repeats when there are fewer): the
   very indices the demo draws after ``np.random.seed(seed)``;
3. the network, then its ``pred_decode`` (:func:`.decode.decode_reference`:
   one grasp per graspable seed, score = raw score x tolerance / 0.05);
4. its model-free collision detector on the whole cloud (voxel 0.01 m,
   approach 0.05 m, threshold 0.01; :mod:`.reference_collision`);
5. pose NMS (0.03 m, 30 deg) and sort by score, as ``gg.nms()``,
   ``gg.sort_by_score()``.

It returns the package's :class:`.detector.Detection`, so the node and the
commands use it like :class:`.detector.GraspDetector`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..nms import pose_nms
from .decode import decode_reference
from .detector import Detection, sample_points
from .graspnet import GraspNet
from .reference_collision import model_free_collision


@dataclass(frozen=True)
class ReferenceDemoConfig:
    """The demo's settings (metres, radians)."""

    collision_voxel: float = 0.01
    approach_dist: float = 0.05
    collision_thresh: float = 0.01  # <= 0 skips collision detection, as the demo does
    nms_translation: float = 0.03
    nms_rotation_deg: float = 30.0
    max_grasps: int | None = None
    seed: int = 0


def demo_points(points: np.ndarray) -> np.ndarray:
    """The demo's valid points: finite, depth z > 0. Raises ValueError on a
    cloud that is not (M, 3+) or has no valid point."""
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise ValueError(f"point cloud must be an (M, 3) array in metres, got shape {pts.shape}")
    pts = pts[:, :3]
    keep = np.isfinite(pts).all(axis=1)
    keep[keep] = pts[keep, 2] > 0
    if not keep.any():
        raise ValueError("point cloud has no finite point with positive depth: check the depth image and its scale")
    return pts[keep]


class ReferenceDetector:
    """A graspnet-baseline checkpoint (``reference`` config) in its demo's pipeline."""

    kind = "model"

    def __init__(self, model: GraspNet, config: ReferenceDemoConfig = ReferenceDemoConfig()) -> None:
        if model.cfg.decode_mode != "reference":
            raise ValueError(f"the reference preset needs a model with the 'reference' config (decode_mode "
                             f"'reference'), got config '{model.cfg.name}'")
        self.model = model.eval()
        self.config = config

    @classmethod
    def from_checkpoint(cls, path: str | Path, config: ReferenceDemoConfig = ReferenceDemoConfig()
                        ) -> "ReferenceDetector":
        """Load a graspnet-baseline checkpoint (``{'model_state_dict', 'epoch', ...}``,
        e.g. checkpoint-rs.tar / checkpoint-kn.tar) with the ``reference`` config."""
        from .checkpoint import load_model
        from .config import reference

        return cls(load_model(path, reference()), config)

    @property
    def min_points(self) -> int:
        return 1

    def detect(self, points: np.ndarray) -> Detection:
        """Grasps (camera frame, best first) on a cloud (M, 3+) in metres."""
        cfg = self.config
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        n_in = int(np.asarray(points).shape[0]) if np.ndim(points) == 2 else 0
        cloud = demo_points(points)
        sample = sample_points(cloud, self.model.cfg.num_points, np.random.RandomState(cfg.seed))
        timings["preprocess"] = _elapsed(t0)
        t = time.perf_counter()
        with torch.no_grad():
            out = self.model(torch.from_numpy(sample.astype(np.float32))[None])
        timings["network"] = _elapsed(t)
        t = time.perf_counter()
        grasps = decode_reference(out, self.model.cfg)[0].grasps
        timings["decode"] = _elapsed(t)
        timings["gaf"] = 0.0
        stats: dict = {"points_after_preprocessing": len(cloud), "candidates": len(grasps)}
        t = time.perf_counter()
        if cfg.collision_thresh > 0 and len(grasps):
            grasps = grasps.filter(~model_free_collision(grasps, cloud, cfg.collision_voxel, cfg.approach_dist,
                                                         cfg.collision_thresh))
        timings["collision"] = _elapsed(t)
        stats["collision_free"] = len(grasps)
        t = time.perf_counter()
        grasps = grasps[pose_nms(grasps, cfg.nms_translation, np.deg2rad(cfg.nms_rotation_deg))] if len(grasps) \
            else grasps
        if cfg.max_grasps is not None:
            grasps = grasps[:cfg.max_grasps]
        timings["nms"] = _elapsed(t)
        timings["total"] = _elapsed(t0)
        return Detection(grasps, timings, cloud, n_in, self.kind, stats)


def _elapsed(t0: float) -> float:
    """Seconds since ``t0``."""
    return time.perf_counter() - t0
