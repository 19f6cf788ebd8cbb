"""Calibration samples collected on request (what calibration_node's ``~/collect``, ``~/solve`` and
``~/reset`` do, ROS-free): the rules that accept a sample, the solve and the save.

A sample is (``T_cam<-target`` of the target detected in one image, ``T_base<-flange`` of the robot
when it was taken or None in ``views`` mode, reprojection RMS in px). Accepted only when the image
is new (not the one of the last sample) and recent, the flange pose was stamped close to the image,
the robot moved since every earlier sample, and the target is found and its pose passes the
detection limits. Poses are 4x4 in metres; ages and stamps in seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import CALIBRATION_MODES, CalibrationConfig
from .detect import DetectionError, draw_detection, estimate_pose, find_target
from .pipeline import calibrate
from .poses import pose_error
from .result import CalibrationResult, save_calibration

__all__ = ["SampleCollector", "debug_image", "SAME_POSE_DEG", "SAME_POSE_M"]

#: a robot pose closer than this to a stored sample's (rotation deg, translation m) is the same pose
SAME_POSE_DEG, SAME_POSE_M = 1.0, 0.002


class SampleCollector:
    """Samples of one calibration in ``mode`` (eye-in-hand | eye-to-hand | views), saved to ``output``.

    max_image_age: s an image may have waited since it arrived; max_stamp_difference: largest
    |image stamp - flange pose stamp| in s (negative: unchecked); camera_serial: recorded in the
    result (None: the config's); force_save: save even over a better calibration.
    """

    def __init__(self, config: CalibrationConfig, mode: str, output: str | Path, camera_serial: str | None = None,
                 force_save: bool = False, max_image_age: float = 2.0, max_stamp_difference: float = 0.5) -> None:
        if mode not in CALIBRATION_MODES:
            raise ValueError(f"mode must be eye-in-hand, eye-to-hand or views, got {mode!r}")
        self.config, self.mode, self.output = config, mode, Path(output).expanduser()
        self.camera_serial, self.force_save = camera_serial, force_save
        self.max_image_age, self.max_stamp_difference = float(max_image_age), float(max_stamp_difference)
        self.samples: list[tuple[np.ndarray, np.ndarray | None, float]] = []  # (T_cam_target, T_base_flange, px)
        self.used_image: object | None = None  # the image (any token) of the last stored sample

    @property
    def hand_eye(self) -> bool:
        """Samples need the flange pose (eye-in-hand, eye-to-hand)."""
        return self.mode != "views"

    def check_image(self, image: object, age: float) -> None:
        """ValueError unless ``image`` is not the last sample's and arrived at most max_image_age s ago."""
        if image is self.used_image:
            raise ValueError(f"no new image since sample {len(self.samples)}: wait for the next frame")
        if age > self.max_image_age:
            raise ValueError(f"the latest image is {age:.1f} s old (max_image_age {self.max_image_age:g} s): "
                             f"is the camera still publishing?")

    def check_stamps(self, image_stamp: float, flange_stamp: float) -> None:
        """ValueError when the image and the flange pose were stamped too far apart (the robot moving)."""
        dt = abs(image_stamp - flange_stamp)
        if 0 <= self.max_stamp_difference < dt:
            raise ValueError(f"image and flange pose stamps differ by {dt:.3f} s (max_stamp_difference "
                             f"{self.max_stamp_difference:g} s): wait until the robot has stopped and "
                             f"both topics are current")

    def check_moved(self, flange: np.ndarray) -> None:
        """ValueError when T_base<-flange repeats a stored sample's pose."""
        for k, (_, other, _) in enumerate(self.samples):
            if other is None:
                continue
            rot, trans = pose_error(flange, other)
            if rot < SAME_POSE_DEG and trans < SAME_POSE_M:
                raise ValueError(f"the robot has not moved since sample {k + 1}: move it to a new pose "
                                 f"(rotated 15-40 deg about a different axis)")

    def add(self, image: object, bgr: np.ndarray, K: np.ndarray, dist: np.ndarray,
            flange: np.ndarray | None) -> str:
        """Detect the target in ``bgr`` (uint8, the pixels of ``image``) with intrinsics ``K`` and
        distortion ``dist``; store the sample and say so, or ValueError saying why it is rejected."""
        target, limits = self.config.target, self.config.detection
        try:
            pose = estimate_pose(find_target(bgr, target, limits), target, K, dist, limits)
        except DetectionError as exc:
            raise ValueError(f"sample rejected ({exc.reason}): {exc}") from None
        self.samples.append((pose.T_cam_target, flange, pose.reprojection_rms_px))
        self.used_image = image
        need = self.config.handeye.min_samples if self.hand_eye else 1
        return (f"sample {len(self.samples)} collected: target at {pose.distance_m:.3f} m, tilt "
                f"{pose.obliquity_deg:.0f} deg, reprojection {pose.reprojection_rms_px:.2f} px"
                + ("" if len(self.samples) >= need else f"; {need - len(self.samples)} more needed"))

    def solve(self) -> tuple[CalibrationResult, str]:
        """Solve with the stored samples and save (never over a better calibration unless force_save):
        (result, report line and error table); ValueError says why not."""
        if not self.samples:
            raise ValueError("no samples collected: call ~/collect first")
        C = np.stack([s[0] for s in self.samples])
        F = np.stack([s[1] for s in self.samples]) if self.hand_eye else None  # type: ignore[misc]
        result, extra = calibrate(self.config, C, F, self.mode, [s[2] for s in self.samples],
                                  self.camera_serial or None)
        table = extra.table() if self.hand_eye else ""  # type: ignore[attr-defined]
        if not result.ok:
            raise ValueError(f"calibration failed, nothing saved: {result.failure}\n{table}")
        try:
            save_calibration(result, self.output, force=self.force_save)
        except ValueError as exc:
            raise ValueError(f"solved but not saved: {exc}\n{table}") from None
        t = result.translation
        return result, (f"saved {self.output}: {result.parent_frame} <- {result.child_frame} via {result.method}, "
                        f"translation [{t[0]:.4f}, {t[1]:.4f}, {t[2]:.4f}] m\n{table}")

    def reset(self) -> str:
        """Drop the samples; says how many."""
        n = len(self.samples)
        self.samples.clear()
        self.used_image = None
        return f"dropped {n} samples"


def debug_image(bgr: np.ndarray, config: CalibrationConfig, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """A BGR copy of ``bgr`` with the detected markers, corners and target axes drawn, or the
    reason the target was not found (cut to 90 characters)."""
    obs = pose = None
    message = ""
    try:
        obs = find_target(bgr, config.target, config.detection)
        pose = estimate_pose(obs, config.target, K, dist, config.detection)
    except DetectionError as exc:
        message = f"{exc.reason}: {exc}"[:90]
    return draw_detection(bgr, config.target, K, dist, obs, pose, message)
