"""Conversions between :class:`~graspnet_ros.grasp.GraspGroup` and ``graspnet_ros/GraspArray``.

Each ``Grasp.pose`` is the pose of the GraspNet gripper frame (x = approach,
y = jaw closing axis, z = finger height; origin = grasp point, metres) in the
frame named by ``GraspArray.header.frame_id``, which maps to and from
``GraspGroup.frame_id``. Rotations are converted in one vectorised call;
``geometry_msgs/Quaternion`` is (x, y, z, w), scalar last.

Width, height, depth, score and tolerance travel as float32 in the message,
so a round trip preserves them to float32 precision (about 1e-7 relative);
poses are float64 and survive unchanged up to quaternion round-off.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion
from scipy.spatial.transform import Rotation
from std_msgs.msg import Header

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.msg import Grasp, GraspArray

__all__ = ["grasp_group_to_msg", "msg_to_grasp_group", "msg_to_tolerances"]


def _to_time_msg(stamp: Any) -> Time:
    """``builtin_interfaces/Time`` from a Time message, an ``rclpy.time.Time`` or None (zero)."""
    if stamp is None:
        return Time()
    if isinstance(stamp, Time):
        return stamp
    if hasattr(stamp, "to_msg"):  # rclpy.time.Time
        return stamp.to_msg()
    raise TypeError(f"stamp must be builtin_interfaces.msg.Time, rclpy.time.Time or None, got {type(stamp)!r}")


def grasp_group_to_msg(grasps: GraspGroup, stamp: Any = None,
                       tolerances: np.ndarray | None = None) -> GraspArray:
    """Build a ``GraspArray`` from a GraspGroup, keeping its order.

    grasps: the grasps; ``grasps.frame_id`` becomes ``header.frame_id``.
    stamp: ``builtin_interfaces/Time`` (or ``rclpy.time.Time``) of the sensor
        data the grasps come from; None gives time zero.
    tolerances: optional (N,) GAF tolerances in metres; 0 (unknown) if None.
    Publishers should sort best first (``grasps.sort_by_score()``), the
    message's convention; this function does not reorder.
    """
    n = len(grasps)
    if tolerances is None:
        tol = np.zeros(n)
    else:
        tol = np.asarray(tolerances, dtype=np.float64).reshape(-1)
        if tol.shape != (n,):
            raise ValueError(f"tolerances has {tol.size} values for {n} grasps")
    msg = GraspArray(header=Header(stamp=_to_time_msg(stamp), frame_id=grasps.frame_id))
    if n == 0:
        return msg
    quats = Rotation.from_matrix(grasps.rotations).as_quat()  # (N, 4) x, y, z, w
    rows = zip(grasps.translations.tolist(), quats.tolist(), grasps.widths.tolist(),
               grasps.heights.tolist(), grasps.depths.tolist(), grasps.scores.tolist(),
               tol.tolist(), grasps.object_ids.tolist())
    msg.grasps = [
        Grasp(pose=Pose(position=Point(x=t[0], y=t[1], z=t[2]),
                        orientation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3])),
              width=w, height=h, depth=d, score=s, tolerance=g, object_id=int(o))
        for t, q, w, h, d, s, g, o in rows
    ]
    return msg


def _columns(msg: GraspArray) -> np.ndarray:
    """(N, 13) float64: position (3), quaternion xyzw (4), width, height, depth, score, tolerance, object_id."""
    rows = [(g.pose.position.x, g.pose.position.y, g.pose.position.z,
             g.pose.orientation.x, g.pose.orientation.y, g.pose.orientation.z, g.pose.orientation.w,
             g.width, g.height, g.depth, g.score, g.tolerance, g.object_id)
            for g in msg.grasps]
    return np.array(rows, dtype=np.float64).reshape(-1, 13)


def msg_to_grasp_group(msg: GraspArray) -> GraspGroup:
    """Build a GraspGroup (in ``msg.header.frame_id``) from a ``GraspArray``, keeping its order.

    Quaternions are normalised; a zero quaternion raises ValueError, as do
    values the GraspGroup rejects (NaN, negative lengths). Tolerances are not
    part of a GraspGroup: read them with :func:`msg_to_tolerances`.
    """
    cols = _columns(msg)
    if len(cols) == 0:
        return GraspGroup(frame_id=msg.header.frame_id)
    quats = cols[:, 3:7]
    norms = np.linalg.norm(quats, axis=1)
    bad = ~(norms > 1e-9)
    if bad.any():
        raise ValueError(f"GraspArray: {int(bad.sum())} grasps have a zero or invalid "
                         f"orientation quaternion (first: index {int(np.flatnonzero(bad)[0])})")
    rotations = Rotation.from_quat(quats / norms[:, None]).as_matrix()
    return GraspGroup.from_components(
        rotations, cols[:, 0:3], widths=cols[:, 7], depths=cols[:, 9], scores=cols[:, 10],
        heights=cols[:, 8], object_ids=cols[:, 12], frame_id=msg.header.frame_id)


def msg_to_tolerances(msg: GraspArray) -> np.ndarray:
    """(N,) GAF tolerances of a ``GraspArray`` in metres (0 = unknown)."""
    return np.array([g.tolerance for g in msg.grasps], dtype=np.float64)
