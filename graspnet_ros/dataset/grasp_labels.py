"""Object grasp labels, scene collision labels and tolerance labels.

File formats (see :mod:`graspnet_ros.dataset.layout`)::

    grasp_label/%03d_labels.npz   points (Np, 3) grasp points in the object frame, m
                                  offsets (Np, V, A, D, 3): in-plane angle (rad),
                                      gripper depth (m), jaw width (m)
                                  collision (Np, V, A, D) bool (gripper vs. the object alone)
                                  scores (Np, V, A, D): smallest force-closure mu, <= 0 invalid
    collision_label/scene_%04d/collision_labels.npz
                                  arr_i (Np_i, V, A, D) bool, i in object_id_list order
    tolerance/%03d_tolerance.npy  (Np, V, A, D) GAF tolerance, m

The real grasp-label files are large (hundreds of MB each), so members of
an npz that are stored uncompressed are memory-mapped straight out of the
zip archive instead of being read; compressed members are read into memory.

:func:`project_grasp_labels` turns one object's labels into a
:class:`~graspnet_ros.grasp.GraspGroup` in a camera frame (paper eq. 1 and
3): view ``v`` of the V Fibonacci views gives the approach ``-v`` (the
reference's ``batch_viewpoint_params_to_matrix(-views, angles)``), the
offsets give angle, depth and width, the label point is the grasp point,
and the object pose moves everything into the camera frame.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..grasp import (DEFAULT_HEIGHT, DEPTH, GRASP_ARRAY_LEN, HEIGHT, OBJECT_ID, ROTATION, SCORE,
                     TRANSLATION, WIDTH, GraspGroup, rotation_from_approach)
from ..views import fibonacci_views

GRASP_LABEL_KEYS = ("points", "offsets", "collision", "scores")

#: Default friction threshold of the reference ``loadGrasp`` (keep 0 < mu <= 0.4).
DEFAULT_FRIC_COEF_THRESH = 0.4


# -- npz access -----------------------------------------------------------

@dataclass(frozen=True)
class ArrayHeader:
    """Shape and dtype of one ``.npy`` array (or npz member), read from its header."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    compressed: bool = False


def _read_npy_header(fp, what: str) -> tuple[ArrayHeader, int]:
    """Parse an npy header from a file object positioned at its start.

    Returns the header and the number of header bytes."""
    fmt = np.lib.format
    try:
        start = fp.tell() if hasattr(fp, "tell") else 0
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
        else:  # (3, 0): utf-8 header, same parser as 2.0 in practice
            shape, fortran, dtype = fmt._read_array_header(fp, version)
        length = fp.tell() - start
    except Exception as exc:  # numpy raises ValueError/EOFError/OSError on garbage
        raise ValueError(f"{what}: not a valid .npy array header ({exc})") from exc
    return ArrayHeader(tuple(int(s) for s in shape), np.dtype(dtype), bool(fortran)), length


