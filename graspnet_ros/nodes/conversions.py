"""Typed message <-> numpy conversions (the package's ``tf2_geometry_msgs``).

* grasps: :class:`~graspnet_ros.grasp.GraspGroup` <-> ``graspnet_ros/GraspArray``;
* point clouds: (N, 3) or organised (H, W, 3) float32 metres, optional RGB
  <-> ``sensor_msgs/PointCloud2`` (any float32/float64 x, y, z layout read,
  x y z [rgb] float32 written);
* images: colour (rgb8, bgr8, rgba8, bgra8, mono8 in; rgb8/bgr8 out) and depth
  (``16UC1`` millimetres or ``32FC1`` metres) <-> numpy arrays;
* ``sensor_msgs/CameraInfo`` <-> :class:`~graspnet_ros.cameras.base.CameraIntrinsics`;
* ``Pose`` / ``PoseStamped`` / ``Transform`` / ``TransformStamped`` <-> 4x4 matrices.

Every reader raises ValueError naming the problem (wrong encoding, missing
field, inconsistent sizes) so nodes can log it and carry on.

Grasps: each ``Grasp.pose`` is the pose of the GraspNet gripper frame (x = approach,
y = jaw closing axis, z = finger height; origin = grasp point, metres) in the
frame named by ``GraspArray.header.frame_id``, which maps to and from
``GraspGroup.frame_id``. Rotations are converted in one vectorised call;
``geometry_msgs/Quaternion`` is (x, y, z, w), scalar last.

Width, height, depth, score and tolerance travel as float32 in the message,
so a round trip preserves them to float32 precision (about 1e-7 relative);
poses are float64 and survive unchanged up to quaternion round-off.
"""

from __future__ import annotations

import array
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import (Point, Pose, PoseStamped, Quaternion, Transform, TransformStamped,
                               Vector3)
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import Header

from graspnet_ros.cameras.base import CameraIntrinsics
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.msg import Grasp, GraspArray
from graspnet_ros.msg_decode import (_image_pixels, camera_info_to_intrinsics, cloud_fields,  # noqa: F401
                                     msg_to_cloud, msg_to_color, msg_to_depth, msg_to_grasp_group,
                                     msg_to_tolerances, pose_to_matrix, stamp_to_seconds,
                                     transform_to_matrix)

__all__ = ["grasp_group_to_msg", "msg_to_grasp_group", "msg_to_tolerances",
           "cloud_to_msg", "msg_to_cloud", "cloud_fields",
           "color_to_msg", "msg_to_color", "depth_to_msg", "msg_to_depth",
           "intrinsics_to_camera_info", "camera_info_to_intrinsics",
           "matrix_to_pose", "pose_to_matrix", "matrix_to_pose_stamped",
           "matrix_to_transform", "transform_to_matrix", "matrix_to_transform_stamped",
           "stamp_to_seconds", "seconds_to_stamp"]


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


# --------------------------------------------------------------------------
# time
# --------------------------------------------------------------------------

def seconds_to_stamp(seconds: float) -> Time:
    """``builtin_interfaces/Time`` from seconds (>= 0), rounded to the nanosecond."""
    ns = int(round(float(seconds) * 1e9))
    if ns < 0:
        raise ValueError(f"stamp must be >= 0 s, got {seconds}")
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _header(frame_id: str, stamp: Any) -> Header:
    if isinstance(stamp, (int, float, np.floating)):
        stamp = seconds_to_stamp(float(stamp))
    return Header(stamp=_to_time_msg(stamp), frame_id=frame_id)


def _bytes_field(arr: np.ndarray) -> array.array:
    """A uint8 message field from a contiguous numpy array (one copy)."""
    buf = array.array("B")
    buf.frombytes(np.ascontiguousarray(arr).view(np.uint8).reshape(-1))
    return buf


# --------------------------------------------------------------------------
# PointCloud2
# --------------------------------------------------------------------------


