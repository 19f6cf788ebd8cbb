"""Safety checks run on a grasp before the arm moves.

Everything is in the robot base frame (metres, z up, the table top at
``table_z``). A grasp is executed through a sequence of tool waypoints
(transit, pre-grasp, grasp, lift); the checks, vectorised over grasps:

* gripper width: the grasp's opening must not exceed the gripper's maximum;
* approach direction: the angle between the approach vector (GraspNet x) and
  straight down (-z) must be at most ``max_approach_angle`` (so never from
  below the table);
* workspace: every TCP position along the straight path through the
  waypoints, sampled every ``path_step`` m, must lie inside the workspace box
  and outside every forbidden zone, and within ``reach_radius`` of
  ``reach_center`` (and beyond ``min_reach``);
* pre-grasp clearance: the core gripper model
  (:func:`graspnet_ros.gripper.check_collision`) placed at the pre-grasp pose
  must not collide with the latest point cloud.

Each refusal comes with a reason string naming the check and the numbers.
:meth:`SafetyChecker.check_pose` is also called on every single command by
the executor, so the arm is never commanded outside the workspace even by a
bug upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in the base frame: ``lo`` <= p <= ``hi`` (m)."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]
    name: str = "box"

    def __post_init__(self) -> None:
        lo, hi = np.asarray(self.lo, float), np.asarray(self.hi, float)
        if lo.shape != (3,) or hi.shape != (3,) or not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            raise ValueError(f"box '{self.name}': min and max must be 3 finite numbers (m)")
        if (lo > hi).any():
            raise ValueError(f"box '{self.name}': min {lo.tolist()} exceeds max {hi.tolist()}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], name: str) -> "Box":
        if "min" not in cfg or "max" not in cfg:
            raise ValueError(f"box '{name}' needs 'min' and 'max' (3 numbers each, metres, base frame)")
        return cls(tuple(map(float, cfg["min"])), tuple(map(float, cfg["max"])), str(cfg.get("name", name)))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(...,) bool: points (..., 3) inside the box (boundary included)."""
        return ((points >= np.asarray(self.lo)) & (points <= np.asarray(self.hi))).all(axis=-1)


@dataclass(frozen=True)
class SafetyConfig:
    """Limits of the safety checks (metres, radians)."""

    workspace: Box = Box((-0.6, -0.6, 0.0), (0.6, 0.6, 0.7), "workspace")
    forbidden_zones: tuple[Box, ...] = ()
    reach_center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    reach_radius: float = 1.0
    min_reach: float = 0.0
    max_gripper_width: float = 0.1
    max_approach_angle: float = np.deg2rad(80.0)
    clearance: bool = True
    gripper_model: GripperModel = field(default_factory=GripperModel)
    path_step: float = 0.01

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "SafetyConfig":
        """From the ``safety`` section of ``config/executor.yaml``."""
        known = {"workspace", "forbidden_zones", "reach", "max_gripper_width",
                 "max_approach_angle_deg", "clearance", "path_step"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"unknown safety keys {sorted(unknown)}; known: {sorted(known)}")
        ws = Box.from_config(cfg["workspace"], "workspace") if "workspace" in cfg else cls.workspace
        zones = tuple(Box.from_config(z, f"zone{i}") for i, z in enumerate(cfg.get("forbidden_zones") or []))
        reach = dict(cfg.get("reach") or {})
        clearance = cfg.get("clearance", {"enabled": True})
        if isinstance(clearance, bool):
            clearance = {"enabled": clearance}
        model = GripperModel(**{k: v for k, v in clearance.items() if k != "enabled"})
        return cls(workspace=ws, forbidden_zones=zones,
                   reach_center=tuple(map(float, reach.get("center", (0.0, 0.0, 0.0)))),
                   reach_radius=float(reach.get("radius", 1.0)), min_reach=float(reach.get("min_radius", 0.0)),
                   max_gripper_width=float(cfg.get("max_gripper_width", 0.1)),
                   max_approach_angle=np.deg2rad(float(cfg.get("max_approach_angle_deg", 80.0))),
                   clearance=bool(clearance.get("enabled", True)), gripper_model=model,
                   path_step=float(cfg.get("path_step", 0.01)))


@dataclass
class SafetyReport:
    """Per-grasp verdicts: ``ok`` (N,) bool and ``reasons`` ('' when ok)."""

    ok: np.ndarray
    reasons: list[str]

    def first_reason(self) -> str:
        return next((r for r in self.reasons if r), "")


def _fmt(p: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in p) + ")"


