"""Parameters of the annotation pipeline (paper section 3.3) in one dataclass.

Every length is in metres, every angle in radians. The defaults reproduce
the GraspNet-1Billion label layout: V = 300 approach views, A = 12 in-plane
angles k * pi / A, D = 4 gripper depths 0.01 ... 0.04 m, friction
coefficients mu = 0.1 ... 1.0, and the benchmark's simplified gripper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dataset.layout import DEPTHS
from ..force_closure import ANNOTATION_MUS
from ..gripper import GripperModel
from ..grasp import rotation_from_approach
from ..views import fibonacci_views


@dataclass(frozen=True)
class AnnotationSettings:
    """What the annotator samples, how it chooses widths and how it scores.

    Candidates: ``num_views`` Fibonacci views x ``num_angles`` in-plane angles
    x the first ``num_depths`` of ``layout.DEPTHS``. Grasp points: one surface
    point per occupied ``grasp_point_voxel`` cube. Gripper checks run against
    the object's surface points at ``geometry_voxel`` spacing (scene checks:
    every other object at ``scene_voxel`` plus a table grid at
    ``table_spacing``). Widths: the smallest opening clearing the points
    between the jaws plus ``width_margin``, capped at ``max_width``.
    Tolerance (graspnet-baseline's GAF label): radii 0, step, ..., radius;
    a neighbour is positive when 0 < mu <= ``tolerance_mu``; a radius is
    kept while at least ``tolerance_ratio`` of the ball is positive.
    ``use_numba`` picks the compiled kernels when numba is installed (same
    labels as the numpy kernels, about 5x faster).
    """

    num_views: int = 300
    num_angles: int = 12
    num_depths: int = 4
    grasp_point_voxel: float = 0.005
    geometry_voxel: float = 0.005
    #: dense surface samples per voxel face area before voxel down-sampling
    oversampling: float = 16.0
    max_width: float = 0.1
    width_margin: float = 0.01
    mus: tuple[float, ...] = tuple(float(m) for m in ANNOTATION_MUS)
    gripper: GripperModel = field(default_factory=GripperModel)
    scene_voxel: float = 0.005
    table_spacing: float = 0.008
    table_thickness: float = 0.05
    #: table grid margin around the objects' footprint, m
    table_margin: float = 0.1
    tolerance_radius: float = 0.05
    tolerance_step: float = 0.001
    tolerance_mu: float = 0.55
    tolerance_ratio: float = 0.8
    seed: int = 0
    #: grasp points whose candidates are force-closure tested in one ray batch
    points_per_batch: int = 64
    #: compress the label files (zip deflate level 1); the real dataset is compressed
    compress: bool = True
    #: use the numba-compiled kernels when numba is installed (numpy kernels otherwise)
    use_numba: bool = True

    def __post_init__(self) -> None:
        for name in ("num_views", "num_angles", "num_depths", "points_per_batch"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"AnnotationSettings.{name} must be a positive integer, "
                                 f"got {getattr(self, name)}")
        if self.num_depths > len(DEPTHS):
            raise ValueError(f"num_depths={self.num_depths}: at most {len(DEPTHS)} depths "
                             f"({list(DEPTHS)} m) are defined by the layout")
        for name in ("grasp_point_voxel", "geometry_voxel", "scene_voxel", "table_spacing",
                     "max_width", "tolerance_step", "oversampling"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"AnnotationSettings.{name} must be > 0 (metres), "
                                 f"got {getattr(self, name)}")
        for name in ("width_margin", "table_thickness", "table_margin", "tolerance_radius"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"AnnotationSettings.{name} must be >= 0 (metres), "
                                 f"got {getattr(self, name)}")
        if self.width_margin >= self.max_width:
            raise ValueError(f"width_margin {self.width_margin} m must be below max_width "
                             f"{self.max_width} m")
        if len(self.mus) == 0 or min(self.mus) <= 0:
            raise ValueError(f"mus must be a non-empty list of positive friction coefficients, "
                             f"got {self.mus}")
        if not 0 < self.tolerance_ratio <= 1:
            raise ValueError(f"tolerance_ratio must be in (0, 1], got {self.tolerance_ratio}")

    # -- derived quantities ------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """(V, A, D) of the per-point label blocks."""
        return (self.num_views, self.num_angles, self.num_depths)

    @property
    def angles(self) -> np.ndarray:
        """(A,) in-plane angles k * pi / A, rad."""
        return np.arange(self.num_angles) * np.pi / self.num_angles

    @property
    def depths(self) -> np.ndarray:
        """(D,) gripper depths, m."""
        return DEPTHS[: self.num_depths].astype(np.float64)

    @property
    def views(self) -> np.ndarray:
        """(V, 3) label view vectors (unit, pointing away from the object)."""
        return fibonacci_views(self.num_views)

    @property
    def view_frames(self) -> np.ndarray:
        """(V, 3, 3) gripper rotations at angle 0 for approach = -view (columns x, y0, z0)."""
        return rotation_from_approach(-self.views, np.zeros(self.num_views))

    @property
    def reach(self) -> float:
        """Radius (m) around a grasp point containing every gripper region at any width."""
        g = self.gripper
        x = max(g.depth_base + g.finger_width, float(self.depths[-1]))
        return float(np.sqrt(x ** 2 + (self.max_width / 2 + g.finger_width) ** 2 + (g.height / 2) ** 2))
