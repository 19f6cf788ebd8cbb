"""Hand-eye calibration: the camera's mount from robot flange poses and target poses.

Each sample pairs the robot's flange pose ``T_base<-flange`` (from the robot
controller) with the target's pose in the camera ``T_cam<-target`` (from
:mod:`graspnet_ros.calibration.detect`). Two set-ups:

- ``eye-in-hand``: camera on the arm, target fixed in the cell. Solves
  ``X = T_flange<-cam`` (and the fixed ``T_base<-target``).
- ``eye-to-hand``: camera fixed, target held by the arm. Solves
  ``X = T_base<-cam`` (and the fixed ``T_flange<-target``).

Both are ``G_i X C_i = Z`` for every sample i, with ``C_i = T_cam<-target``,
``G_i = T_base<-flange`` (eye-in-hand) or its inverse (eye-to-hand), and Z the
fixed target pose. OpenCV's ``calibrateHandEye`` methods (Tsai, Park, Horaud,
Andreff, Daniilidis) are run where the installed OpenCV has the function
(OpenCV 5.0 removed it); a closed-form Park-Martin solver in numpy is always
available (``park-numpy``), and the best closed-form result can be refined by
nonlinear least squares (``<method>+lm``). Every candidate is scored by its
residuals: per sample, the target pose predicted from the robot pose and the
solution is compared with the one observed, as a rotation error (degrees) and
a translation error (millimetres, camera frame).

Input is checked before solving: matching counts, at least ``min_samples``
poses, plausible units, enough rotation between poses, rotation axes that are
not all parallel (all rotations about one axis leave the mount's position
along that axis unobservable) and robot/target motions that correspond.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from .poses import check_transforms, invert, make_transform, mean_transform, pose_error, rotation_angle_deg

__all__ = ["MODES", "opencv_methods", "HandEyeLimits", "MethodResult", "HandEyeResult", "check_motion",
           "solve_hand_eye", "park_martin", "residuals"]

MODES = ("eye-in-hand", "eye-to-hand")
_CV_METHODS = {"tsai": "CALIB_HAND_EYE_TSAI", "park": "CALIB_HAND_EYE_PARK", "horaud": "CALIB_HAND_EYE_HORAUD",
               "andreff": "CALIB_HAND_EYE_ANDREFF", "daniilidis": "CALIB_HAND_EYE_DANIILIDIS"}
_MAX_TRANSLATION = 5.0  # m; larger poses almost surely are in millimetres


def opencv_methods() -> tuple[str, ...]:
    """Names of the OpenCV hand-eye methods the installed OpenCV provides (empty on OpenCV 5)."""
    if not hasattr(cv2, "calibrateHandEye"):
        return ()
    return tuple(name for name, const in _CV_METHODS.items() if hasattr(cv2, const))


@dataclass(frozen=True)
class HandEyeLimits:
    """Checks on the input and acceptance limits on the solution.

    min_samples: fewest pose pairs accepted (at least 3).
    min_rotation_deg: the largest rotation between any two robot poses must reach this.
    min_axis_angle_deg: the rotation axes of the robot's motions must spread by at
        least this angle (not all about one axis).
    max_rotation_mismatch_deg: largest accepted median difference between the
        rotation angle of a robot motion and of the matching camera motion
        (equal for correctly paired, correctly ordered data).
    max_rotation_rms_deg, max_translation_rms_mm: residual limits above which
        the solve is reported as failed (and is never saved).
    """

    min_samples: int = 3
    min_rotation_deg: float = 15.0
    min_axis_angle_deg: float = 15.0
    max_rotation_mismatch_deg: float = 1.0
    max_rotation_rms_deg: float = 0.5
    max_translation_rms_mm: float = 5.0

    def __post_init__(self) -> None:
        if int(self.min_samples) < 3:
            raise ValueError(f"min_samples must be at least 3 (hand-eye needs two independent motions), "
                             f"got {self.min_samples}")

    @classmethod
    def from_config(cls, cfg: dict | None) -> "HandEyeLimits":
        """From the ``handeye.limits`` section of calibration.yaml (missing keys keep defaults)."""
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown hand-eye limit keys: {', '.join(sorted(unknown))}")
        return cls(**cfg)


@dataclass(frozen=True)
class MethodResult:
    """One solver's answer: X (4x4, metres), residual statistics, or the error it raised."""

    name: str
    transform: np.ndarray | None
    rotation_rms_deg: float = float("nan")
    translation_rms_mm: float = float("nan")
    rotation_max_deg: float = float("nan")
    translation_max_mm: float = float("nan")
    score: float = float("inf")
    error: str = ""


