"""Time-stamped poses of one moving frame, looked up at a past instant (ROS-free).

What a TF buffer does for one edge: an eye-in-hand camera moves with the arm, so a
cloud (or the grasps found on it) must be placed with the pose the camera had when
the frame was CAPTURED, not the pose at the time the data is used. The executor
node samples the arm's flange pose into a :class:`CaptureFlange` (a
:class:`PoseHistory` with the eye-in-hand rule: which frames it places, and that an
unstamped message cannot be placed); the detector node's multi-view fusion keeps one
per TF edge.

Poses are 4x4 ``T_parent<-child`` (metres); stamps are seconds on one clock (the
node's clock). Between two samples the translation is interpolated linearly and
the rotation by slerp; a lookup before the first or after the last sample is
refused (ValueError naming the span) unless it lies within ``tolerance`` seconds
of it.
"""

from __future__ import annotations

import bisect
import threading
from typing import Iterable

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from .calibration.poses import check_transforms

__all__ = ["CaptureFlange", "PoseHistory", "TransformTree"]


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


class CaptureFlange(PoseHistory):
    """Eye-in-hand: T_base<-flange sampled ``rate`` times a second (Hz), kept ``span`` s, looked
    up at the capture time of a message in one of ``camera_frames`` (the frames that move with
    the arm). A lookup may lie two sampling periods beyond the newest sample."""

    def __init__(self, rate: float, span: float, camera_frames: Iterable[str]) -> None:
        if not (rate > 0 and span > 0):
            raise ValueError(f"flange_rate ({rate} Hz) and flange_history ({span} s) must be > 0")
        super().__init__(span, tolerance=2.0 / rate, name="flange pose T_base<-flange")
        self.period = 1.0 / rate  # s between samples
        self.camera_frames = tuple(camera_frames)

    def at_capture(self, frame_id: str, stamp: float) -> np.ndarray | None:
        """T_base<-flange (4x4, m) when a message of ``frame_id`` stamped ``stamp`` (s) was captured:
        None for a frame that is not a camera frame; ValueError for an unstamped message (stamp <= 0)
        or one stamped outside the history."""
        if frame_id not in self.camera_frames:
            return None
        if stamp <= 0:
            raise ValueError(f"frame '{frame_id}' is eye-in-hand but the message has no stamp: its capture time "
                             "places the camera (stamp it when the frame is taken)")
        return self.lookup(stamp)


class TransformTree:
    """A TF buffer without tf2_ros: ``child -> (parent, PoseHistory)`` edges fed from /tf and
    /tf_static, looked up along the chain at one time (thread-safe).

    Each edge holds T_parent<-child samples (m); static edges answer at any time. A frame has
    one parent (a tree, as TF requires).
    """

    def __init__(self, span: float = 10.0, tolerance: float = 0.05) -> None:
        self.span, self.tolerance = float(span), float(tolerance)
        self._edges: dict[str, tuple[str, PoseHistory]] = {}
        self._lock = threading.Lock()

    def set(self, parent: str, child: str, stamp: float, T: np.ndarray, static: bool = False) -> None:
        """Record T_parent<-child (4x4, m) at ``stamp`` s (a static edge: for all times)."""
        if not parent or not child or parent == child:
            raise ValueError(f"transform needs two different, non-empty frame ids, got '{parent}' -> '{child}'")
        with self._lock:
            old = self._edges.get(child)
            if old is None or old[0] != parent or (static != np.isinf(old[1].tolerance)):
                history = PoseHistory(self.span, np.inf if static else self.tolerance, f"{parent} <- {child}")
                self._edges[child] = (parent, history)
            history = self._edges[child][1]
        history.add(0.0 if static else stamp, T)

    def _chain(self, frame: str) -> list[str]:
        chain = [frame]
        with self._lock:
            while chain[-1] in self._edges and len(chain) <= len(self._edges):
                chain.append(self._edges[chain[-1]][0])
        return chain

    def _up(self, chain: list[str], stamp: float) -> np.ndarray:
        """T_chain[-1]<-chain[0] at ``stamp``."""
        T = np.eye(4)
        for child in chain[:-1]:
            with self._lock:
                history = self._edges[child][1]
            T = history.lookup(stamp) @ T
        return T

    def lookup(self, target: str, source: str, stamp: float) -> np.ndarray:
        """T_target<-source (4x4, m) at ``stamp`` s; ValueError naming the missing link or time."""
        if target == source:
            return np.eye(4)
        up_source, up_target = self._chain(source), self._chain(target)
        common = next((f for f in up_source if f in up_target), None)
        if common is None:
            raise ValueError(f"no transform from '{source}' to '{target}': '{source}' reaches "
                             f"{' -> '.join(up_source)} and '{target}' reaches {' -> '.join(up_target)} on /tf and "
                             "/tf_static (is the robot state / calibration being published?)")
        T_common_source = self._up(up_source[:up_source.index(common) + 1], stamp)
        T_common_target = self._up(up_target[:up_target.index(common) + 1], stamp)
        return np.linalg.inv(T_common_target) @ T_common_source
