"""From observations to a saved-ready result: the steps the node and the CLI share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .config import CalibrationConfig
from .detect import DetectionError, TargetPose, detect_target
from .handeye import solve_hand_eye
from .poses import cam0_wrt_table, camera_poses_from_targets
from .result import CalibrationResult

__all__ = ["ViewReport", "detect_views", "calibrate"]


@dataclass(frozen=True)
class ViewReport:
    """Outcome of one image: its name, the pose (None if rejected) and the rejection reason."""

    name: str
    pose: TargetPose | None
    reason: str = ""
    message: str = ""

    def row(self) -> str:
        if self.pose is None:
            return f"{self.name:<28} rejected ({self.reason}): {self.message}"
        p = self.pose
        return (f"{self.name:<28} d={p.distance_m:.3f} m  tilt={p.obliquity_deg:5.1f} deg  "
                f"reproj={p.reprojection_rms_px:.3f} px  points={p.n_points}")


def detect_views(images: Sequence[np.ndarray], names: Sequence[str], config: CalibrationConfig, K: np.ndarray,
                 dist: np.ndarray | None = None) -> list[ViewReport]:
    """Detect the configured target in every image; rejected views carry their reason."""
    out = []
    for img, name in zip(images, names):
        try:
            out.append(ViewReport(name, detect_target(img, config.target, K, dist, config.detection)))
        except DetectionError as exc:
            out.append(ViewReport(name, None, exc.reason, str(exc)))
    return out


def calibrate(config: CalibrationConfig, T_cam_target: np.ndarray, T_base_flange: np.ndarray | None = None,
              mode: str | None = None, reprojection_px: Sequence[float] | None = None,
              camera_serial: str | None = None) -> tuple[CalibrationResult, object]:
    """Solve one calibration in ``mode`` (default: the config's) and wrap it as a result.

    Hand-eye modes need ``T_base_flange`` (N, 4, 4) paired with ``T_cam_target``
    (N, 4, 4); "views" uses the target poses alone and returns
    ``T_target<-cam0`` (the table frame = the target frame), with the per-view
    ``camera_poses`` (T_cam0<-cam_i) as the second return value. For hand-eye
    the second value is the :class:`HandEyeResult` (for its error table).
    """
    mode = mode or config.mode
    parent, child = config.frame_pair(mode)
    serial = config.camera_serial if camera_serial is None else camera_serial
    reproj = float(np.mean(reprojection_px)) if reprojection_px is not None and len(reprojection_px) else float("nan")
    extra = {"target": config.target.describe()}
    C = np.asarray(T_cam_target, dtype=np.float64)
    if mode == "views":
        if C.ndim != 3 or len(C) == 0:
            raise ValueError("views mode needs at least one accepted view of the target")
        poses = camera_poses_from_targets(C)
        res = CalibrationResult(cam0_wrt_table(C[0]), parent, child, "views", "target-pnp",
                                reprojection_rms_px=reproj, n_samples=len(C), camera_serial=serial,
                                extra={**extra, "camera_poses": "camera_poses.npy (T_cam0<-cam_i)"})
        return res, poses
    if T_base_flange is None:
        raise ValueError(f"{mode} calibration needs robot flange poses (--robot-poses)")
    he = solve_hand_eye(T_base_flange, C, mode, methods=config.methods, limits=config.handeye, refine=config.refine)
    return CalibrationResult.from_hand_eye(he, parent, child, serial, reproj, extra), he
