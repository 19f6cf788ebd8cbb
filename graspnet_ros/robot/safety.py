"""Safety checks run on a grasp before the arm moves.

Everything is in the robot base frame (metres, z up, the table top at
``table_z``). A grasp is executed through a sequence of tool waypoints
(transit, pre-grasp, grasp, lift); the checks, vectorised over grasps:

* gripper width: the grasp's opening must not exceed the gripper's maximum;
* approach direction: the angle between the approach vector (GraspNet x) and
  straight down (-z) must be at most ``max_approach_angle`` (so never from
  below the table);
* workspace: every TCP position along the path through the waypoints
  (straight lines, orientation interpolated by slerp, as the drivers move),
  sampled every ``path_step`` m, must lie inside the workspace box and outside
  every forbidden zone, and within ``reach_radius`` of ``reach_center`` (and
  beyond ``min_reach``); so must every sample point of the gripper's body
  (``gripper_body``: boxes in the gripper frame at the fingertip centre,
  x = approach, y = closing, z = finger height, metres) at each of those
  poses;
* pre-grasp clearance: the core gripper model
  (:func:`graspnet_ros.gripper.check_collision`) placed at the pre-grasp pose
  must not collide with the latest point cloud. Without a cloud the check
  fails closed unless ``clearance.require_cloud`` is false.

Each refusal comes with a reason string naming the check and the numbers.
:meth:`SafetyChecker.check_motion` is also called on every single command by
the executor (from the measured tool pose to the target), so the arm is never
commanded outside the workspace even by a bug upstream, and reset/home moves
are checked like grasp moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision
from ..tool_frame import ToolFrame
from ..workspace import Workspace


#: Default gripper body (a 2-finger parallel gripper like the simulator's and a
#: Robotiq 2F-85): boxes in the gripper frame at the fingertip centre
#: (x = approach, y = closing, z = finger height), metres.
DEFAULT_GRIPPER_BODY = (
    Workspace((-0.055, -0.06, -0.01), (0.0, 0.06, 0.01), "fingers"),
    Workspace((-0.10, -0.065, -0.025), (-0.055, 0.065, 0.025), "palm"),
)


@dataclass(frozen=True)
class SafetyConfig:
    """Limits of the safety checks (metres, radians).

    require_cloud: with the clearance check enabled and no point cloud, refuse
    (True, the default) instead of skipping the check. gripper_body: boxes in
    the gripper frame at the fingertip centre (see the module docstring),
    sampled every ``body_step`` m (corners included) for the path checks.
    """

    workspace: Workspace = Workspace((-0.6, -0.6, 0.0), (0.6, 0.6, 0.7), "workspace")
    forbidden_zones: tuple[Workspace, ...] = ()
    reach_center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    reach_radius: float = 1.0
    min_reach: float = 0.0
    max_gripper_width: float = 0.1
    max_approach_angle: float = np.deg2rad(80.0)
    clearance: bool = True
    require_cloud: bool = True
    gripper_model: GripperModel = field(default_factory=GripperModel)
    path_step: float = 0.01
    gripper_body: tuple[Workspace, ...] = DEFAULT_GRIPPER_BODY
    body_step: float = 0.03

    def __post_init__(self) -> None:
        for box in (self.workspace, *self.forbidden_zones, *self.gripper_body):
            if not box.finite:  # an open side would switch a check off: fail closed
                raise ValueError(f"safety box '{box.name}': bounds must be finite (m), got "
                                 f"{list(box.lower)} .. {list(box.upper)}")
        for name in ("path_step", "body_step"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"safety.{name} must be a positive length (m), got {value}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "SafetyConfig":
        """From the ``safety`` section of ``config/executor.yaml``."""
        known = {"workspace", "forbidden_zones", "reach", "max_gripper_width",
                 "max_approach_angle_deg", "clearance", "path_step", "gripper_body", "body_step"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"unknown safety keys {sorted(unknown)}; known: {sorted(known)}")
        ws = Workspace.from_config(cfg["workspace"], "workspace") if "workspace" in cfg else cls.workspace
        zones = tuple(Workspace.from_config(z, f"zone{i}") for i, z in enumerate(cfg.get("forbidden_zones") or []))
        body = (DEFAULT_GRIPPER_BODY if cfg.get("gripper_body") is None else
                tuple(Workspace.from_config(b, f"body{i}") for i, b in enumerate(cfg["gripper_body"])))
        reach = dict(cfg.get("reach") or {})
        clearance = cfg.get("clearance", {"enabled": True})
        if isinstance(clearance, bool):
            clearance = {"enabled": clearance}
        clearance = dict(clearance)
        require_cloud = clearance.pop("require_cloud", True)
        if not isinstance(require_cloud, bool):
            raise ValueError(f"safety.clearance.require_cloud must be true or false, got {require_cloud!r}")
        model = GripperModel(**{k: v for k, v in clearance.items() if k != "enabled"})
        return cls(workspace=ws, forbidden_zones=zones,
                   reach_center=_xyz(reach.get("center", (0.0, 0.0, 0.0)), "reach.center"),
                   reach_radius=float(reach.get("radius", 1.0)), min_reach=float(reach.get("min_radius", 0.0)),
                   max_gripper_width=float(cfg.get("max_gripper_width", 0.1)),
                   max_approach_angle=np.deg2rad(float(cfg.get("max_approach_angle_deg", 80.0))),
                   clearance=bool(clearance.get("enabled", True)), require_cloud=require_cloud,
                   gripper_model=model, path_step=float(cfg.get("path_step", 0.01)),
                   gripper_body=body, body_step=float(cfg.get("body_step", 0.03)))


@dataclass
class SafetyReport:
    """Per-grasp verdicts: ``ok`` (N,) bool and ``reasons`` ('' when ok)."""

    ok: np.ndarray
    reasons: list[str]

    def first_reason(self) -> str:
        return next((r for r in self.reasons if r), "")


def _xyz(values: Any, name: str) -> tuple[float, float, float]:
    """Three floats (x, y, z in metres) from a config list; ValueError names the key otherwise."""
    v = [float(x) for x in values]
    if len(v) != 3:
        raise ValueError(f"safety.{name} must be 3 numbers (x, y, z in metres), got {values!r}")
    return v[0], v[1], v[2]


def _fmt(p: np.ndarray | tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in p) + ")"


def _box_samples(box: Workspace, step: float) -> np.ndarray:
    """(P, 3) grid points of a box, corners included, at most ``step`` m apart per axis."""
    lo, hi = np.asarray(box.lower), np.asarray(box.upper)
    axes = [np.linspace(a, b, max(2, int(np.ceil((b - a) / step)) + 1)) for a, b in zip(lo, hi)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


def _quat_xyzw(R: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(R.reshape(-1, 3, 3)).as_quat().reshape(*R.shape[:-2], 4)


def _slerp_matrices(q0: np.ndarray, q1: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., S, 3, 3) along the shortest arc from q0 to q1 (..., 4 xyzw) at s (S,)."""
    from scipy.spatial.transform import Rotation

    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))[..., None, :]  # (..., 1, 1)
    sin = np.sin(theta)
    ss = s[:, None]
    small = sin < 1e-6
    w0 = np.where(small, 1.0 - ss, np.sin((1.0 - ss) * theta) / np.where(small, 1.0, sin))
    w1 = np.where(small, ss, np.sin(ss * theta) / np.where(small, 1.0, sin))
    q = w0 * q0[..., None, :] + w1 * q1[..., None, :]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return Rotation.from_quat(q.reshape(-1, 4)).as_matrix().reshape(*q.shape[:-1], 3, 3)


