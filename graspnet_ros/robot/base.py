"""The arm protocol every driver implements (simulation and real arms).

Poses are 4x4 homogeneous transforms ``T_base<-tool`` of the robot's tool
frame (TCP) in the robot base frame, metres. The tool frame's convention
relative to the GraspNet gripper frame is :class:`graspnet_ros.tool_frame.ToolFrame`
(configured per gripper); a driver never converts grasps itself.

Driver failures are typed so that callers can abort cleanly with a reason:
:class:`RobotUnreachable` (pose outside the arm's reach or IK failure),
:class:`ProtectiveStop` (the controller stopped the arm: collision, limits),
:class:`ConnectionLost` (no link to the controller) and :class:`MotionStopped`
(a stop was requested while moving).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


class RobotError(RuntimeError):
    """Base of every driver error; the message says what happened."""


class RobotUnreachable(RobotError):
    """The target pose cannot be reached (outside reach, IK failure, joint limits)."""


class ProtectiveStop(RobotError):
    """The controller stopped the arm (collision, force or safety limit)."""


class ConnectionLost(RobotError):
    """The link to the robot controller or gripper was lost."""


class MotionStopped(RobotError):
    """A motion was interrupted by :meth:`Arm.stop`."""


class GripperTimeout(RobotError):
    """The gripper did not acknowledge a command or finish its motion in time."""


#: Hard maxima, in code: no configuration may command a faster TCP. They are
#: below the UR and xArm controllers' own Cartesian limits (UR: 3 m/s,
#: xArm: 1 m/s), so the configured speed is always the one the arm runs.
MAX_LINEAR_SPEED = 1.0  # m/s
MAX_ANGULAR_SPEED = 3.2  # rad/s
MAX_ACCELERATION = 2.5  # m/s^2


@dataclass(frozen=True)
class SpeedLimits:
    """Cartesian speed limits of a tool motion.

    linear: m/s of the TCP; angular: rad/s of the tool orientation;
    acceleration: m/s^2 (drivers that take one).
    """

    linear: float = 0.25
    angular: float = 1.5
    acceleration: float = 0.5

    def __post_init__(self) -> None:
        maxima = {"linear": MAX_LINEAR_SPEED, "angular": MAX_ANGULAR_SPEED, "acceleration": MAX_ACCELERATION}
        units = {"linear": "m/s", "angular": "rad/s", "acceleration": "m/s^2"}
        for name, limit in maxima.items():
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"speed limit '{name}' must be a positive number, got {value}")
            if value > limit:
                raise ValueError(f"speed limit '{name}' = {value} {units[name]} exceeds the hard maximum "
                                 f"{limit} {units[name]} (graspnet_ros.robot.base.MAX_*); lower it in the "
                                 "executor config's motion.speeds")


@runtime_checkable
class Arm(Protocol):
    """A robot arm with a parallel-jaw gripper, driven in Cartesian space.

    All poses are ``T_base<-tool`` (4x4, metres); widths are jaw openings in
    metres. Methods block until the motion ends and raise a :class:`RobotError`
    subclass on failure.
    """

    #: Largest jaw opening of the gripper, m.
    max_width: float

    def tool_pose(self) -> np.ndarray:
        """Current ``T_base<-tool`` (4x4)."""
        ...

    def move_tool(self, pose: np.ndarray, speed: SpeedLimits) -> None:
        """Move the TCP along a straight line to ``pose`` within ``speed``."""
        ...

    def open_gripper(self, width: float) -> None:
        """Open (or close without force) the jaws to ``width`` m."""
        ...

    def close_gripper(self, force: float) -> None:
        """Close the jaws until they stop on an object or shut, squeezing with ``force`` N."""
        ...

    def gripper_width(self) -> float:
        """Current jaw opening, m."""
        ...

    def gripper_contact(self) -> bool | None:
        """Whether the jaws hold something (None if the gripper cannot tell)."""
        ...

    def wait(self, seconds: float) -> None:
        """Let ``seconds`` pass (the simulator steps its physics)."""
        ...

    def stop(self) -> None:
        """Stop the current motion as soon as possible (safe to call from another thread).

        Returns at once (never waits for the motion to end); the interrupted
        command raises :class:`MotionStopped` in its own thread.
        """
        ...


@runtime_checkable
class Recoverable(Protocol):
    """An arm that can clear a stop, a protective stop or a lost link (real drivers)."""

    def recover(self) -> None:
        """Reconnect if the link dropped, clear the controller's stop/error state and
        re-enable motion; raise :class:`RobotError` with the reason when it cannot."""
        ...


@runtime_checkable
class LiftOracle(Protocol):
    """Ground truth a simulator can give about a lift (real arms cannot)."""

    def lifted_object(self, min_height: float) -> int | None:
        """Index of the object held at least ``min_height`` m above its rest height, else None."""
        ...


def as_pose(pose: np.ndarray, what: str = "pose") -> np.ndarray:
    """Check a 4x4 rigid transform (finite, proper rotation) and return it as float64."""
    T = np.asarray(pose, dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise ValueError(f"{what} must be a finite 4x4 matrix, got shape {T.shape}")
    R = T[:3, :3]
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-5 or np.linalg.det(R) < 0:
        raise ValueError(f"{what}: rotation block is not a proper rotation")
    if np.abs(T[3] - (0, 0, 0, 1)).max() > 1e-9:
        raise ValueError(f"{what}: last row must be (0, 0, 0, 1)")
    return T


def pose_from_xyz_quat(translation: np.ndarray, quat_xyzw: np.ndarray) -> np.ndarray:
    """4x4 pose from a translation (m) and a quaternion (x, y, z, w), normalised."""
    from scipy.spatial.transform import Rotation

    t = np.asarray(translation, dtype=np.float64).reshape(3)
    q = np.asarray(quat_xyzw, dtype=np.float64).reshape(4)
    if not np.isfinite(q).all() or np.linalg.norm(q) < 1e-9:
        raise ValueError(f"quaternion (x, y, z, w) must be finite and non-zero, got {q.tolist()}")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(q / np.linalg.norm(q)).as_matrix()
    T[:3, 3] = t
    return T


def pose_to_xyz_quat(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(translation (3,), quaternion xyzw (4,)) of a 4x4 pose."""
    from scipy.spatial.transform import Rotation

    T = as_pose(pose)
    return T[:3, 3].copy(), Rotation.from_matrix(T[:3, :3]).as_quat()
