"""Conversion between the GraspNet gripper frame and a robot's tool frame.

GraspNet gripper frame (G): origin at the grasp point t, x = approach,
y = jaw closing axis, z = x cross y; the fingertip centre sits ``depth``
metres along x from t.

A robot tool frame (T) is defined by two constants of the physical gripper:

* ``rotation``: R_G<-T, the tool axes expressed in the gripper frame
  (column i is tool axis i). For the common "z = approach, y = closing"
  convention (Franka hand, Robotiq 2F on most URDFs) this is
  ``[[0, 0, 1], [0, 1, 0], [-1, 0, 0]]``.
* ``tcp_offset``: metres from the fingertip centre back along the approach
  axis to the tool-frame origin (0 when the robot's TCP is defined at the
  fingertips; e.g. about 0.1034 m for the flange of a Franka hand).

Then the tool pose for a grasp is::

    T_frame<-tool = T_frame<-G  @  [R_G<-T | (depth - tcp_offset, 0, 0)]

This module is the one place where that matrix is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .grasp import GraspGroup

Z_APPROACH_ROTATION = np.array([[0.0, 0.0, 1.0],
                                [0.0, 1.0, 0.0],
                                [-1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class ToolFrame:
    """A robot tool-frame convention relative to the GraspNet gripper frame."""

    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    tcp_offset: float = 0.0
    name: str = "graspnet"

    def __post_init__(self) -> None:
        R = np.asarray(self.rotation, dtype=np.float64)
        if R.shape != (3, 3) or not np.isfinite(R).all():
            raise ValueError(f"tool rotation must be a finite 3x3 matrix, got shape {R.shape}")
        if np.abs(R.T @ R - np.eye(3)).max() > 1e-6 or np.linalg.det(R) < 0:
            raise ValueError(f"tool rotation of '{self.name}' is not a proper rotation")
        if not np.isfinite(self.tcp_offset):
            raise ValueError("tcp_offset must be finite (metres)")
        object.__setattr__(self, "rotation", R)

    @classmethod
    def graspnet(cls) -> "ToolFrame":
        """Identity: the tool frame is the GraspNet frame at the fingertip centre."""
        return cls(np.eye(3), 0.0, "graspnet")

    @classmethod
    def z_approach(cls, tcp_offset: float = 0.0, name: str = "z_approach") -> "ToolFrame":
        """Tool z = approach, y = closing axis, x = y cross z."""
        return cls(Z_APPROACH_ROTATION, tcp_offset, name)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "ToolFrame":
        """From a config mapping: ``convention`` (graspnet | z_approach | matrix),
        ``rotation`` (3x3 list, with ``matrix``) and ``tcp_offset`` (m)."""
        convention = cfg.get("convention", "z_approach")
        offset = float(cfg.get("tcp_offset", 0.0))
        if convention == "graspnet":
            return cls(np.eye(3), offset, "graspnet")
        if convention == "z_approach":
            return cls.z_approach(offset)
        if convention == "matrix":
            if "rotation" not in cfg:
                raise ValueError("tool frame convention 'matrix' needs a 3x3 'rotation' entry")
            return cls(np.asarray(cfg["rotation"], dtype=np.float64), offset, "matrix")
        raise ValueError(
            f"unknown tool frame convention '{convention}'; use graspnet, z_approach or matrix")

    def grasp_to_tool_offsets(self, depths: np.ndarray) -> np.ndarray:
        """(N, 4, 4) transforms T_G<-tool for grasps of the given depths (m)."""
        depths = np.asarray(depths, dtype=np.float64).reshape(-1)
        out = np.zeros((len(depths), 4, 4))
        out[:, :3, :3] = self.rotation
        out[:, 0, 3] = depths - self.tcp_offset
        out[:, 3, 3] = 1.0
        return out


def grasp_to_tool_poses(grasps: GraspGroup, tool: ToolFrame) -> np.ndarray:
    """Tool poses (N, 4, 4) in ``grasps.frame_id`` that realise each grasp."""
    return grasps.poses() @ tool.grasp_to_tool_offsets(grasps.depths)


def tool_poses_to_grasps(tool_poses: np.ndarray, tool: ToolFrame, depths: np.ndarray,
                         widths: np.ndarray, scores: np.ndarray | float = 1.0,
                         frame_id: str = "camera") -> GraspGroup:
    """Inverse of :func:`grasp_to_tool_poses` for known depths and widths (m)."""
    tool_poses = np.asarray(tool_poses, dtype=np.float64).reshape(-1, 4, 4)
    grasp_poses = tool_poses @ np.linalg.inv(tool.grasp_to_tool_offsets(depths))
    return GraspGroup.from_components(grasp_poses[:, :3, :3], grasp_poses[:, :3, 3], widths,
                                      depths, scores, frame_id=frame_id)