@dataclass(frozen=True)
class HandEyeResult:
    """The chosen solution and the comparison of all methods.

    mode: eye-in-hand (transform = T_flange<-cam) or eye-to-hand (T_base<-cam).
    target_transform: the fixed target pose Z (T_base<-target, or T_flange<-target).
    method: name of the chosen method; methods: every candidate, best first.
    rotation_residuals_deg / translation_residuals_mm: per-sample residuals of
    the chosen solution. ok / failure: False and the reason when the residuals
    exceed the limits. warnings: hints (e.g. the other mode fits better).
    """

    mode: str
    transform: np.ndarray
    target_transform: np.ndarray
    method: str
    methods: tuple[MethodResult, ...]
    rotation_residuals_deg: np.ndarray
    translation_residuals_mm: np.ndarray
    rotation_spread_deg: float
    axis_spread_deg: float
    ok: bool = True
    failure: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_samples(self) -> int:
        return int(len(self.rotation_residuals_deg))

    @property
    def best(self) -> MethodResult:
        return self.methods[0]

    def table(self) -> str:
        """A plain-text table of every method's residuals, best first."""
        lines = [f"{'method':<16} {'rot rms':>8} {'rot max':>8} {'trans rms':>10} {'trans max':>10}",
                 f"{'':<16} {'(deg)':>8} {'(deg)':>8} {'(mm)':>10} {'(mm)':>10}"]
        for m in self.methods:
            if m.transform is None:
                lines.append(f"{m.name:<16} failed: {m.error}")
            else:
                mark = "  <- chosen" if m.name == self.method else ""
                lines.append(f"{m.name:<16} {m.rotation_rms_deg:8.3f} {m.rotation_max_deg:8.3f} "
                             f"{m.translation_rms_mm:10.2f} {m.translation_max_mm:10.2f}{mark}")
        return "\n".join(lines)


def _relative_motions(G: np.ndarray, C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairwise motions (A_ij, B_ij), i < j, with A X = X B."""
    i, j = np.triu_indices(len(G), k=1)
    A = invert(G[i]) @ G[j]
    B = C[i] @ invert(C[j])
    return A, B


def _gripper_side(T_base_flange: np.ndarray, mode: str) -> np.ndarray:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return T_base_flange if mode == "eye-in-hand" else invert(T_base_flange)


def check_motion(T_base_flange: np.ndarray, T_cam_target: np.ndarray,
                 limits: HandEyeLimits = HandEyeLimits()) -> tuple[float, float]:
    """Check hand-eye input; return (rotation spread, axis spread) in degrees.

    Raises ValueError with the problem and the fix: mismatched counts, too few
    poses, non-rigid matrices, millimetres instead of metres, too little
    rotation, all rotations about one axis, or robot and target motions that
    do not correspond (wrong pairing or order).
    """
    Tf = np.asarray(T_base_flange, dtype=np.float64)
    Tc = np.asarray(T_cam_target, dtype=np.float64)
    nf = len(Tf) if Tf.ndim == 3 else -1
    nc = len(Tc) if Tc.ndim == 3 else -1
    if nf != nc:
        raise ValueError(f"mismatched counts: {nf} robot poses but {nc} target poses; every robot pose needs "
                         f"the target pose observed at that moment (drop views where detection failed)")
    if nf < limits.min_samples:
        raise ValueError(f"{nf} pose pairs given, at least {limits.min_samples} well-spread poses are needed")
    Tf = check_transforms(Tf, "robot flange poses")
    Tc = check_transforms(Tc, "target poses")
    for what, T in (("robot flange", Tf), ("target", Tc)):
        far = np.linalg.norm(T[:, :3, 3], axis=1).max()
        if far > _MAX_TRANSLATION:
            raise ValueError(f"{what} translations reach {far:.1f} m: poses must be in metres (millimetres given?)")
    A, B = _relative_motions(Tf, Tc)
    angle_a = rotation_angle_deg(A[:, :3, :3])
    angle_b = rotation_angle_deg(B[:, :3, :3])
    spread = float(angle_a.max())
    if spread < limits.min_rotation_deg:
        raise ValueError(f"too small rotation spread: the robot poses differ by at most {spread:.1f} deg "
                         f"(at least {limits.min_rotation_deg:g} needed); tilt the flange 20-40 deg about "
                         f"different axes between poses")
    mismatch = float(np.median(np.abs(angle_a - angle_b)))
    if mismatch > limits.max_rotation_mismatch_deg:
        raise ValueError(f"robot and target motions do not correspond (median rotation mismatch {mismatch:.1f} deg): "
                         f"check that robot pose i belongs to image i, the order of both lists, and that the "
                         f"robot poses are flange poses in the base frame")
    rv = Rotation.from_matrix(A[:, :3, :3]).as_rotvec()
    big = np.linalg.norm(rv, axis=1) > np.deg2rad(max(2.0, 0.2 * limits.min_rotation_deg))
    axes = rv[big] / np.linalg.norm(rv[big], axis=1, keepdims=True)
    cos = np.clip(np.abs(axes @ axes.T), 0.0, 1.0)  # line angles: sign-agnostic
    axis_spread = float(np.degrees(np.arccos(cos.min()))) if len(axes) > 1 else 0.0
    if axis_spread < limits.min_axis_angle_deg:
        raise ValueError(f"degenerate robot motion: all rotations are about one axis (axes within "
                         f"{axis_spread:.1f} deg, at least {limits.min_axis_angle_deg:g} needed); the camera "
                         f"offset along that axis cannot be observed. Add poses rotated about other axes")
    return spread, axis_spread


def park_martin(G: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Closed-form ``X`` with ``G_i X C_i = const`` (Park and Martin 1994, numpy only).

    Rotation: the rotation that best maps camera motion axes onto robot motion
    axes (SVD); translation: linear least squares over all pose pairs.
    """
    A, B = _relative_motions(G, C)
    alpha = Rotation.from_matrix(A[:, :3, :3]).as_rotvec()
    beta = Rotation.from_matrix(B[:, :3, :3]).as_rotvec()
    U, _, Vt = np.linalg.svd(beta.T @ alpha)  # maximise sum alpha . (R beta)
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(Vt.T @ U.T))])
    R = Vt.T @ D @ U.T
    M = (A[:, :3, :3] - np.eye(3)).reshape(-1, 3)
    rhs = (np.einsum("ij,nj->ni", R, B[:, :3, 3]) - A[:, :3, 3]).reshape(-1)
    t = np.linalg.lstsq(M, rhs, rcond=None)[0]
    return make_transform(R, t)


