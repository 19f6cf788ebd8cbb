"""GraspGroup: the (N, 17) grasp array shared with the reference GraspNet tools.

Row layout (identical to graspnetAPI)::

    [score, width, height, depth, R (9, row-major), t (3), object_id]

Gripper frame (the GraspNet convention): x = approach direction, y = jaw
closing axis, z = finger height (x cross y). ``t`` is the grasp point; the
fingers reach ``depth`` metres past ``t`` along x; ``width`` is the jaw opening
in metres. ``R`` maps gripper-frame vectors into the frame named by
``GraspGroup.frame_id`` (usually a REP-103 camera optical frame). ``object_id``
is -1 when unknown.

A robot's tool frame usually differs (many grippers use z = approach); the
conversion lives in :mod:`graspnet_ros.tool_frame`, never in ad hoc matrices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Union

import numpy as np

GRASP_ARRAY_LEN = 17
SCORE = 0
WIDTH = 1
HEIGHT = 2
DEPTH = 3
ROTATION = slice(4, 13)
TRANSLATION = slice(13, 16)
OBJECT_ID = 16

#: Default finger height of the benchmark's simplified gripper (m).
DEFAULT_HEIGHT = 0.02

_ORTHONORMAL_TOL = 1e-4

Index = Union[int, slice, np.ndarray, list]


def validate_grasp_array(array: np.ndarray, what: str = "grasp array") -> np.ndarray:
    """Check an (N, 17) grasp array and return it as float64.

    Raises ValueError naming the problem: wrong shape, NaN or infinite values,
    negative width/height/depth, or rotation blocks that are not proper
    rotations (orthonormal, determinant +1).
    """
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, GRASP_ARRAY_LEN)
    if arr.ndim != 2 or arr.shape[1] != GRASP_ARRAY_LEN:
        raise ValueError(
            f"{what}: expected shape (N, {GRASP_ARRAY_LEN}) "
            f"[score, width, height, depth, R(9), t(3), object_id], got {arr.shape}")
    if arr.shape[0] == 0:
        return arr
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} of {len(arr)} grasps contain NaN or infinite values "
            f"(first bad row {int(np.flatnonzero(bad)[0])}); drop them before building a GraspGroup")
    for col, name in ((WIDTH, "width"), (HEIGHT, "height"), (DEPTH, "depth")):
        neg = arr[:, col] < 0
        if neg.any():
            raise ValueError(
                f"{what}: {int(neg.sum())} grasps have a negative {name} "
                f"(min {arr[:, col].min():.4g} m); lengths are metres and must be >= 0")
    rot = arr[:, ROTATION].reshape(-1, 3, 3)
    err = np.abs(np.einsum("nji,njk->nik", rot, rot) - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(rot)
    bad = (err > _ORTHONORMAL_TOL) | (det < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{what}: {int(bad.sum())} rotation blocks are not proper rotations "
            f"(row {i}: |R^T R - I| = {err[i]:.2e}, det = {det[i]:.3f}); "
            "columns 4:13 must hold a row-major orthonormal matrix with det +1")
    return arr


def rotation_from_approach(approach: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Gripper rotations from approach vectors and in-plane angles.

    approach: (N, 3) approach directions (need not be unit) in the target frame.
    angle: (N,) in-plane rotation about the approach axis, radians.
    Returns (N, 3, 3) rotations whose x column is the unit approach vector.
    The in-plane reference (angle 0) puts the jaw axis y horizontal,
    ``y0 = (-a_y, a_x, 0)`` normalised (``(0, 1, 0)`` when the approach is
    vertical), the same convention as the reference GraspNet code, so angle
    bins mean the same thing in both.
    """
    a = np.asarray(approach, dtype=np.float64).reshape(-1, 3)
    ang = np.broadcast_to(np.asarray(angle, dtype=np.float64), (len(a),))
    norm = np.linalg.norm(a, axis=1)
    if (norm <= 1e-12).any() or not np.isfinite(a).all():
        raise ValueError("approach vectors must be finite and non-zero")
    x = a / norm[:, None]
    y = np.stack([-x[:, 1], x[:, 0], np.zeros(len(x))], axis=1)
    yn = np.linalg.norm(y, axis=1)
    vertical = yn < 1e-9
    y[vertical] = (0.0, 1.0, 0.0)
    yn[vertical] = 1.0
    y /= yn[:, None]
    z = np.cross(x, y)
    base = np.stack([x, y, z], axis=2)  # columns x, y, z
    c, s = np.cos(ang), np.sin(ang)
    rx = np.zeros((len(x), 3, 3))
    rx[:, 0, 0] = 1.0
    rx[:, 1, 1] = c
    rx[:, 1, 2] = -s
    rx[:, 2, 1] = s
    rx[:, 2, 2] = c
    return base @ rx


