"""Message -> numpy decoders that need no ROS install (the package's ROS-free codec).

They read messages by field name only, so the same functions decode rclpy
messages in the nodes (:mod:`graspnet_ros.nodes.conversions` re-exports them
next to its encoders) and rosbags' messages in the offline bag tools
(:mod:`graspnet_ros.bags`), which must not import ``nodes/``:

* ``graspnet_ros/GraspArray`` -> :class:`~graspnet_ros.grasp.GraspGroup` (and tolerances);
* ``sensor_msgs/PointCloud2`` -> (N, 3) / (H, W, 3) float32 metres, optional RGB;
* colour and depth ``sensor_msgs/Image`` -> numpy (depth in metres);
* ``sensor_msgs/CameraInfo`` -> :class:`~graspnet_ros.cameras.base.CameraIntrinsics`;
* ``Pose`` / ``PoseStamped`` / ``Transform`` / ``TransformStamped`` -> 4x4 matrices;
* ``builtin_interfaces/Time`` -> seconds.

Every decoder raises ValueError naming the problem.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from .cameras.base import CameraIntrinsics
from .grasp import GraspGroup

__all__ = ["msg_to_grasp_group", "msg_to_tolerances", "msg_to_cloud", "cloud_fields", "msg_to_color",
           "msg_to_depth", "camera_info_to_intrinsics", "pose_to_matrix", "transform_to_matrix",
           "stamp_to_seconds"]


def _columns(msg: Any) -> np.ndarray:
    """(N, 13) float64: position (3), quaternion xyzw (4), width, height, depth, score, tolerance, object_id."""
    rows = [(g.pose.position.x, g.pose.position.y, g.pose.position.z,
             g.pose.orientation.x, g.pose.orientation.y, g.pose.orientation.z, g.pose.orientation.w,
             g.width, g.height, g.depth, g.score, g.tolerance, g.object_id)
            for g in msg.grasps]
    return np.array(rows, dtype=np.float64).reshape(-1, 13)


def msg_to_grasp_group(msg: Any) -> GraspGroup:
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


def msg_to_tolerances(msg: Any) -> np.ndarray:
    """(N,) GAF tolerances of a ``GraspArray`` in metres (0 = unknown)."""
    return np.array([g.tolerance for g in msg.grasps], dtype=np.float64)


def stamp_to_seconds(stamp: Any) -> float:
    """Seconds of a ``builtin_interfaces/Time``."""
    return stamp.sec + stamp.nanosec * 1e-9


#: sensor_msgs/PointField datatype constants (INT8 .. FLOAT64) -> numpy dtype (little endian)
_POINTFIELD_DTYPES = {
    1: np.dtype("i1"), 2: np.dtype("u1"),
    3: np.dtype("<i2"), 4: np.dtype("<u2"),
    5: np.dtype("<i4"), 6: np.dtype("<u4"),
    7: np.dtype("<f4"), 8: np.dtype("<f8"),
}


def cloud_fields(msg: Any) -> dict[str, tuple[int, np.dtype]]:
    """Field name -> (byte offset, numpy dtype) of a PointCloud2 (count-1 fields only)."""
    out = {}
    for f in msg.fields:
        if f.datatype not in _POINTFIELD_DTYPES:
            raise ValueError(f"PointCloud2 field '{f.name}' has unknown datatype {f.datatype}")
        if f.count == 1:
            out[f.name] = (f.offset, _POINTFIELD_DTYPES[f.datatype])
    return out


def _cloud_records(msg: Any, needed: list[str]) -> tuple[np.ndarray, dict]:
    """(H, W) structured view over the message's points with the ``needed`` fields."""
    if msg.is_bigendian:
        raise ValueError("big-endian PointCloud2 is not supported; publish little-endian data")
    fields = cloud_fields(msg)
    h, w, step = int(msg.height), int(msg.width), int(msg.point_step)
    if h * w == 0:
        return np.zeros((h, w), dtype=np.dtype([])), fields
    missing = [f for f in needed if f not in fields]
    if missing:
        raise ValueError(f"PointCloud2 has no field(s) {missing} (fields: {sorted(fields)}); "
                         "the detector needs x, y, z coordinates in metres")
    row_step = int(msg.row_step)
    if step <= 0 or row_step < w * step:
        raise ValueError(f"PointCloud2 point_step {step} / row_step {row_step} too small "
                         f"for width {w}")
    for name in needed:
        off, dt = fields[name]
        if off + dt.itemsize > step:
            raise ValueError(f"PointCloud2 field '{name}' (offset {off}) lies outside point_step {step}")
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    if raw.size < h * row_step:
        raise ValueError(f"PointCloud2 data has {raw.size} bytes, expected {h * row_step} "
                         f"({h} rows x row_step {row_step})")
    rows = raw[:h * row_step].reshape(h, row_step)[:, :w * step]
    dtype = np.dtype({"names": needed, "formats": [fields[n][1] for n in needed],
                      "offsets": [fields[n][0] for n in needed], "itemsize": step})
    return np.ascontiguousarray(rows).view(dtype).reshape(h, w), fields


