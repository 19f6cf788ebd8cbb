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


# -- compact training labels ---------------------------------------------------------
#
# The real grasp labels are compressed npz files of ~0.6 GB per object once
# decompressed (offsets (Np, 300, 12, 4, 3) float32 dominate), ~55 GB for the
# 88 objects: a trainer that decompresses and caches them needs more than
# 128 GB of RAM. Training needs, per (point, view, angle, depth), only
# "graspable at which mu", the width and the tolerance, so
# ``graspnet-ros data compact`` derives once per object
#
#   grasp_label_compact/%03d_compact.npz   (stored uncompressed: memory-mapped)
#       points     (Np, 3) float32, object frame, m (as the original)
#       mu_code    (Np, V, A, D) uint8: round(mu / 0.1) where 0 < mu <= 1.0 (on the
#                  annotation's 0.1 grid) and the gripper does not hit the object
#                  itself, else 0 (not a grasp)
#       width      (Np, V, A, D) uint16: jaw width in units of 1e-5 m (0.01 mm)
#       tolerance  (Np, V, A, D) uint16, 1e-5 m (only when tolerance/%03d_tolerance.npy exists)
#
# 3-5 bytes per entry instead of 17 (+4 with tolerance): 5x smaller, and a
# table of 2048 points is read as 2048 rows of a memory map, nothing else.
# The conversion checks every entry against the original and refuses labels
# whose mu is off the 0.1 grid or whose width/tolerance exceed the codes.

COMPACT_DIR = "grasp_label_compact"
MU_STEP = 0.1
LENGTH_UNIT = 1e-5  # m per width / tolerance code
_CHUNK_POINTS = 64  # points converted at a time (bounded memory: ~15 MB of labels at V = 300)


def compact_label_path(root: str | Path, obj_id: int) -> Path:
    """``ROOT/grasp_label_compact/%03d_compact.npz``."""
    return Path(root) / COMPACT_DIR / f"{obj_id:03d}_compact.npz"


