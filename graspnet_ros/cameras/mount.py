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
        """Read a calibration YAML (see the module docstring)."""
        import yaml

        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"camera calibration file not found: {path}")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict) or "parent_frame" not in data:
            raise ValueError(f"{path}: needs 'parent_frame', 'child_frame' and 'matrix' "
                             "(or 'translation' + 'rotation' [qx, qy, qz, qw])")
        if "matrix" in data:
            T = np.asarray(data["matrix"], dtype=float)
            if T.shape != (4, 4):
                raise ValueError(f"{path}: 'matrix' must be 4x4, got {T.shape}")
        elif "translation" in data and "rotation" in data:
            T = np.eye(4)
            q = np.asarray(data["rotation"], float)
            if q.shape != (4,) or not np.linalg.norm(q) > 0:
                raise ValueError(f"{path}: 'rotation' must be a quaternion [qx, qy, qz, qw]")
            T[:3, :3] = Rotation.from_quat(q / np.linalg.norm(q)).as_matrix()
            T[:3, 3] = np.asarray(data["translation"], float).reshape(3)
        else:
            raise ValueError(f"{path}: needs 'matrix' or 'translation' + 'rotation'")
        R = T[:3, :3]
        if not np.isfinite(T).all() or np.abs(R.T @ R - np.eye(3)).max() > 1e-4 or np.linalg.det(R) < 0:
            raise ValueError(f"{path}: the transform is not a finite rigid transform")
        child = str(data.get("child_frame", f"{name}_link"))
        mount = cls(str(data["parent_frame"]), T, name)
        if child == mount.optical_frame:
            return cls(mount.parent_frame, T @ np.linalg.inv(T_LINK_OPTICAL), name)
        if child != mount.link_frame:
            raise ValueError(f"{path}: child_frame '{child}' must be '{mount.link_frame}' or "
                             f"'{mount.optical_frame}' (camera name '{name}')")
        return mount
