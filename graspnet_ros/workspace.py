"""The one axis-aligned box type: workspaces, no-go zones, gripper body parts (metres).

A :class:`Workspace` carries no frame of its own: whoever holds one says
which frame its bounds are in (the detector's crop box is in the cloud's
frame, the executor's workspace and no-go zones in the robot base frame,
the gripper body parts in the gripper frame, the evaluator's table box in
the table frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["Workspace"]


@dataclass(frozen=True)
class Workspace:
    """Points p with ``lower <= p <= upper`` (each axis, boundary included), metres.

    Bounds may be infinite (an open side); ``name`` appears in error messages.
    """

    lower: tuple[float, float, float] = (-np.inf, -np.inf, -np.inf)
    upper: tuple[float, float, float] = (np.inf, np.inf, np.inf)
    name: str = "workspace"

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.lower, float), np.asarray(self.upper, float)
        if lo.shape != (3,) or hi.shape != (3,) or np.isnan(lo).any() or np.isnan(hi).any():
            raise ValueError(f"{self.name}: lower and upper must be 3 numbers each (x, y, z in metres)")
        if (lo > hi).any():
            raise ValueError(f"{self.name}: lower bound {lo.tolist()} exceeds upper {hi.tolist()}")
        object.__setattr__(self, "lower", tuple(float(v) for v in lo))
        object.__setattr__(self, "upper", tuple(float(v) for v in hi))

    @classmethod
    def from_lists(cls, lower: Iterable[float | None], upper: Iterable[float | None],
                   name: str = "workspace") -> "Workspace":
        """From two 3-lists where NaN or None means unbounded (ROS parameters cannot hold inf)."""
        def fix(values: Iterable[float | None], inf: float) -> tuple[float, float, float]:
            out = tuple(inf if (v is None or not np.isfinite(v)) else float(v) for v in values)
            return out  # type: ignore[return-value]
        return cls(fix(lower, -np.inf), fix(upper, np.inf), name)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], name: str) -> "Workspace":
        """From a config mapping ``{min: [x, y, z], max: [x, y, z], name: ...}`` with finite bounds."""
        if "min" not in cfg or "max" not in cfg:
            raise ValueError(f"box '{name}' needs 'min' and 'max' (3 numbers each, metres)")
        box = cls(tuple(map(float, cfg["min"])), tuple(map(float, cfg["max"])),  # type: ignore[arg-type]
                  str(cfg.get("name", name)))
        if not box.finite:
            raise ValueError(f"box '{box.name}': min and max must be 3 finite numbers (m)")
        return box

    @property
    def finite(self) -> bool:
        return bool(np.isfinite(self.lower).all() and np.isfinite(self.upper).all())

    def bounds(self) -> np.ndarray:
        """(2, 3) float64 [[xmin, ymin, zmin], [xmax, ymax, zmax]]."""
        return np.array([self.lower, self.upper], dtype=np.float64)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(...,) bool: points (..., 3) inside the box (boundary included)."""
        p = np.asarray(points)
        inside = np.ones(p.shape[:-1], dtype=bool)
        for k in range(3):  # per axis: 3x faster than .all(axis=-1) over an (N, 3) mask
            inside &= (p[..., k] >= self.lower[k]) & (p[..., k] <= self.upper[k])
        return inside