@dataclass
class CompactLabels:
    """Compact training labels of one object (memory-mapped arrays; see the format above)."""

    points: np.ndarray  # (Np, 3) object frame, m
    mu_code: np.ndarray  # (Np, V, A, D) uint8, 0 = not a grasp
    width: np.ndarray  # (Np, V, A, D) uint16, LENGTH_UNIT m
    tolerance: np.ndarray | None  # (Np, V, A, D) uint16, LENGTH_UNIT m

    def rows(self, sel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(mu, width m, tolerance m) float32 of points ``sel``: mu 0 where not a grasp."""
        mu = self.mu_code[sel].astype(np.float32) * np.float32(MU_STEP)
        width = self.width[sel].astype(np.float32) * np.float32(LENGTH_UNIT)
        tol = None if self.tolerance is None else self.tolerance[sel].astype(np.float32) * np.float32(LENGTH_UNIT)
        return mu, width, tol


def load_compact_labels(path: str | Path) -> CompactLabels:
    """Read a compact label file (memory-mapped); ValueError naming the file if malformed."""
    arrays = load_npz(path, mmap=True)
    missing = [k for k in ("points", "mu_code", "width") if k not in arrays]
    if missing:
        raise ValueError(f"{path}: not a compact label file (missing {missing}); "
                         "remake it with graspnet-ros data compact")
    shape = arrays["mu_code"].shape
    if (arrays["mu_code"].dtype != np.uint8 or arrays["width"].dtype != np.uint16
            or arrays["width"].shape != shape or len(shape) != 4 or shape[0] != len(arrays["points"])
            or ("tolerance" in arrays and arrays["tolerance"].shape != shape)):
        raise ValueError(f"{path}: compact label arrays have unexpected shapes or types "
                         f"({ {k: (a.shape, str(a.dtype)) for k, a in arrays.items()} })")
    return CompactLabels(arrays["points"], arrays["mu_code"], arrays["width"], arrays.get("tolerance"))


def _stream_member(zf: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype: np.dtype, chunks) -> None:
    """Write an npy member of ``shape``/``dtype`` from an iterator of row blocks."""
    with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
        np.lib.format.write_array_header_2_0(fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                  "fortran_order": False, "shape": shape})
        for block in chunks:
            fh.write(np.ascontiguousarray(block, dtype=dtype).tobytes())


def write_compact_labels(root: str | Path, obj_id: int) -> dict:
    """Derive ``grasp_label_compact/%03d_compact.npz`` from an object's grasp (and
    tolerance) labels, point block by point block, checking every entry.

    Returns the check: entries, grasps, the largest width and tolerance
    errors (m) and the bytes of both formats. ValueError (file named) when
    a valid mu is off the 0.1 grid or a width / tolerance does not fit.
    """
    import os
    import socket

    from .layout import Layout

    layout = Layout(root)
    src = layout.grasp_label(obj_id)
    labels = load_grasp_labels(src)
    tol_path = layout.tolerance_label(obj_id)
    tol = load_tolerance(tol_path, labels.num_points) if tol_path.is_file() else None
    shape = labels.scores.shape
    limit = np.iinfo(np.uint16).max * LENGTH_UNIT
    check = {"obj_id": obj_id, "entries": int(np.prod(shape)), "grasps": 0, "width_error_m": 0.0,
             "tolerance_error_m": 0.0}

    def blocks(fn):
        for lo in range(0, labels.num_points, _CHUNK_POINTS):
            yield fn(slice(lo, lo + _CHUNK_POINTS))

    def mu_block(s):
        mu = np.asarray(labels.scores[s], dtype=np.float64)
        valid = (mu > 0) & ~np.asarray(labels.collision[s])
        code = np.rint(mu / MU_STEP)
        off = valid & ((np.abs(code * MU_STEP - mu) > 1e-4) | (code > 255))
        if off.any():
            raise ValueError(f"{src}: mu {mu[off][0]:.4f} is not on the {MU_STEP} grid; the compact format "
                             "stores mu in 0.1 steps (train from the original labels instead)")
        check["grasps"] += int(valid.sum())
        return np.where(valid, code, 0)

    def length_block(array, key):
        def fn(s):
            value = np.asarray(array[s], dtype=np.float64)
            if key == "width_error_m":
                value = value[..., 2]
            if value.max(initial=0) > limit or value.min(initial=0) < 0:
                raise ValueError(f"{src}: {key[:-8]} outside [0, {limit:.3f}] m cannot be stored compactly")
            code = np.rint(value / LENGTH_UNIT)
            err = np.abs(code * LENGTH_UNIT - value).max(initial=0)
            check[key] = max(check[key], float(err))
            return code
        return fn

    out = compact_label_path(root, obj_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{socket.gethostname()}-{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            _stream_member(zf, "points", (labels.num_points, 3), np.float32, [np.asarray(labels.points)])
            _stream_member(zf, "mu_code", shape, np.uint8, blocks(mu_block))
            _stream_member(zf, "width", shape, np.uint16, blocks(length_block(labels.offsets, "width_error_m")))
            if tol is not None:
                _stream_member(zf, "tolerance", shape, np.uint16, blocks(length_block(tol, "tolerance_error_m")))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    check["bytes_original"] = src.stat().st_size + (tol_path.stat().st_size if tol is not None else 0)
    check["bytes_compact"] = out.stat().st_size
    return check


def compact_complete(root: str | Path, obj_id: int) -> bool:
    """A compact file exists, is newer than the object's labels and has their shape."""
    from .layout import Layout

    layout = Layout(root)
    out, src = compact_label_path(root, obj_id), layout.grasp_label(obj_id)
    if not out.is_file() or not src.is_file() or out.stat().st_mtime_ns < src.stat().st_mtime_ns:
        return False
    try:
        heads, orig = npz_headers(out), npz_headers(src)
    except ValueError:
        return False
    has_tolerance = layout.tolerance_label(obj_id).is_file()
    return ("mu_code" in heads and heads["mu_code"].shape == orig["scores"].shape
            and ("tolerance" in heads) == has_tolerance
            and (not has_tolerance or out.stat().st_mtime_ns >= layout.tolerance_label(obj_id).stat().st_mtime_ns))


def compact_all(root: str | Path, obj_ids: list[int] | None = None, workers: int = 1,
                scheduler: object | None = None) -> list[dict]:
    """Compact labels of ``obj_ids`` (default: every object with grasp labels); objects
    whose compact file is complete are skipped (check ``{"obj_id", "skipped": True}``).
    One task per object in ``workers`` processes, or on a Dask ``scheduler``."""
    import concurrent.futures as cf

    from .layout import Layout

    root = Path(root)
    if obj_ids is None:
        labels = (Layout(root).root / "grasp_label").glob("[0-9][0-9][0-9]_labels.npz")
        obj_ids = sorted(int(p.name[:3]) for p in labels)
    if not obj_ids:
        raise FileNotFoundError(f"no grasp labels under {root / 'grasp_label'}: nothing to compact")
    todo = [i for i in obj_ids if not compact_complete(root, i)]
    checks = [{"obj_id": i, "skipped": True} for i in obj_ids if i not in todo]
    if scheduler is not None:
        from ..distributed import dask_client, submit_all

        with dask_client(scheduler, workers) as client:
            checks += [c for _, c in submit_all(client, write_compact_labels, [(str(root), i) for i in todo],
                                                "compact", todo)]
    elif workers > 1 and len(todo) > 1:
        import multiprocessing

        with cf.ProcessPoolExecutor(min(workers, len(todo)), mp_context=multiprocessing.get_context("spawn")) as pool:
            checks += list(pool.map(write_compact_labels, [str(root)] * len(todo), todo))
    else:
        checks += [write_compact_labels(root, i) for i in todo]
    return sorted(checks, key=lambda c: c["obj_id"])