class SafetyChecker:
    """Vectorised safety checks of grasps and their tool paths (base frame)."""

    def __init__(self, config: SafetyConfig = SafetyConfig()) -> None:
        self.config = config

    # -- single poses -------------------------------------------------------
    def pose_violation(self, positions: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(N,) bool "violates" and reasons for TCP positions (N, 3) in the base frame."""
        cfg = self.config
        p = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        outside = ~cfg.workspace.contains(p)
        dist = np.linalg.norm(p - np.asarray(cfg.reach_center), axis=1)
        too_far, too_near = dist > cfg.reach_radius, dist < cfg.min_reach
        zone = np.full(len(p), -1)
        for i, z in enumerate(cfg.forbidden_zones):
            zone[(zone < 0) & z.contains(p)] = i
        bad = outside | too_far | too_near | (zone >= 0)
        reasons = [""] * len(p)
        for i in np.flatnonzero(bad):
            if outside[i]:
                reasons[i] = (f"TCP position {_fmt(p[i])} m is outside the workspace box "
                              f"{_fmt(cfg.workspace.lo)} .. {_fmt(cfg.workspace.hi)}")
            elif zone[i] >= 0:
                reasons[i] = (f"TCP position {_fmt(p[i])} m enters the forbidden zone "
                              f"'{cfg.forbidden_zones[zone[i]].name}'")
            elif too_far[i]:
                reasons[i] = (f"TCP position {_fmt(p[i])} m is out of reach: {dist[i]:.3f} m from the "
                              f"arm base, limit {cfg.reach_radius:.3f} m")
            else:
                reasons[i] = (f"TCP position {_fmt(p[i])} m is too close to the arm base: {dist[i]:.3f} m "
                              f"< {cfg.min_reach:.3f} m")
        return bad, reasons

    def check_pose(self, pose: np.ndarray) -> str:
        """Reason a single tool pose must not be commanded ('' if allowed)."""
        return self.pose_violation(np.asarray(pose)[:3, 3][None])[1][0]

    # -- grasps --------------------------------------------------------------
    def check_paths(self, waypoints: np.ndarray, start: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
        """Check straight TCP paths through waypoints.

        waypoints: (N, K, 3) TCP positions per grasp, in execution order;
        start: optional (3,) current TCP position, prepended to every path.
        Returns (N,) bool violation and reasons.
        """
        w = np.asarray(waypoints, dtype=np.float64)
        if start is not None:
            w = np.concatenate([np.broadcast_to(np.asarray(start, float), (len(w), 1, 3)), w], axis=1)
        seg = np.diff(w, axis=1)  # (N, K-1, 3)
        n_samples = max(2, int(np.ceil(np.linalg.norm(seg, axis=2).max(initial=0.0) / self.config.path_step)) + 1)
        s = np.linspace(0.0, 1.0, n_samples)
        samples = w[:, :-1, None, :] + s[None, None, :, None] * seg[:, :, None, :]  # (N, K-1, S, 3)
        flat = samples.reshape(len(w), -1, 3)
        bad, reasons = self.pose_violation(flat.reshape(-1, 3))
        bad = bad.reshape(len(w), -1)
        first = bad.argmax(axis=1)
        out = [reasons[i * flat.shape[1] + first[i]] if bad[i].any() else "" for i in range(len(w))]
        return bad.any(axis=1), out

    def check(self, grasps: GraspGroup, waypoints: np.ndarray, pre_grasp_distance: float,
              opening: np.ndarray | None = None, cloud: np.ndarray | None = None,
              start: np.ndarray | None = None) -> SafetyReport:
        """All checks for grasps in the base frame.

        grasps: N grasps (GraspNet convention) in the base frame.
        waypoints: (N, K, 3) TCP positions of each grasp's motion, in order.
        pre_grasp_distance: m the pre-grasp pose backs off along the approach.
        opening: (N,) jaw opening the gripper will use (default: grasp widths).
        cloud: (M, 3) latest point cloud in the base frame, or None to skip the
            clearance check (it is then reported as skipped, not passed).
        start: current TCP position (3,), the start of every path.
        """
        cfg = self.config
        n = len(grasps)
        opening = grasps.widths if opening is None else np.asarray(opening, float).reshape(n)
        reasons = [""] * n

        def note(mask: np.ndarray, make) -> None:
            for i in np.flatnonzero(mask):
                if not reasons[i]:
                    reasons[i] = make(i)

        note(grasps.widths > cfg.max_gripper_width + 1e-9,
             lambda i: f"grasp width {grasps.widths[i]:.3f} m exceeds the gripper's maximum opening "
                       f"{cfg.max_gripper_width:.3f} m")
        angle = np.arccos(np.clip(-grasps.approaches[:, 2], -1.0, 1.0))
        note(angle > cfg.max_approach_angle + 1e-9,
             lambda i: f"approach direction {_fmt(grasps.approaches[i])} is {np.rad2deg(angle[i]):.0f} deg "
                       f"from straight down, limit {np.rad2deg(cfg.max_approach_angle):.0f} deg "
                       + ("(it comes from below the table)" if grasps.approaches[i, 2] > 0 else ""))
        bad_path, path_reasons = self.check_paths(waypoints, start)
        note(bad_path, lambda i: path_reasons[i])
        if cfg.clearance and cloud is not None and len(cloud):
            pending = np.flatnonzero([not r for r in reasons])
            if len(pending):
                pre = grasps[pending]
                arr = pre.array.copy()
                arr[:, 13:16] -= pre_grasp_distance * pre.approaches
                arr[:, 1] = opening[pending]
                result = check_collision(GraspGroup(arr, frame_id=grasps.frame_id, validate=False),
                                         np.asarray(cloud, float), cfg.gripper_model)
                hit = np.zeros(n, bool)
                hit[pending[result.collision]] = True
                note(hit, lambda i: f"pre-grasp pose ({pre_grasp_distance:.3f} m back along the approach) "
                                    "collides with the latest point cloud")
        ok = np.array([not r for r in reasons], dtype=bool)
        return SafetyReport(ok, reasons)


__all__ = ["Box", "SafetyConfig", "SafetyReport", "SafetyChecker"]

