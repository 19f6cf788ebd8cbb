"""The detector protocol of the live pipeline and how a detector is chosen.

A detector takes an (N, 3) float32 cloud in metres in some frame and returns
grasps in that frame plus per-stage timings (seconds)::

    grasps, timings = detector.detect(points, frame_id, objects=None)

``objects`` is an optional (N,) bool mask of the points that stand on the
support (from the pipeline's scene segmentation): grasps are proposed there
only, and every point of the cloud still counts for collisions.

Implementations: the network (:class:`graspnet_ros.model.detector.GraspDetector`
through :class:`NetworkDetector`) when a checkpoint is given, that class's
model-free baseline otherwise, and :class:`~.geometric.GeometricDetector`
when the network package (torch) is not importable or when asked for.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..grasp import GraspGroup
from .geometric import GeometricDetector

__all__ = ["Detector", "NetworkDetector", "make_detector", "DETECTOR_KINDS"]

DETECTOR_KINDS = ("auto", "model", "baseline", "geometric")


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, points: np.ndarray, frame_id: str,
               objects: np.ndarray | None = None) -> tuple[GraspGroup, dict[str, float]]: ...


class NetworkDetector:
    """Adapter from :class:`graspnet_ros.model.detector.GraspDetector` (network or its
    model-free baseline) to :class:`Detector`.

    The pipeline crops and downsamples the cloud before it and runs NMS and
    the top-k cut after it, so the network's own voxel step, NMS and cut are
    off (:func:`make_detector`); its timings (ms) are reported in seconds.
    Its ValueErrors (too few points, ...) propagate to the caller as bad input.
    """

    def __init__(self, impl: Any, name: str) -> None:
        self.impl = impl
        self.name = name

    def detect(self, points: np.ndarray, frame_id: str,
               objects: np.ndarray | None = None) -> tuple[GraspGroup, dict[str, float]]:
        det = self.impl.detect(np.asarray(points, dtype=np.float64).reshape(-1, 3), objects=objects)
        grasps = det.grasps
        grasps.frame_id = frame_id
        return grasps, {k: float(v) / 1000.0 for k, v in det.timings.items() if k != "total"}


def _model_module():
    """graspnet_ros.model.detector, or None when the network is not part of this build."""
    try:
        return importlib.import_module("graspnet_ros.model.detector")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name.startswith("graspnet_ros.model") or exc.name == "torch"):
            return None
        raise


def make_detector(kind: str = "auto", checkpoint: str | Path | None = None, device: str = "cpu",
                  seed: int = 0, **model_options: Any) -> Detector:
    """Pick the detector.

    kind 'model': the network from ``checkpoint`` (ValueError / FileNotFoundError
    if it cannot be loaded); 'baseline': the network package's model-free
    baseline; 'geometric': :class:`GeometricDetector`; 'auto': the network if a
    checkpoint is given, else the baseline if available, else geometric.
    checkpoint ``"shipped"``: the checkpoint shipped with the package. model_options: further
    :class:`~graspnet_ros.model.detector.DetectorConfig` fields (``use_gaf``, ``collision_check``)
    of the network and the baseline; the geometric detector has none.
    """
    if kind not in DETECTOR_KINDS:
        raise ValueError(f"unknown detector '{kind}'; use one of {DETECTOR_KINDS}")
    module = _model_module() if kind in ("auto", "model", "baseline") else None
    if kind in ("model", "baseline") and module is None:
        raise ValueError(f"detector '{kind}' needs graspnet_ros.model (torch), which is not "
                         "importable here; use detector 'geometric'")
    if module is not None:
        # the pipeline crops, voxel-downsamples, runs NMS and keeps the best: the network does not again
        cfg = module.DetectorConfig(voxel_size=0.0, seed=seed, nms=False, max_grasps=None, **model_options)
    if kind == "model" or (kind == "auto" and checkpoint):
        if not checkpoint:
            raise ValueError("detector 'model' needs a checkpoint (parameter 'checkpoint')")
        path = Path(checkpoint).expanduser()
        if module is not None:
            from ..model.checkpoint import resolve_checkpoint  # knows "shipped"

            path = resolve_checkpoint(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        if module is None:
            raise ValueError("a checkpoint was given but graspnet_ros.model (torch) is not importable")
        return NetworkDetector(module.GraspDetector.from_checkpoint(path, cfg), name=f"model:{path.name}")
    if module is not None:
        return NetworkDetector(module.GraspDetector(None, cfg), name="baseline")
    return GeometricDetector(seed=seed)