def cloud_to_msg(points: np.ndarray, frame_id: str, stamp: Any = None,
                 colors: np.ndarray | None = None) -> PointCloud2:
    """``PointCloud2`` from points in metres.

    points: (N, 3) (unorganised: height 1) or (H, W, 3) (organised; NaN marks
    pixels without data) in ``frame_id``. colors: optional uint8 RGB of the
    same leading shape, packed into a float32 ``rgb`` field as 0x00RRGGBB
    (the PCL / realsense2_camera convention). Fields x, y, z float32 at
    offsets 0, 4, 8 (+ rgb at 12); little endian; ``is_dense`` is False when
    any coordinate is non-finite. stamp: Time, rclpy Time, seconds or None.
    """
    pts = np.asarray(points)
    if pts.ndim not in (2, 3) or pts.shape[-1] != 3:
        raise ValueError(f"points must be (N, 3) or (H, W, 3), got {pts.shape}")
    height, width = (1, pts.shape[0]) if pts.ndim == 2 else pts.shape[:2]
    n = height * width
    names = ["x", "y", "z"] + (["rgb"] if colors is not None else [])
    rec = np.empty(n, dtype=np.dtype({"names": names, "formats": ["<f4"] * len(names)}))
    flat = pts.reshape(n, 3).astype(np.float32, copy=False)
    rec["x"], rec["y"], rec["z"] = flat[:, 0], flat[:, 1], flat[:, 2]
    if colors is not None:
        col = np.asarray(colors)
        if col.shape != pts.shape or col.dtype != np.uint8:
            raise ValueError(f"colors must be uint8 with the points' shape {pts.shape}, "
                             f"got {col.shape} {col.dtype}")
        c = col.reshape(n, 3).astype(np.uint32)
        rec["rgb"] = ((c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).view(np.float32)
    msg = PointCloud2(header=_header(frame_id, stamp), height=height, width=width,
                      is_bigendian=False, point_step=rec.dtype.itemsize,
                      row_step=rec.dtype.itemsize * width,
                      is_dense=bool(np.isfinite(flat).all()))
    msg.fields = [PointField(name=nm, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                  for i, nm in enumerate(names)]
    msg.data = _bytes_field(rec)
    return msg


# --------------------------------------------------------------------------
# Image
# --------------------------------------------------------------------------


def color_to_msg(rgb: np.ndarray, frame_id: str, stamp: Any = None,
                 encoding: str = "rgb8") -> Image:
    """``Image`` from an (H, W, 3) uint8 RGB array, encoded as ``rgb8`` or ``bgr8``."""
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"colour image must be (H, W, 3) uint8 RGB, got {img.shape} {img.dtype}")
    if encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"colour encoding must be rgb8 or bgr8, got '{encoding}'")
    data = img if encoding == "rgb8" else img[..., ::-1]
    h, w = img.shape[:2]
    return Image(header=_header(frame_id, stamp), height=h, width=w, encoding=encoding,
                 is_bigendian=False, step=3 * w, data=_bytes_field(data))


def depth_to_msg(depth: np.ndarray, frame_id: str, stamp: Any = None,
                 encoding: str = "16UC1") -> Image:
    """Depth ``Image`` from (H, W) metres (0 or non-finite = no data).

    ``16UC1``: millimetres, rounded, 0 = no data, depths beyond 65.535 m
    become 0. ``32FC1``: metres, NaN = no data (REP 118).
    """
    d = np.asarray(depth, dtype=np.float32)
    if d.ndim != 2:
        raise ValueError(f"depth image must be (H, W), got {d.shape}")
    valid = np.isfinite(d) & (d > 0)
    if encoding == "16UC1":
        mm = np.where(valid, np.rint(d * 1000.0), 0.0)
        data = np.where(mm <= 65535, mm, 0).astype("<u2")
    elif encoding == "32FC1":
        data = np.where(valid, d, np.float32(np.nan)).astype("<f4")
    else:
        raise ValueError(f"depth encoding must be 16UC1 (mm) or 32FC1 (m), got '{encoding}'")
    h, w = d.shape
    return Image(header=_header(frame_id, stamp), height=h, width=w, encoding=encoding,
                 is_bigendian=False, step=w * data.itemsize, data=_bytes_field(data))


# --------------------------------------------------------------------------
# CameraInfo
# --------------------------------------------------------------------------

def intrinsics_to_camera_info(intr: CameraIntrinsics, frame_id: str, stamp: Any = None) -> CameraInfo:
    """``CameraInfo`` (plumb_bob) of rectified intrinsics: K, D, R = I, P = [K | 0]."""
    K = intr.K
    P = np.hstack([K, np.zeros((3, 1))])
    return CameraInfo(header=_header(frame_id, stamp), height=intr.height, width=intr.width,
                      distortion_model="plumb_bob", d=list(intr.distortion),
                      k=K.ravel().tolist(), r=np.eye(3).ravel().tolist(), p=P.ravel().tolist())


# --------------------------------------------------------------------------
# Pose / Transform
# --------------------------------------------------------------------------

def _check_matrix(T: np.ndarray) -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise ValueError(f"expected a finite 4x4 homogeneous matrix, got shape {T.shape}")
    R = T[:3, :3]
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-5 or np.linalg.det(R) < 0:
        raise ValueError("the 4x4 matrix's rotation block is not a proper rotation")
    return T


def _rigid_parts(T: np.ndarray) -> tuple[dict[str, float], Quaternion]:
    """Translation {x, y, z} (metres) and orientation of a checked 4x4 rigid transform.

    The translation comes as keyword arguments for ``Point`` or ``Vector3``;
    the orientation is the unit quaternion of the rotation block.
    """
    T = _check_matrix(T)
    q = Rotation.from_matrix(T[:3, :3]).as_quat()  # x, y, z, w
    return ({"x": float(T[0, 3]), "y": float(T[1, 3]), "z": float(T[2, 3])},
            Quaternion(x=float(q[0]), y=float(q[1]), z=float(q[2]), w=float(q[3])))