def _open_zip(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz (zip) archive ({exc})") from exc


def npz_headers(path: str | Path) -> dict[str, ArrayHeader]:
    """Shapes and dtypes of every member of an npz, without reading the data.

    Raises FileNotFoundError if the file is missing and ValueError naming the
    file if it is not a zip archive or a member is not an npy array."""
    path = Path(path)
    out = {}
    with _open_zip(path) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            key = info.filename[:-4]
            try:
                with zf.open(info) as fp:
                    header, _ = _read_npy_header(fp, f"{path} member '{key}'")
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                raise ValueError(f"{path}: member '{key}' is unreadable ({exc})") from exc
            out[key] = ArrayHeader(header.shape, header.dtype, header.fortran_order,
                                   info.compress_type != zipfile.ZIP_STORED)
    return out


def _member_data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Byte offset of a stored (uncompressed) member's data inside the zip file."""
    with open(path, "rb") as fp:
        fp.seek(info.header_offset)
        local = fp.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ValueError(f"{path}: bad local zip header for member '{info.filename}'")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        return info.header_offset + 30 + name_len + extra_len


def load_npz(path: str | Path, keys: tuple[str, ...] | None = None,
             mmap: bool = True) -> dict[str, np.ndarray]:
    """Arrays of an npz file, memory-mapped (read-only) where stored uncompressed.

    keys: members to load (all if None); a missing key raises ValueError
    naming the file and the keys it has. Compressed members, object arrays
    and ``mmap=False`` read the data into memory.
    """
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    with _open_zip(path) as zf:
        infos = {i.filename[:-4]: i for i in zf.infolist() if i.filename.endswith(".npy")}
        wanted = list(infos) if keys is None else list(keys)
        missing = [k for k in wanted if k not in infos]
        if missing:
            raise ValueError(f"{path}: missing npz keys {missing} (has {sorted(infos)})")
        for key in wanted:
            info = infos[key]
            what = f"{path} member '{key}'"
            try:
                if mmap and info.compress_type == zipfile.ZIP_STORED:
                    with zf.open(info) as fp:
                        header, hlen = _read_npy_header(fp, what)
                    if not header.dtype.hasobject:
                        offset = _member_data_offset(path, info) + hlen
                        count = int(np.prod(header.shape))
                        if offset + count * header.dtype.itemsize > path.stat().st_size:
                            raise ValueError(f"{what}: data is truncated")
                        if count == 0:
                            out[key] = np.zeros(header.shape, header.dtype)
                        else:
                            out[key] = np.memmap(path, dtype=header.dtype, mode="r", offset=offset,
                                                 shape=header.shape,
                                                 order="F" if header.fortran_order else "C")
                        continue
                with zf.open(info) as fp:
                    out[key] = np.lib.format.read_array(fp, allow_pickle=False)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                raise ValueError(f"{what}: unreadable ({exc})") from exc
            except ValueError as exc:
                if str(exc).startswith(str(path)):
                    raise
                raise ValueError(f"{what}: unreadable ({exc})") from exc
    return out


# -- grasp labels -----------------------------------------------------------

@dataclass
class GraspLabels:
    """One object's grasp labels, in the object frame (arrays may be memory-mapped)."""

    points: np.ndarray  # (Np, 3) grasp points, m
    offsets: np.ndarray  # (Np, V, A, D, 3) angle (rad), depth (m), width (m)
    collision: np.ndarray  # (Np, V, A, D) bool, gripper collides with the object itself
    scores: np.ndarray  # (Np, V, A, D) smallest force-closure mu; <= 0 invalid

    @property
    def num_points(self) -> int:
        return self.points.shape[0]

    @property
    def grid(self) -> tuple[int, int, int]:
        """(V, A, D): views, in-plane angles, depths."""
        return tuple(int(s) for s in self.scores.shape[1:4])


def check_grasp_label_shapes(shapes: dict[str, tuple[int, ...]], what: str) -> None:
    """ValueError naming ``what`` unless the shapes of a grasp-label file agree."""
    missing = [k for k in GRASP_LABEL_KEYS if k not in shapes]
    if missing:
        raise ValueError(f"{what}: missing npz keys {missing} (needs {list(GRASP_LABEL_KEYS)})")
    pts, off, col, sc = (shapes[k] for k in GRASP_LABEL_KEYS)
    if len(pts) != 2 or pts[1] != 3:
        raise ValueError(f"{what}: 'points' must be (Np, 3), got {pts}")
    if len(sc) != 4 or sc[0] != pts[0]:
        raise ValueError(f"{what}: 'scores' must be (Np={pts[0]}, V, A, D), got {sc}")
    if off != sc + (3,):
        raise ValueError(f"{what}: 'offsets' must be {sc + (3,)} (angle, depth, width), got {off}")
    if col != sc:
        raise ValueError(f"{what}: 'collision' must be {sc} like 'scores', got {col}")


def load_grasp_labels(path: str | Path, mmap: bool = True) -> GraspLabels:
    """Read a ``%03d_labels.npz`` file; shapes are checked, data memory-mapped if possible."""
    arrays = load_npz(path, GRASP_LABEL_KEYS, mmap=mmap)
    check_grasp_label_shapes({k: a.shape for k, a in arrays.items()}, str(path))
    if arrays["collision"].dtype != np.bool_:
        raise ValueError(f"{path}: 'collision' must be bool, got {arrays['collision'].dtype}")
    for key in ("points", "offsets", "scores"):
        if arrays[key].dtype.kind != "f":
            raise ValueError(f"{path}: '{key}' must be floating point, got {arrays[key].dtype}")
    return GraspLabels(**arrays)


def load_tolerance(path: str | Path, num_points: int | None = None) -> np.ndarray:
    """Read a ``%03d_tolerance.npy`` (Np, V, A, D) array, memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tolerance file not found: {path}")
    try:
        tol = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from exc
    if tol.ndim != 4 or (num_points is not None and tol.shape[0] != num_points):
        raise ValueError(f"{path}: tolerance must be (Np{'=' + str(num_points) if num_points else ''}, "
                         f"V, A, D), got {tol.shape}")
    return tol


def load_collision_labels(path: str | Path, count: int | None = None,
                          mmap: bool = True) -> list[np.ndarray]:
    """Scene collision labels: ``arr_0 .. arr_{n-1}`` (Np_i, V, A, D) bool, in
    ``object_id_list`` order. ``count``: the expected number of objects."""
    path = Path(path)
    arrays = load_npz(path, mmap=mmap)
    n = len(arrays)
    want = [f"arr_{i}" for i in range(n if count is None else count)]
    missing = [k for k in want if k not in arrays]
    extra = sorted(set(arrays) - set(want))
    if missing or extra:
        raise ValueError(f"{path}: expected keys arr_0..arr_{len(want) - 1} (one per object in "
                         f"object_id_list.txt); missing {missing}, unexpected {extra}")
    out = [arrays[k] for k in want]
    for key, arr in zip(want, out):
        if arr.ndim != 4 or arr.dtype != np.bool_:
            raise ValueError(f"{path}: '{key}' must be a (Np, V, A, D) bool array, "
                             f"got {arr.shape} {arr.dtype}")
    return out


# -- projection into a frame --------------------------------------------------

def valid_label_mask(labels: GraspLabels, collision: np.ndarray | None = None,
                     fric_coef_thresh: float = DEFAULT_FRIC_COEF_THRESH) -> np.ndarray:
    """(Np, V, A, D) bool: 0 < mu <= fric_coef_thresh and not colliding in the scene."""
    scores = np.asarray(labels.scores)
    mask = (scores > 0) & (scores <= fric_coef_thresh)
    if collision is not None:
        collision = np.asarray(collision)
        if collision.shape != scores.shape:
            raise ValueError(f"collision labels {collision.shape} do not match the grasp labels "
                             f"{scores.shape}: wrong object order in collision_labels.npz?")
        mask &= ~collision
    return mask


def _posed_rotations(pose_rot: np.ndarray, views: np.ndarray, view_idx: np.ndarray,
                     angles: np.ndarray) -> np.ndarray:
    """(K, 3, 3) gripper rotations R_pose @ R(-views[view_idx], angles).

    The in-plane reference is defined in the object frame, so rotations are
    built there and then posed. Labels repeat few (view, angle) pairs (the
    real ones use the 12 angle bins), so each distinct pair is computed once.
    """
    if len(view_idx) == 0:
        return np.zeros((0, 3, 3))
    values, angle_idx = np.unique(angles, return_inverse=True)
    keys, inverse = np.unique(view_idx.astype(np.int64) * len(values) + angle_idx.reshape(-1),
                              return_inverse=True)
    unique = np.matmul(pose_rot, rotation_from_approach(-views[keys // len(values)],
                                                        values[keys % len(values)]))
    return unique[inverse.reshape(-1)]


def project_grasp_labels(labels: GraspLabels, pose: np.ndarray, obj_id: int = -1,
                         collision: np.ndarray | None = None,
                         fric_coef_thresh: float = DEFAULT_FRIC_COEF_THRESH,
                         max_grasps: int | None = None, seed: int = 0,
                         frame_id: str = "camera", return_indices: bool = False,
                         ) -> GraspGroup | tuple[GraspGroup, np.ndarray]:
    """One object's labelled grasps as a GraspGroup in the frame of ``pose``.

    pose: (4, 4) T_frame<-object (e.g. the annotation pose T_cam<-obj).
    collision: (Np, V, A, D) scene collision labels of this object, or None.
    Keeps grasps with ``0 < mu <= fric_coef_thresh`` that do not collide;
    score = 1.1 - mu, height = 0.02 m. ``max_grasps`` caps the count by a
    uniform random subsample (``seed``). With ``return_indices`` also returns
    the (K, 4) label indices (point, view, angle, depth) of each grasp.
    """
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4) or not np.isfinite(pose).all():
        raise ValueError(f"object pose must be a finite 4x4 matrix, got shape {pose.shape}")
    rp = pose[:3, :3]
    if np.abs(rp.T @ rp - np.eye(3)).max() > 1e-4 or np.linalg.det(rp) < 0:
        raise ValueError("object pose rotation is not a proper rotation (scaling or reflection?)")
    mask = valid_label_mask(labels, collision, fric_coef_thresh)
    flat = np.flatnonzero(mask)
    if max_grasps is not None and len(flat) > max_grasps:
        pick = np.random.default_rng(seed).choice(len(flat), size=int(max_grasps), replace=False)
        flat = flat[np.sort(pick)]
    p, v = np.unravel_index(flat, mask.shape)[:2]
    views = fibonacci_views(mask.shape[1])
    offsets = np.asarray(labels.offsets).reshape(-1, 3)[flat].astype(np.float64)
    mu = np.asarray(labels.scores).reshape(-1)[flat].astype(np.float64)
    points = np.asarray(labels.points, dtype=np.float64)[p]
    rot = _posed_rotations(pose[:3, :3], views, v, offsets[:, 0])
    arr = np.empty((len(flat), GRASP_ARRAY_LEN))
    arr[:, SCORE] = 1.1 - mu
    arr[:, WIDTH] = offsets[:, 2]
    arr[:, HEIGHT] = DEFAULT_HEIGHT
    arr[:, DEPTH] = offsets[:, 1]
    arr[:, ROTATION] = rot.reshape(-1, 9)
    arr[:, TRANSLATION] = points @ pose[:3, :3].T + pose[:3, 3]
    arr[:, OBJECT_ID] = obj_id
    if not np.isfinite(arr).all():
        raise ValueError("grasp labels contain NaN or infinite values (points or offsets)")
    grasps = GraspGroup(arr, frame_id=frame_id, copy=False, validate=False)
    if return_indices:
        return grasps, np.stack(np.unravel_index(flat, mask.shape), axis=1)
    return grasps