class GraspGroup:
    """A set of parallel-jaw grasps in one frame.

    ``array`` is (N, 17) float64 in the layout above; ``frame_id`` names the
    frame the rotations and translations are expressed in. Every method that
    changes the grasps returns a new GraspGroup; the array is never shared
    with the caller unless ``copy=False`` is asked for.
    """

    def __init__(self, array: np.ndarray | None = None, frame_id: str = "camera",
                 copy: bool = True, validate: bool = True) -> None:
        if array is None:
            array = np.zeros((0, GRASP_ARRAY_LEN))
        arr = validate_grasp_array(array) if validate else np.asarray(array, dtype=np.float64)
        self.array = arr.copy() if copy and arr is array else arr
        self.frame_id = frame_id

    # -- construction -----------------------------------------------------
    @classmethod
    def from_components(cls, rotations: np.ndarray, translations: np.ndarray,
                        widths: np.ndarray | float, depths: np.ndarray | float,
                        scores: np.ndarray | float = 1.0,
                        heights: np.ndarray | float = DEFAULT_HEIGHT,
                        object_ids: np.ndarray | int = -1, frame_id: str = "camera") -> "GraspGroup":
        """Build from (N, 3, 3) rotations, (N, 3) translations (m) and per-grasp values."""
        rot = np.asarray(rotations, dtype=np.float64).reshape(-1, 3, 3)
        n = len(rot)
        arr = np.empty((n, GRASP_ARRAY_LEN))
        arr[:, SCORE] = np.broadcast_to(scores, (n,))
        arr[:, WIDTH] = np.broadcast_to(widths, (n,))
        arr[:, HEIGHT] = np.broadcast_to(heights, (n,))
        arr[:, DEPTH] = np.broadcast_to(depths, (n,))
        arr[:, ROTATION] = rot.reshape(n, 9)
        arr[:, TRANSLATION] = np.asarray(translations, dtype=np.float64).reshape(n, 3)
        arr[:, OBJECT_ID] = np.broadcast_to(object_ids, (n,))
        return cls(arr, frame_id=frame_id, copy=False)

    @classmethod
    def from_approach(cls, points: np.ndarray, approach: np.ndarray, angle: np.ndarray,
                      depth: np.ndarray | float, width: np.ndarray | float,
                      score: np.ndarray | float = 1.0, height: np.ndarray | float = DEFAULT_HEIGHT,
                      object_id: np.ndarray | int = -1, frame_id: str = "camera") -> "GraspGroup":
        """Build from the network's parameterisation.

        points: (N, 3) grasp points t (m); approach: (N, 3) approach vectors;
        angle: (N,) in-plane angle (rad); depth, width: metres.
        """
        rot = rotation_from_approach(approach, angle)
        return cls.from_components(rot, points, width, depth, score, height, object_id, frame_id)

    @classmethod
    def concatenate(cls, groups: Iterable["GraspGroup"]) -> "GraspGroup":
        groups = list(groups)
        if not groups:
            return cls()
        frames = {g.frame_id for g in groups}
        if len(frames) > 1:
            raise ValueError(f"cannot concatenate grasps in different frames: {sorted(frames)}")
        return cls(np.concatenate([g.array for g in groups]), frame_id=groups[0].frame_id,
                   copy=False, validate=False)

    @classmethod
    def load(cls, path: str | Path, frame_id: str = "camera") -> "GraspGroup":
        """Load an (N, 17) ``.npy`` file (the reference dump format)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"grasp file not found: {path}")
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{path}: not a plain numpy array file ({exc})") from exc
        return cls(arr, frame_id=frame_id, copy=False) if arr.size else cls(frame_id=frame_id)

    def save(self, path: str | Path) -> None:
        """Write the (N, 17) array as ``.npy`` (readable by graspnetAPI)."""
        np.save(Path(path), self.array)

    # -- views ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: Index) -> "GraspGroup":
        sub = self.array[index]
        return GraspGroup(sub.reshape(-1, GRASP_ARRAY_LEN), frame_id=self.frame_id,
                          copy=False, validate=False)

    def __repr__(self) -> str:
        return f"GraspGroup({len(self)} grasps in '{self.frame_id}')"

    @property
    def scores(self) -> np.ndarray:
        return self.array[:, SCORE]

    @property
    def widths(self) -> np.ndarray:
        return self.array[:, WIDTH]

    @property
    def heights(self) -> np.ndarray:
        return self.array[:, HEIGHT]

    @property
    def depths(self) -> np.ndarray:
        return self.array[:, DEPTH]

    @property
    def rotations(self) -> np.ndarray:
        """(N, 3, 3) gripper-to-frame rotations."""
        return self.array[:, ROTATION].reshape(-1, 3, 3)

    @property
    def translations(self) -> np.ndarray:
        """(N, 3) grasp points in metres."""
        return self.array[:, TRANSLATION]

    @property
    def object_ids(self) -> np.ndarray:
        return self.array[:, OBJECT_ID].astype(np.int64)

    @property
    def approaches(self) -> np.ndarray:
        """(N, 3) unit approach vectors (gripper x axis)."""
        return self.rotations[:, :, 0]

    @property
    def closing_axes(self) -> np.ndarray:
        """(N, 3) unit jaw closing axes (gripper y axis)."""
        return self.rotations[:, :, 1]

    def poses(self) -> np.ndarray:
        """(N, 4, 4) homogeneous poses of the gripper frame in ``frame_id``."""
        out = np.zeros((len(self), 4, 4))
        out[:, :3, :3] = self.rotations
        out[:, :3, 3] = self.translations
        out[:, 3, 3] = 1.0
        return out

    # -- operations -------------------------------------------------------
    def transform(self, matrix: np.ndarray, frame_id: str | None = None) -> "GraspGroup":
        """Apply a rigid 4x4 transform T_new<-old; returns grasps in ``frame_id``."""
        T = np.asarray(matrix, dtype=np.float64)
        if T.shape != (4, 4) or not np.isfinite(T).all():
            raise ValueError(f"transform must be a finite 4x4 matrix, got shape {T.shape}")
        R = T[:3, :3]
        if np.abs(R.T @ R - np.eye(3)).max() > _ORTHONORMAL_TOL or np.linalg.det(R) < 0:
            raise ValueError("transform rotation is not a proper rotation (scaling or reflection?)")
        out = self.array.copy()
        out[:, ROTATION] = (R @ self.rotations).reshape(-1, 9)
        out[:, TRANSLATION] = self.translations @ R.T + T[:3, 3]
        return GraspGroup(out, frame_id=frame_id or self.frame_id, copy=False, validate=False)

    def sort_by_score(self, descending: bool = True) -> "GraspGroup":
        order = np.argsort(-self.scores if descending else self.scores, kind="stable")
        return self[order]

    def top_k(self, k: int) -> "GraspGroup":
        """The k best-scoring grasps (fewer if there are fewer)."""
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        return self.sort_by_score()[:k]

    def filter(self, mask: np.ndarray) -> "GraspGroup":
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise ValueError(f"mask shape {mask.shape} does not match {len(self)} grasps")
        return self[mask]

    def with_scores(self, scores: np.ndarray) -> "GraspGroup":
        out = self.array.copy()
        out[:, SCORE] = np.broadcast_to(scores, (len(self),))
        return GraspGroup(out, frame_id=self.frame_id, copy=False, validate=False)

    def nms(self, translation_threshold: float = 0.03,
            rotation_threshold: float = np.deg2rad(30.0)) -> "GraspGroup":
        """Pose NMS (see :func:`graspnet_ros.nms.pose_nms`); result sorted by score."""
        from .nms import pose_nms

        return self[pose_nms(self, translation_threshold, rotation_threshold)]