def msg_to_cloud(msg: Any, organised: bool = False,
                 with_colors: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Points (float32 metres, in ``msg.header.frame_id``) and optional RGB of a PointCloud2.

    organised=False: (N, 3) finite points only (NaN/inf rows dropped);
    organised=True: (height, width, 3) as stored, NaN kept. with_colors reads
    an ``rgb`` or ``rgba`` field (float32 or uint32, 0x00RRGGBB) into uint8
    RGB of matching shape; ValueError if there is none. Any x, y, z field
    layout (offsets, padding, extra fields, float64) is accepted.
    """
    needed = ["x", "y", "z"]
    if with_colors:
        names = {f.name for f in msg.fields}
        color_name = "rgb" if "rgb" in names else "rgba" if "rgba" in names else None
        if color_name is None:
            raise ValueError(f"PointCloud2 has no rgb/rgba field (fields: {sorted(names)})")
        needed.append(color_name)
    rec, fields = _cloud_records(msg, needed)
    h, w = rec.shape
    if h * w == 0:
        needed = needed[:3]
    pts = np.empty((h, w, 3), dtype=np.float32)
    if h * w:
        pts[..., 0], pts[..., 1], pts[..., 2] = rec["x"], rec["y"], rec["z"]
    colors = None
    if with_colors:
        if h * w:
            packed = np.ascontiguousarray(rec[needed[3]]).view(np.uint32) \
                if fields[needed[3]][1].itemsize == 4 else rec[needed[3]].astype(np.uint32)
            colors = np.stack([(packed >> 16) & 0xFF, (packed >> 8) & 0xFF, packed & 0xFF],
                              axis=-1).astype(np.uint8)
        else:
            colors = np.zeros((h, w, 3), dtype=np.uint8)
    if organised:
        return pts, colors
    flat = pts.reshape(-1, 3)
    keep = np.isfinite(flat).all(axis=1)
    return flat[keep], (colors.reshape(-1, 3)[keep] if colors is not None else None)


_COLOR_IN = {"rgb8": (3, [0, 1, 2]), "bgr8": (3, [2, 1, 0]), "rgba8": (4, [0, 1, 2]),
             "bgra8": (4, [2, 1, 0]), "mono8": (1, [0, 0, 0])}


_DEPTH_IN = {"16UC1": np.dtype("u2"), "mono16": np.dtype("u2"), "32FC1": np.dtype("f4")}


def _image_pixels(msg: Any, dtype: np.dtype, channels: int) -> np.ndarray:
    """(H, W, C) view of an Image's pixels honouring step padding and endianness."""
    h, w = int(msg.height), int(msg.width)
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    row = w * channels * dt.itemsize
    step = int(msg.step)
    if step < row:
        raise ValueError(f"Image step {step} is smaller than width x pixel size ({row} bytes)")
    raw = np.frombuffer(msg.data, dtype=np.uint8)
    if raw.size < h * step:
        raise ValueError(f"Image data has {raw.size} bytes, expected {h * step} ({h} rows x step {step})")
    rows = raw[:h * step].reshape(h, step)[:, :row]
    return np.ascontiguousarray(rows).view(dt).reshape(h, w, channels).astype(dt.newbyteorder("="))


def msg_to_color(msg: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a colour ``Image`` (rgb8, bgr8, rgba8, bgra8 or mono8)."""
    if msg.encoding not in _COLOR_IN:
        raise ValueError(f"colour image encoding '{msg.encoding}' is not supported; "
                         f"use one of {sorted(_COLOR_IN)}")
    channels, order = _COLOR_IN[msg.encoding]
    return np.ascontiguousarray(_image_pixels(msg, np.uint8, channels)[..., order])


def msg_to_depth(msg: Any) -> np.ndarray:
    """(H, W) float32 metres of a depth ``Image`` (16UC1/mono16 mm or 32FC1 m); 0 = no data."""
    if msg.encoding not in _DEPTH_IN:
        raise ValueError(f"depth image encoding '{msg.encoding}' is not supported; "
                         "use 16UC1 (millimetres) or 32FC1 (metres)")
    raw = _image_pixels(msg, _DEPTH_IN[msg.encoding], 1)[..., 0]
    if raw.dtype == np.uint16:
        return raw.astype(np.float32) * np.float32(0.001)
    return np.where(np.isfinite(raw) & (raw > 0), raw, 0.0).astype(np.float32)


def camera_info_to_intrinsics(msg: Any) -> CameraIntrinsics:
    """Intrinsics of a ``CameraInfo``: K (or P when K is all zero), size and distortion."""
    K = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if not K.any():
        K = np.asarray(msg.p, dtype=np.float64).reshape(3, 4)[:, :3]
    if not (K[0, 0] > 0 and K[1, 1] > 0):
        raise ValueError("CameraInfo has no valid focal length in K or P (fx, fy must be > 0)")
    return CameraIntrinsics.from_matrix(K, msg.width, msg.height, tuple(msg.d) or (0.0,) * 5)


def _matrix(q: Any, t: Any) -> np.ndarray:
    """4x4 transform of a quaternion message (normalised here) and a translation (metres)."""
    q_xyzw = np.array([q.x, q.y, q.z, q.w])
    norm = np.linalg.norm(q_xyzw)
    if not norm > 1e-9:
        raise ValueError("orientation quaternion is zero or invalid")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat(q_xyzw / norm).as_matrix()
    T[:3, 3] = [t.x, t.y, t.z]
    return T


def pose_to_matrix(pose: Any) -> np.ndarray:
    """4x4 matrix of a ``Pose`` or ``PoseStamped`` (quaternion normalised)."""
    pose = getattr(pose, "pose", pose)  # PoseStamped
    return _matrix(pose.orientation, pose.position)


def transform_to_matrix(tf: Any) -> np.ndarray:
    """4x4 matrix of a ``Transform`` or ``TransformStamped`` (T_parent<-child)."""
    tf = getattr(tf, "transform", tf)  # TransformStamped
    return _matrix(tf.rotation, tf.translation)
