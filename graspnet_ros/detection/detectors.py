"""The detector protocol of the live pipeline and how a detector is chosen.

A detector takes an (N, 3) float32 cloud in metres in some frame and returns
grasps in that frame plus per-stage timings (seconds)::

    grasps, timings = detector.detect(points, frame_id, objects=None, normals=None)

``objects`` is an optional (N,) bool mask of the points that stand on the
support (from the pipeline's scene segmentation): grasps are proposed there
only, and every point of the cloud still counts for collisions. ``normals``
are the points' (N, 3) surface normals when the segmentation computed them
(a detector that needs normals reuses them, others ignore them).

Implementations: the network (:class:`graspnet_ros.model.detector.GraspDetector`
through :class:`NetworkDetector`) when a checkpoint is given, the model-free
:class:`~.baseline.BaselineDetector` otherwise (it needs no torch). Both end
in the same collision stage (:mod:`.collision`); timings are in seconds.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..grasp import GraspGroup
from .baseline import BaselineDetector
from .collision import CollisionConfig
from .scores import BASELINE_CALIBRATION, ScoreCalibration, checkpoint_calibration

__all__ = ["Detector", "NetworkDetector", "make_detector", "DETECTOR_KINDS"]

DETECTOR_KINDS = ("auto", "model", "baseline")


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, points: np.ndarray, frame_id: str, objects: np.ndarray | None = None,
               normals: np.ndarray | None = None) -> tuple[GraspGroup, dict[str, float]]: ...


class NetworkDetector:
    """Adapter from :class:`graspnet_ros.model.detector.GraspDetector` to :class:`Detector`.

    The pipeline crops and downsamples the cloud before it and runs NMS and
    the top-k cut after it, so the network's own voxel step, NMS and cut are
    off (:func:`make_detector`).
    Its ValueErrors (too few points, ...) propagate to the caller as bad input.
    """

    def __init__(self, impl: Any, name: str) -> None:
        self.impl = impl
        self.name = name

    def detect(self, points: np.ndarray, frame_id: str, objects: np.ndarray | None = None,
               normals: np.ndarray | None = None) -> tuple[GraspGroup, dict[str, float]]:
        """``normals`` are not used: the network learns its own geometry."""
        det = self.impl.detect(np.asarray(points, dtype=np.float64).reshape(-1, 3), objects=objects)
        grasps = det.grasps
        grasps.frame_id = frame_id
        return grasps, {k: float(v) for k, v in det.timings.items() if k != "total"}


def _model_module():
    """graspnet_ros.model.detector, or None when the network is not part of this build."""
    try:
        return importlib.import_module("graspnet_ros.model.detector")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name.startswith("graspnet_ros.model") or exc.name == "torch"):
            return None
        raise


def score_calibration_for(spec: str, checkpoint: Path | None) -> ScoreCalibration | None:
    """The score calibration a ``score_calibration`` parameter names: 'auto' (the baseline's shipped
    one, or ``NAME.scores.json`` beside checkpoint ``NAME.pt`` when it has one), 'none', or a file."""
    if spec == "none":
        return None
    if spec == "auto":
        path = BASELINE_CALIBRATION if checkpoint is None else checkpoint_calibration(checkpoint)
        return ScoreCalibration.load(path) if path.is_file() else None
    return ScoreCalibration.load(Path(spec).expanduser())


def make_detector(kind: str = "auto", checkpoint: str | Path | None = None, device: str = "cpu",
                  seed: int = 0, use_gaf: bool = True, collision_check: bool = True,
                  score_calibration: str = "auto") -> Detector:
    """Pick the detector.

    kind 'model': the network from ``checkpoint`` (ValueError / FileNotFoundError
    if it cannot be loaded; ``"shipped"``: the checkpoint shipped with the package);
    'baseline': the model-free :class:`BaselineDetector`; 'auto': the network if a
    checkpoint is given, else the baseline. use_gaf: GAF re-ranking of the network's
    grasps; collision_check: the collision stage (both detectors); score_calibration:
    see :func:`score_calibration_for` (:mod:`.scores`).
    """
    if kind == "geometric":
        raise ValueError("detector 'geometric' was merged into 'baseline' (the model-free detector, no torch "
                         "needed): set detector: baseline")
    if kind not in DETECTOR_KINDS:
        raise ValueError(f"unknown detector '{kind}'; use one of {DETECTOR_KINDS}")
    if kind == "baseline" or (kind == "auto" and not checkpoint):
        return BaselineDetector(collision=CollisionConfig(enabled=collision_check), seed=seed,
                                score_calibration=score_calibration_for(score_calibration, None))
    if not checkpoint:
        raise ValueError("detector 'model' needs a checkpoint (parameter 'checkpoint')")
    module = _model_module()
    if module is None:
        raise ValueError("a checkpoint was given but graspnet_ros.model (torch) is not importable here; "
                         "install torch or use detector 'baseline'")
    from ..model.checkpoint import resolve_checkpoint  # knows "shipped"

    path = resolve_checkpoint(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    # the pipeline crops, voxel-downsamples, runs NMS and keeps the best: the network does not again
    cfg = module.DetectorConfig(voxel_size=0.0, seed=seed, nms=False, max_grasps=None, use_gaf=use_gaf,
                                collision_check=collision_check)
    calibration = score_calibration_for(score_calibration, path)
    return NetworkDetector(module.GraspDetector.from_checkpoint(path, cfg, score_calibration=calibration),
                           name=f"model:{path.name}")
