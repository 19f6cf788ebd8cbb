"""Rigid-transform helpers and per-view camera poses from target observations.

All transforms are 4x4 homogeneous matrices in metres; ``T_a_b`` maps
points from frame b into frame a (the pose of b in a). Camera frames are
REP-103 optical frames; the table frame is the calibration target's frame
(:mod:`graspnet_ros.calibration.targets`: z out of the target, so z is up
when the target lies on the table).

GraspNet-1Billion's per-scene files: ``camera_poses.npy`` holds
``T_cam0<-cam_i`` for every frame i (identity for frame 0) and
``cam0_wrt_table.npy`` holds ``T_table<-cam0``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ._io import atomic_path

__all__ = ["check_transforms", "invert", "rotation_angle_deg", "pose_error", "mean_transform",
           "camera_poses_from_targets", "cam0_wrt_table", "save_camera_poses", "make_transform"]


def check_transforms(T: np.ndarray, what: str = "transforms", tol: float = 1e-4) -> np.ndarray:
    """Validate (4, 4) or (N, 4, 4) rigid transforms and return them as float64.

    Raises ValueError naming the problem: shape, non-finite values, a
    rotation block that is not orthonormal with determinant +1, or a bottom
    row that is not [0, 0, 0, 1].
    """
    T = np.asarray(T, dtype=np.float64)
    if T.shape[-2:] != (4, 4) or T.ndim not in (2, 3):
        raise ValueError(f"{what}: expected (4, 4) or (N, 4, 4) matrices, got shape {T.shape}")
    if not np.isfinite(T).all():
        raise ValueError(f"{what}: contains NaN or infinite values")
    Ts = T.reshape(-1, 4, 4)
    R = Ts[:, :3, :3]
    ortho = np.abs(R @ np.swapaxes(R, 1, 2) - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(R)
    bad = np.flatnonzero((ortho > tol) | (np.abs(det - 1) > tol))
    if len(bad):
        raise ValueError(f"{what}: entry {bad[0]} has a rotation block that is not a proper rotation "
                         f"(|R R^T - I| = {ortho[bad[0]]:.2g}, det = {det[bad[0]]:.4f})")
    if np.abs(Ts[:, 3] - [0.0, 0.0, 0.0, 1.0]).max() > tol:
        raise ValueError(f"{what}: bottom row must be [0, 0, 0, 1]")
    return T


def make_transform(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(…, 4, 4) transforms from (…, 3, 3) rotations and (…, 3) translations (metres)."""
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    T = np.zeros(R.shape[:-2] + (4, 4))
    T[..., :3, :3] = R
    T[..., :3, 3] = t
    T[..., 3, 3] = 1.0
    return T


def invert(T: np.ndarray) -> np.ndarray:
    """Inverse of (…, 4, 4) rigid transforms (exact, no general matrix inverse)."""
    T = np.asarray(T, dtype=np.float64)
    Rt = np.swapaxes(T[..., :3, :3], -1, -2)
    return make_transform(Rt, -(Rt @ T[..., :3, 3:4])[..., 0])


def rotation_angle_deg(R: np.ndarray) -> np.ndarray:
    """Rotation angle in degrees of (…, 3, 3) rotation matrices (robust near 0 and 180)."""
    R = np.asarray(R, dtype=np.float64)
    return np.degrees(Rotation.from_matrix(R.reshape(-1, 3, 3)).magnitude()).reshape(R.shape[:-2])


def pose_error(T_est: np.ndarray, T_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rotation error in degrees, translation error in metres) between (…, 4, 4) transforms."""
    T_est, T_true = np.asarray(T_est, dtype=np.float64), np.asarray(T_true, dtype=np.float64)
    dR = np.swapaxes(T_est[..., :3, :3], -1, -2) @ T_true[..., :3, :3]
    return rotation_angle_deg(dR), np.linalg.norm(T_est[..., :3, 3] - T_true[..., :3, 3], axis=-1)


def mean_transform(T: np.ndarray) -> np.ndarray:
    """Average of (N, 4, 4) transforms: chordal mean rotation (SVD projection), mean translation."""
    T = np.asarray(T, dtype=np.float64).reshape(-1, 4, 4)
    U, _, Vt = np.linalg.svd(T[:, :3, :3].sum(axis=0))
    D = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    return make_transform(U @ D @ Vt, T[:, :3, 3].mean(axis=0))


def camera_poses_from_targets(T_cam_target: np.ndarray) -> np.ndarray:
    """Per-view camera poses relative to the first view, ``T_cam0<-cam_i`` (N, 4, 4).

    T_cam_target: (N, 4, 4) pose of one fixed target in each view's camera.
    ``T_cam0<-cam_i = T_cam0<-target @ T_target<-cam_i``; entry 0 is identity.
    """
    T = check_transforms(T_cam_target, "T_cam_target").reshape(-1, 4, 4)
    if len(T) == 0:
        raise ValueError("no views: camera poses need at least one target observation")
    poses = T[0] @ invert(T)
    poses[0] = np.eye(4)
    return poses


def cam0_wrt_table(T_cam0_target: np.ndarray) -> np.ndarray:
    """``T_table<-cam0`` (4, 4): the first camera's pose in the table (= target) frame."""
    return invert(check_transforms(T_cam0_target, "T_cam0_target").reshape(4, 4))


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def save_camera_poses(directory: str | Path, T_cam_target: np.ndarray) -> tuple[Path, Path]:
    """Write ``camera_poses.npy`` and ``cam0_wrt_table.npy`` (GraspNet layout) atomically.

    T_cam_target: (N, 4, 4) target poses of the N frames in order. Returns the two paths.
    """
    d = Path(directory)
    poses = camera_poses_from_targets(T_cam_target)
    table = cam0_wrt_table(np.asarray(T_cam_target).reshape(-1, 4, 4)[0])
    _save_npy_atomic(d / "camera_poses.npy", poses.astype(np.float32))
    _save_npy_atomic(d / "cam0_wrt_table.npy", table.astype(np.float32))
    return d / "camera_poses.npy", d / "cam0_wrt_table.npy"