def matrix_to_pose(T: np.ndarray) -> Pose:
    """``geometry_msgs/Pose`` of a 4x4 rigid transform (metres)."""
    position, orientation = _rigid_parts(T)
    return Pose(position=Point(**position), orientation=orientation)


def matrix_to_pose_stamped(T: np.ndarray, frame_id: str, stamp: Any = None) -> PoseStamped:
    """``PoseStamped`` of a 4x4 transform expressed in ``frame_id``."""
    return PoseStamped(header=_header(frame_id, stamp), pose=matrix_to_pose(T))


def matrix_to_transform(T: np.ndarray) -> Transform:
    """``geometry_msgs/Transform`` of a 4x4 rigid transform."""
    translation, rotation = _rigid_parts(T)
    return Transform(translation=Vector3(**translation), rotation=rotation)


def matrix_to_transform_stamped(T: np.ndarray, parent_frame: str, child_frame: str,
                                stamp: Any = None) -> TransformStamped:
    """``TransformStamped`` T_parent<-child (pose of ``child_frame`` in ``parent_frame``)."""
    if not parent_frame or not child_frame or parent_frame == child_frame:
        raise ValueError(f"a transform needs two different, non-empty frame ids "
                         f"(got '{parent_frame}' -> '{child_frame}')")
    return TransformStamped(header=_header(parent_frame, stamp), child_frame_id=child_frame,
                            transform=matrix_to_transform(T))


def grasps_to_moveit(grasps: GraspGroup, tool: Any, stamp: Any = None, *, finger_joints: list[str],
                     open_width: float, max_effort: float = 0.0, approach_distance: float = 0.10,
                     min_approach: float = 0.05, retreat_distance: float = 0.10, min_retreat: float = 0.05,
                     posture_time: float = 0.5) -> list:
    """``moveit_msgs/Grasp`` per grasp, in rank order (imports moveit_msgs: a ROS install's or
    the one built from upstream files; ImportError where there is none).

    - ``grasp_pose``: pose of the end-effector parent link (``tool``: rotation + TCP offset,
      :func:`graspnet_ros.tool_frame.grasp_to_tool_poses`, the package's one conversion) in
      ``grasps.frame_id``; ``grasp_quality``: the score; ``id``: the rank.
    - ``pre_grasp_approach``: along the grasp's approach axis (in ``grasps.frame_id``),
      ``approach_distance`` desired, ``min_approach`` minimum (m); ``post_grasp_retreat``: back
      along it, ``retreat_distance`` / ``min_retreat`` (m).
    - ``pre_grasp_posture`` opens each joint of ``finger_joints`` to ``open_width / 2`` (m, one
      prismatic joint per finger); ``grasp_posture`` closes them to the grasp width / 2 with
      ``max_effort`` (N, 0 = unset), both reached after ``posture_time`` s.
    """
    from builtin_interfaces.msg import Duration
    from geometry_msgs.msg import Vector3, Vector3Stamped
    from moveit_msgs.msg import Grasp as MoveItGrasp
    from moveit_msgs.msg import GripperTranslation
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from ..tool_frame import grasp_to_tool_poses

    header = _header(grasps.frame_id, stamp)
    if not len(grasps):
        return []
    poses = grasp_to_tool_poses(grasps, tool)
    approaches = grasps.approaches
    t = Duration(sec=int(posture_time), nanosec=int(round((posture_time % 1.0) * 1e9)))

    def posture(width: float, effort: float) -> JointTrajectory:
        n = len(finger_joints)
        point = JointTrajectoryPoint(positions=[float(width) / 2.0] * n, time_from_start=t)
        if effort > 0:
            point.effort = [float(effort)] * n
        return JointTrajectory(header=header, joint_names=list(finger_joints), points=[point])

    def translation(direction: np.ndarray, desired: float, minimum: float) -> GripperTranslation:
        v = Vector3(x=float(direction[0]), y=float(direction[1]), z=float(direction[2]))
        return GripperTranslation(direction=Vector3Stamped(header=header, vector=v),
                                  desired_distance=float(desired), min_distance=float(minimum))

    out = []
    for i in range(len(grasps)):
        out.append(MoveItGrasp(
            id=str(i), grasp_pose=matrix_to_pose_stamped(poses[i], grasps.frame_id, stamp),
            grasp_quality=float(grasps.scores[i]),
            pre_grasp_posture=posture(open_width, 0.0), grasp_posture=posture(grasps.widths[i], max_effort),
            pre_grasp_approach=translation(approaches[i], approach_distance, min_approach),
            post_grasp_retreat=translation(-approaches[i], retreat_distance, min_retreat),
            max_contact_force=float(max_effort)))
    return out