class SafetyChecker:
    """Vectorised safety checks of grasps and their tool paths (base frame).

    tool: the robot's tool-frame convention; it places the gripper body
    (defined in the gripper frame at the fingertip centre) on a tool pose.
    """

    def __init__(self, config: SafetyConfig = SafetyConfig(), tool: ToolFrame | None = None) -> None:
        self.config = config
        tool = tool or ToolFrame.graspnet()
        parts = [_box_samples(b, config.body_step) for b in config.gripper_body]
        body_g = np.concatenate(parts) if parts else np.zeros((0, 3))
        #: (B, 3) body sample points in the tool frame; p_tool = R_G<-T^T (p_G + (tcp_offset, 0, 0))
        self.body_points = (body_g + np.array([tool.tcp_offset, 0.0, 0.0])) @ tool.rotation
        self.body_part = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]) if parts else \
            np.zeros(0, np.int64)

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
                              f"{_fmt(cfg.workspace.lower)} .. {_fmt(cfg.workspace.upper)}")
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
        return np.asarray(bad.any(axis=1)), out

    def check_motion(self, poses: np.ndarray, start: np.ndarray | None = None,
                     chunk: int = 8) -> tuple[np.ndarray, list[str]]:
        """Check tool motions through waypoint poses, gripper body included.

        poses: (N, K, 4, 4) T_base<-tool waypoints per motion, in execution
        order; start: optional (4, 4) current tool pose, prepended to every
        motion. Each segment is a straight TCP line with the orientation
        slerped, as the drivers move; it is sampled so that no body point moves
        more than ``path_step`` m between samples. Returns (N,) bool violation
        and reasons ('' when the motion is allowed).
        """
        P = np.asarray(poses, dtype=np.float64)
        if P.ndim != 4 or P.shape[-2:] != (4, 4):
            raise ValueError(f"poses must be (N, K, 4, 4), got shape {P.shape}")
        if not np.isfinite(P).all():
            raise ValueError("tool waypoints contain NaN or inf")
        if start is not None:
            S0 = np.broadcast_to(np.asarray(start, dtype=np.float64), (len(P), 1, 4, 4))
            P = np.concatenate([S0, P], axis=1)
        n = len(P)
        bad = np.zeros(n, dtype=bool)
        reasons = [""] * n
        if P.shape[1] < 2:
            P = np.concatenate([P, P], axis=1)
        for lo in range(0, n, chunk):
            b, r = self._check_motion_chunk(P[lo:lo + chunk])
            bad[lo:lo + chunk] = b
            reasons[lo:lo + chunk] = r
        return bad, reasons

    def _check_motion_chunk(self, P: np.ndarray) -> tuple[np.ndarray, list[str]]:
        cfg = self.config
        n, k = P.shape[:2]
        t0, t1 = P[:, :-1, :3, 3], P[:, 1:, :3, 3]  # (n, k-1, 3)
        q = _quat_xyzw(P[:, :, :3, :3])
        q0, q1 = q[:, :-1], q[:, 1:]
        radius = float(np.linalg.norm(self.body_points, axis=1).max(initial=0.0))
        angle = 2.0 * np.arccos(np.clip(np.abs(np.sum(q0 * q1, axis=-1)), 0.0, 1.0))
        travel = np.linalg.norm(t1 - t0, axis=-1) + angle * radius
        n_samples = max(2, int(np.ceil(travel.max(initial=0.0) / cfg.path_step)) + 1)
        s = np.linspace(0.0, 1.0, n_samples)
        tcp = t0[:, :, None, :] + s[None, None, :, None] * (t1 - t0)[:, :, None, :]  # (n, k-1, S, 3)
        R = _slerp_matrices(q0, q1, s)  # (n, k-1, S, 3, 3)
        tcp_flat = tcp.reshape(n, -1, 3)
        bad_tcp, tcp_reasons = self.pose_violation(tcp_flat.reshape(-1, 3))
        bad_tcp = bad_tcp.reshape(n, -1)
        body = np.einsum("nksij,bj->nksbi", R, self.body_points) + tcp[:, :, :, None, :]
        body_flat = body.reshape(n, -1, len(self.body_points), 3)
        outside = ~cfg.workspace.contains(body_flat)
        zone = np.full(outside.shape, -1)
        for i, z in enumerate(cfg.forbidden_zones):
            zone[(zone < 0) & z.contains(body_flat)] = i
        bad_body = outside | (zone >= 0)  # (n, samples, B)
        bad = bad_tcp.any(axis=1) | bad_body.any(axis=(1, 2))
        reasons = [""] * n
        parts = self.config.gripper_body
        for i in np.flatnonzero(bad):
            if bad_tcp[i].any():
                reasons[i] = tcp_reasons[i * tcp_flat.shape[1] + int(bad_tcp[i].argmax())]
                continue
            j, m = np.unravel_index(int(bad_body[i].reshape(-1).argmax()), bad_body[i].shape)
            p = body_flat[i, j, m]
            part = parts[int(self.body_part[m])].name
            where = (f"enters the forbidden zone '{cfg.forbidden_zones[zone[i, j, m]].name}'" if zone[i, j, m] >= 0
                     else f"is outside the workspace box {_fmt(cfg.workspace.lower)} .. {_fmt(cfg.workspace.upper)}")
            reasons[i] = (f"gripper body '{part}' point {_fmt(p)} m {where} (TCP at "
                          f"{_fmt(tcp_flat[i, j])} m)")
        return np.asarray(bad), reasons

    def check(self, grasps: GraspGroup, waypoints: np.ndarray, pre_grasp_distance: float,
              opening: np.ndarray | None = None, cloud: np.ndarray | None = None,
              start: np.ndarray | None = None) -> SafetyReport:
        """All checks for grasps in the base frame.

        grasps: N grasps (GraspNet convention) in the base frame.
        waypoints: (N, K, 4, 4) tool poses of each grasp's motion, in order
            (path and gripper body checked), or (N, K, 3) TCP positions (TCP only).
        pre_grasp_distance: m the pre-grasp pose backs off along the approach.
        opening: (N,) jaw opening the gripper will use (default: grasp widths).
        cloud: (M, 3) latest point cloud in the base frame; None (or empty)
            refuses every grasp when ``require_cloud`` is set, else skips the
            clearance check.
        start: current tool pose (4, 4) or TCP position (3,), the start of every path.
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
        w = np.asarray(waypoints, dtype=np.float64)
        if w.ndim == 4:
            bad_path, path_reasons = self.check_motion(w, start)
        else:
            bad_path, path_reasons = self.check_paths(w, None if start is None else np.asarray(start)[..., :3, 3]
                                                      if np.asarray(start).shape == (4, 4) else start)
        note(bad_path, lambda i: path_reasons[i])
        no_cloud = cloud is None or len(cloud) == 0
        if cfg.clearance and no_cloud and cfg.require_cloud:
            note(np.ones(n, bool), lambda i: "no point cloud for the pre-grasp clearance check (it fails closed; "
                                             "publish a cloud, or set safety.clearance.require_cloud: false)")
        if cfg.clearance and not no_cloud:
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


__all__ = ["DEFAULT_GRIPPER_BODY", "SafetyConfig", "SafetyReport", "SafetyChecker"]

