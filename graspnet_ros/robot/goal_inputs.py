"""What an executor goal runs on besides its own grasp: the latest grasp list and cloud a node
received, each with its arrival time and (eye-in-hand) the flange pose at its capture, and the rules
that refuse stale or unplaceable inputs (``inputs`` of the executor config). ROS-free: the executor
node hands every converted message to :meth:`GoalInputs.add_grasps` / :meth:`GoalInputs.add_cloud`
(an exception: the message is dropped) and asks :meth:`GoalInputs.for_goal` when a goal starts; a
refusal is a :class:`Refused` whose message is the goal's reason."""

from __future__ import annotations

import time

import numpy as np

from ..grasp import GraspGroup
from ..pose_history import CaptureFlange
from .executor import GraspExecutor

__all__ = ["GoalInputs", "Refused"]


class Refused(ValueError):
    """A goal refused before anything moves; the message is the reason the result carries."""


class GoalInputs:
    """The latest valid grasps and cloud of ``executor``'s node; arrival times are
    ``time.monotonic()`` seconds, stamps seconds on the node's clock.

    flange_history: eye-in-hand, T_base<-flange sampled by :meth:`sample_flange` (None otherwise).
    """

    def __init__(self, executor: GraspExecutor, flange_history: CaptureFlange | None = None) -> None:
        self.executor, self.flange_history = executor, flange_history
        self.limits = executor.config.inputs
        #: (grasps, T_base<-flange at their capture or None, arrival time) of the latest valid GraspArray
        self.grasps: tuple[GraspGroup, np.ndarray | None, float] | None = None
        #: (points (M, 3) in the base frame, m, arrival time) of the latest valid cloud
        self.cloud: tuple[np.ndarray, float] | None = None

    def sample_flange(self, stamp: float) -> None:
        """Record the arm's flange pose at ``stamp`` s (eye-in-hand; the arm's read errors pass through)."""
        if self.flange_history is not None:
            self.flange_history.add(stamp, self.executor.flange_pose())

    def capture_flange(self, frame_id: str, stamp: float) -> np.ndarray | None:
        """T_base<-flange when a message of ``frame_id`` stamped ``stamp`` s was captured: None unless
        the camera is eye-in-hand and the frame a camera frame; ValueError when it cannot be placed."""
        return None if self.flange_history is None else self.flange_history.at_capture(frame_id, stamp)

    def add_grasps(self, grasps: GraspGroup, stamp: float, now: float | None = None) -> None:
        """Keep a grasp list stamped ``stamp`` s; ValueError (nothing kept) when its frame is unknown or,
        eye-in-hand, its capture pose is not in the history."""
        flange = self.capture_flange(grasps.frame_id, stamp)
        self.executor.base_from(grasps.frame_id, flange)  # refuse unknown frames at the door
        self.grasps = (grasps, flange, time.monotonic() if now is None else now)

    def add_cloud(self, points: np.ndarray, frame_id: str, stamp: float, now: float | None = None) -> None:
        """Keep a cloud (points (N, 3) in ``frame_id``, m) moved to the base frame; ValueError as for grasps."""
        flange = self.capture_flange(frame_id, stamp)
        points_base = self.executor.cloud_to_base(points, frame_id, flange)
        self.cloud = (points_base, time.monotonic() if now is None else now)

    def for_goal(self, grasps: GraspGroup | None, stamp: float,
                 now: float) -> tuple[GraspGroup, np.ndarray | None, np.ndarray | None]:
        """(grasps, T_base<-flange at their capture or None, clearance cloud in the base frame or None) of a
        goal: its own ``grasps`` stamped ``stamp`` s, or (None) the best of the latest list. Refused when
        the latest list is missing, empty or older than ``max_grasps_age`` s, the own grasps' capture pose
        is unknown, or the latest cloud is older than ``max_cloud_age`` s."""
        if grasps is None:
            latest = self.grasps
            if latest is None or len(latest[0]) == 0:
                raise Refused("refused: no GraspArray received yet on the grasps topic")
            grasps, flange, arrived = latest
            age = now - arrived
            if age > self.limits.max_grasps_age:
                raise Refused(f"refused: the latest GraspArray is {age:.1f} s old "
                              f"(limit inputs.max_grasps_age = {self.limits.max_grasps_age:.1f} s)")
        else:
            try:
                flange = self.capture_flange(grasps.frame_id, stamp)
            except ValueError as exc:
                raise Refused(f"refused: {exc}") from None
        cloud = None
        if self.cloud is not None:
            points, arrived = self.cloud
            age = now - arrived
            if age > self.limits.max_cloud_age:
                raise Refused(f"refused: the latest cloud is {age:.1f} s old, too old for the clearance check "
                              f"(limit inputs.max_cloud_age = {self.limits.max_cloud_age:.1f} s)")
            cloud = points
        return grasps, flange, cloud
