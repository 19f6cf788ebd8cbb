"""Time-stamped poses of one moving frame, looked up at a past instant (ROS-free).

What a TF buffer does for one edge: an eye-in-hand camera moves with the arm, so a
cloud (or the grasps found on it) must be placed with the pose the camera had when
the frame was CAPTURED, not the pose at the time the data is used. The executor
node samples the arm's flange pose into a :class:`PoseHistory`; the detector
node's multi-view fusion keeps one per TF edge.

Poses are 4x4 ``T_parent<-child`` (metres); stamps are seconds on one clock (the
node's clock). Between two samples the translation is interpolated linearly and
the rotation by slerp; a lookup before the first or after the last sample is
refused (ValueError naming the span) unless it lies within ``tolerance`` seconds
of it.
"""

from __future__ import annotations

import bisect
import threading

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from .calibration.poses import check_transforms

__all__ = ["PoseHistory"]


class PoseHistory:
    """Samples ``(stamp s, T_parent<-child)`` kept for ``span`` seconds; thread-safe.

    tolerance: s a lookup may lie before the first or after the last sample (the
    nearest sample is returned there); a static transform is one sample with
    ``tolerance = inf``.
    """

    def __init__(self, span: float = 10.0, tolerance: float = 0.05, name: str = "pose") -> None:
        if not (span > 0 and tolerance >= 0):
            raise ValueError(f"span must be > 0 and tolerance >= 0 s, got {span}, {tolerance}")
        self.span, self.tolerance, self.name = float(span), float(tolerance), name
        self._stamps: list[float] = []
        self._poses: list[np.ndarray] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._stamps)

    def add(self, stamp: float, T: np.ndarray) -> None:
        """Record T_parent<-child (4x4, m) at ``stamp`` s; older samples than span before the newest go."""
        T = check_transforms(T, f"{self.name} at t = {stamp}").reshape(4, 4)
        stamp = float(stamp)
        with self._lock:
            i = bisect.bisect_left(self._stamps, stamp)
            if i < len(self._stamps) and self._stamps[i] == stamp:
                self._poses[i] = T
            else:
                self._stamps.insert(i, stamp)
                self._poses.insert(i, T)
            cut = bisect.bisect_left(self._stamps, self._stamps[-1] - self.span)
            del self._stamps[:cut], self._poses[:cut]

    @property
    def newest(self) -> float | None:
        """Stamp (s) of the newest sample, None before the first."""
        with self._lock:
            return self._stamps[-1] if self._stamps else None

    def span_text(self) -> str:
        with self._lock:
            return "no sample yet" if not self._stamps else f"{self._stamps[0]:.3f} .. {self._stamps[-1]:.3f} s"

    def lookup(self, stamp: float) -> np.ndarray:
        """T_parent<-child (4x4) at ``stamp`` s, interpolated; ValueError outside the samples."""
        stamp = float(stamp)
        with self._lock:
            stamps, poses = list(self._stamps), list(self._poses)
        if not stamps:
            raise ValueError(f"{self.name}: no pose recorded yet, so none at t = {stamp:.3f} s")
        if stamp <= stamps[0] or stamp >= stamps[-1]:
            j = 0 if stamp <= stamps[0] else -1
            if abs(stamp - stamps[j]) <= self.tolerance:
                return poses[j].copy()
            raise ValueError(f"{self.name}: no pose at t = {stamp:.3f} s; the history covers "
                             f"{stamps[0]:.3f} .. {stamps[-1]:.3f} s (tolerance {self.tolerance} s): "
                             "the data is older than the history or newer than the last sample")
        i = bisect.bisect_right(stamps, stamp)
        t0, t1 = stamps[i - 1], stamps[i]
        s = (stamp - t0) / (t1 - t0)
        A, B = poses[i - 1], poses[i]
        out = np.eye(4)
        out[:3, 3] = (1 - s) * A[:3, 3] + s * B[:3, 3]
        out[:3, :3] = Slerp([0.0, 1.0], Rotation.from_matrix([A[:3, :3], B[:3, :3]]))([s]).as_matrix()[0]
        return out
