"""Where the camera is: the static transforms of a camera mount (ROS-free).

Frames (REP-103/105 names with a configurable prefix, default ``camera``):

* ``parent_frame`` (e.g. ``world``, ``base_link``): what the camera is mounted on;
* ``<name>_link``: the camera body, x forward, y left, z up;
* ``<name>_color_optical_frame``: the colour optical frame, z forward, x right,
  y down; colour, aligned depth, CameraInfo and point cloud all use it.

The mount pose T_parent<-link comes from ``xyz`` (m) + ``rpy`` (rad, fixed
axes: R = Rz(yaw) Ry(pitch) Rx(roll), as in URDF and static_transform_publisher),
or from a calibration YAML file (the output of hand-eye / ArUco calibration)::

    parent_frame: base_link
    child_frame: camera_color_optical_frame   # or camera_link
    matrix: [[...], [...], [...], [0, 0, 0, 1]]    # T_parent<-child, metres
    # or: translation: [x, y, z]   rotation: [qx, qy, qz, qw]

A calibration of the optical frame is converted to the link pose with the
fixed link -> optical rotation. For the synthetic camera the parent frame is
the scene's table frame (z up, table top at z = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .synthetic import OPTICAL_IN_LINK

__all__ = ["CameraMount", "T_LINK_OPTICAL", "rpy_to_matrix", "matrix_to_rpy"]

#: T_link<-optical (no translation: the optical frame sits at the colour lens).
T_LINK_OPTICAL = np.eye(4)
T_LINK_OPTICAL[:3, :3] = OPTICAL_IN_LINK


def rpy_to_matrix(xyz, rpy) -> np.ndarray:
    """4x4 transform from a translation (m) and fixed-axis roll, pitch, yaw (rad)."""
    xyz, rpy = np.asarray(xyz, float).reshape(-1), np.asarray(rpy, float).reshape(-1)
    if xyz.shape != (3,) or rpy.shape != (3,) or not np.isfinite(np.r_[xyz, rpy]).all():
        raise ValueError(f"mount xyz and rpy must be 3 finite numbers each, got {xyz} and {rpy}")
    T = np.eye(4)
    T[:3, :3] = Rotation.from_euler("xyz", rpy).as_matrix()  # extrinsic x, y, z
    T[:3, 3] = xyz
    return T


def matrix_to_rpy(T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(xyz, rpy) of a 4x4 transform (inverse of :func:`rpy_to_matrix`)."""
    T = np.asarray(T, float)
    return T[:3, 3].copy(), Rotation.from_matrix(T[:3, :3]).as_euler("xyz")


@dataclass(frozen=True)
class CameraMount:
    """T_parent<-link of a camera and the frame names around it."""

    parent_frame: str
    T_parent_link: np.ndarray
    name: str = "camera"

    @property
    def link_frame(self) -> str:
        return f"{self.name}_link"

    @property
    def optical_frame(self) -> str:
        return f"{self.name}_color_optical_frame"

    @property
    def T_parent_optical(self) -> np.ndarray:
        return self.T_parent_link @ T_LINK_OPTICAL

    def transforms(self) -> list[tuple[str, str, np.ndarray]]:
        """(parent, child, T_parent<-child) of the two static transforms."""
        return [(self.parent_frame, self.link_frame, self.T_parent_link),
                (self.link_frame, self.optical_frame, T_LINK_OPTICAL)]

    @classmethod
    def from_xyz_rpy(cls, parent_frame: str, xyz, rpy, name: str = "camera") -> "CameraMount":
        return cls(parent_frame, rpy_to_matrix(xyz, rpy), name)

    @classmethod
    def from_calibration_file(cls, path: str | Path, name: str = "camera") -> "CameraMount":
        """The mount from a calibration file, read by the package's one reader
        (:func:`graspnet_ros.calibration.result.read_calibration`): an eye-to-hand result
        (parent = robot base) or a hand-written ``parent_frame`` / ``child_frame`` /
        ``matrix``. An eye-in-hand result moves with the arm: it is not a fixed mount."""
        from ..calibration.result import read_calibration

        calib = read_calibration(path)
        if calib.mode != "eye-to-hand":
            raise ValueError(f"{path}: an {calib.mode} calibration (T_flange<-camera) moves with the arm; "
                             "a fixed camera mount needs an eye-to-hand one")
        T = np.asarray(calib.transform, dtype=float)
        child = calib.child_frame
        mount = cls(calib.parent_frame, T, name)
        if child == mount.optical_frame:
            return cls(mount.parent_frame, T @ np.linalg.inv(T_LINK_OPTICAL), name)
        if child != mount.link_frame:
            raise ValueError(f"{path}: child_frame '{child}' must be '{mount.link_frame}' or "
                             f"'{mount.optical_frame}' (camera name '{name}')")
        return mount