def _opencv_solve(G: np.ndarray, C: np.ndarray, name: str) -> np.ndarray:
    R, t = cv2.calibrateHandEye(list(G[:, :3, :3]), list(G[:, :3, 3:4]), list(C[:, :3, :3]),
                                list(C[:, :3, 3:4]), method=getattr(cv2, _CV_METHODS[name]))
    X = make_transform(np.asarray(R), np.asarray(t).reshape(3))
    U, _, Vt = np.linalg.svd(X[:3, :3])  # re-orthonormalise (some methods drift slightly)
    X[:3, :3] = U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt
    return X


def residuals(G: np.ndarray, C: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample (rotation deg, translation mm) residuals of X, and the fitted Z.

    Z is the mean of ``G_i X C_i``; the residual compares the predicted target
    pose ``(G_i X)^-1 Z`` with the observed ``C_i`` in the camera frame.
    """
    Z = mean_transform(G @ X @ C)
    pred = invert(G @ X) @ Z
    rot, trans = pose_error(pred, C)
    return rot, trans * 1000.0, Z


def _score(rot_deg: np.ndarray, trans_mm: np.ndarray, lever_mm: float) -> tuple[float, float, float]:
    r = float(np.sqrt(np.mean(rot_deg ** 2)))
    t = float(np.sqrt(np.mean(trans_mm ** 2)))
    return r, t, float(np.hypot(t, np.deg2rad(r) * lever_mm))


def _refine(G: np.ndarray, C: np.ndarray, X0: np.ndarray, lever: float) -> np.ndarray:
    """Least-squares refinement of X and Z on all residuals (rotation scaled by ``lever`` metres)."""
    Z0 = mean_transform(G @ X0 @ C)

    def unpack(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = make_transform(Rotation.from_rotvec(p[:3]).as_matrix() @ X0[:3, :3], X0[:3, 3] + p[3:6])
        Z = make_transform(Rotation.from_rotvec(p[6:9]).as_matrix() @ Z0[:3, :3], Z0[:3, 3] + p[9:12])
        return X, Z

    def fun(p: np.ndarray) -> np.ndarray:
        X, Z = unpack(p)
        pred = invert(G @ X) @ Z
        dR = Rotation.from_matrix(np.swapaxes(pred[:, :3, :3], 1, 2) @ C[:, :3, :3]).as_rotvec()
        return np.concatenate([(dR * lever).ravel(), (pred[:, :3, 3] - C[:, :3, 3]).ravel()])

    sol = least_squares(fun, np.zeros(12), method="lm", x_scale=0.01)
    return unpack(sol.x)[0]


def solve_hand_eye(T_base_flange: np.ndarray, T_cam_target: np.ndarray, mode: str = "eye-in-hand",
                   methods: tuple[str, ...] | None = None, limits: HandEyeLimits = HandEyeLimits(),
                   refine: bool = True, check_other_mode: bool = True) -> HandEyeResult:
    """Solve hand-eye calibration from N pose pairs and compare methods.

    T_base_flange: (N, 4, 4) flange poses in the robot base frame, metres.
    T_cam_target: (N, 4, 4) target poses in the camera (optical) frame, metres.
    mode: "eye-in-hand" (returns T_flange<-cam) or "eye-to-hand" (T_base<-cam).
    methods: subset of ``opencv_methods() + ("park-numpy",)``; default all available.
    refine: also refine the best closed-form result by least squares.
    Raises ValueError for bad or degenerate input (see :func:`check_motion`) or
    when every method fails. A solution whose residuals exceed the limits is
    returned with ``ok=False`` and the reason in ``failure``.
    """
    spread, axis_spread = check_motion(T_base_flange, T_cam_target, limits)
    Tf = np.asarray(T_base_flange, dtype=np.float64)
    C = np.asarray(T_cam_target, dtype=np.float64)
    G = _gripper_side(Tf, mode)
    available = opencv_methods() + ("park-numpy",)
    names = available if methods is None else tuple(methods)
    unknown = [m for m in names if m not in available]
    if unknown:
        hint = "" if opencv_methods() else " (this OpenCV has no calibrateHandEye: only park-numpy)"
        raise ValueError(f"unknown or unavailable hand-eye methods {unknown}; available: {list(available)}{hint}")
    lever = 1000.0 * float(np.median(np.linalg.norm(C[:, :3, 3], axis=1)))  # mm
    candidates: list[MethodResult] = []

    def evaluate(name: str, X: np.ndarray) -> None:
        if not np.isfinite(X).all():
            candidates.append(MethodResult(name, None, error="non-finite solution"))
            return
        rot, trans, _ = residuals(G, C, X)
        r, t, s = _score(rot, trans, lever)
        candidates.append(MethodResult(name, X, r, t, float(rot.max()), float(trans.max()), s))

    for name in names:
        try:
            X = park_martin(G, C) if name == "park-numpy" else _opencv_solve(G, C, name)
        except (cv2.error, np.linalg.LinAlgError, ValueError) as exc:
            candidates.append(MethodResult(name, None, error=str(exc).strip().splitlines()[-1][:120]))
            continue
        evaluate(name, X)
    solved = [c for c in candidates if c.transform is not None]
    if not solved:
        raise ValueError("every hand-eye method failed: " + "; ".join(f"{c.name}: {c.error}" for c in candidates))
    if refine:
        start = min(solved, key=lambda c: c.score)
        evaluate(f"{start.name}+lm", _refine(G, C, start.transform, lever / 1000.0))
    ranked = tuple(sorted(candidates, key=lambda c: c.score))
    best = ranked[0]
    rot, trans, Z = residuals(G, C, best.transform)
    failure = ""
    if best.rotation_rms_deg > limits.max_rotation_rms_deg or best.translation_rms_mm > limits.max_translation_rms_mm:
        failure = (f"residuals too large: {best.rotation_rms_deg:.2f} deg / {best.translation_rms_mm:.1f} mm RMS "
                   f"(limits {limits.max_rotation_rms_deg:g} deg / {limits.max_translation_rms_mm:g} mm): "
                   f"check the mode, the intrinsics, the target size and that the robot was still at each sample")
    warnings: list[str] = []
    if failure and check_other_mode:
        other = MODES[1 - MODES.index(mode)]
        G2 = _gripper_side(Tf, other)
        rot2, trans2, _ = residuals(G2, C, park_martin(G2, C))
        if _score(rot2, trans2, lever)[2] < 0.3 * best.score:
            warnings.append(f"the data fit {other} much better than {mode}: check the mode")
    return HandEyeResult(mode, best.transform, Z, best.name, ranked, rot, trans, spread, axis_spread,
                         ok=not failure, failure=failure, warnings=tuple(warnings))
