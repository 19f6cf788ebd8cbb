"""Multi-view accumulation for a live detector: the last N clouds of a moving camera, each
placed by its pose at capture time, merged in the newest view's camera frame (ROS-free).

An eye-in-hand camera sees each object from one side per frame; clouds taken from several
known poses (TF: ``T_fixed<-camera`` at each frame's stamp) fill in the other sides. The
detector node (``fusion.*`` parameters) feeds every input cloud here and detects on
:meth:`ViewAccumulator.fused`, in the newest cloud's frame and stamp, so the grasps (and the
workspace box and ``segmentation.up``, given in the input frame) keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..calibration.poses import check_transforms
from ..cameras.geometry import voxel_downsample
from .cloud import finite_points

__all__ = ["ViewAccumulator"]


@dataclass
class _View:
    stamp: float  # s
    T_fixed_cam: np.ndarray  # (4, 4) m
    points: np.ndarray  # (M, 3) float32, camera frame, m


class ViewAccumulator:
    """The last ``views`` clouds within ``max_age`` s of the newest one.

    voxel: each cloud is voxel-downsampled (m, 0 = off) when added, which bounds memory.
    """

    def __init__(self, views: int, max_age: float = 10.0, voxel: float = 0.0) -> None:
        if views < 1 or not max_age > 0 or voxel < 0:
            raise ValueError(f"views must be >= 1, max_age > 0 s and voxel >= 0 m; got {views}, {max_age}, {voxel}")
        self.views, self.max_age, self.voxel = int(views), float(max_age), float(voxel)
        self._views: list[_View] = []

    def __len__(self) -> int:
        return len(self._views)

    def add(self, points: np.ndarray, T_fixed_cam: np.ndarray, stamp: float) -> None:
        """Add a cloud: points (..., 3) in its camera frame (m, NaN rows dropped), the camera's pose
        T_fixed<-camera (4x4, m) when it was captured, at ``stamp`` s. A cloud with the stamp of
        one already held is the same capture delivered again: it replaces that view."""
        T = check_transforms(T_fixed_cam, "camera pose T_fixed<-camera").reshape(4, 4)
        pts = voxel_downsample(finite_points(points), self.voxel)
        self._views = [v for v in self._views if v.stamp != float(stamp)]
        self._views.append(_View(float(stamp), T, pts))
        self._views.sort(key=lambda v: v.stamp)
        newest = self._views[-1].stamp
        self._views = [v for v in self._views if newest - v.stamp <= self.max_age][-self.views:]

    def fused(self) -> tuple[np.ndarray, float]:
        """(points (M, 3) float32 in the NEWEST view's camera frame (m), its stamp s)."""
        if not self._views:
            raise ValueError("no view accumulated yet")
        ref = self._views[-1]
        T_ref_fixed = np.linalg.inv(ref.T_fixed_cam)
        parts = []
        for v in self._views:
            T = T_ref_fixed @ v.T_fixed_cam  # T_ref<-cam_v
            parts.append((v.points @ T[:3, :3].T + T[:3, 3]).astype(np.float32))
        return np.concatenate(parts), ref.stamp
