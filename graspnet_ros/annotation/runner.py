"""Annotate a dataset root: object labels, tolerance labels, scene collision labels.

Parallel over objects / scenes (a pool of ``workers`` spawned processes;
``workers=0`` runs in the calling process; or one task each on a Dask
cluster with ``scheduler``), with a tqdm progress bar, and
resumable: an output that exists and whose arrays have the expected keys
and shapes is kept; everything is written to a temporary name in the
destination folder and renamed into place, so an interrupted run never
leaves a file that looks complete (stale ``*.tmp`` files are removed when
their output is rewritten).
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import zipfile
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from ..dataset.annotations_xml import read_annotations
from ..dataset.layout import Layout
from ..dataset.reader import read_object_id_list
from .object_labels import SlabKernel, label_object, sample_surface
from .scene_collision import CandidateSet, candidate_scene_collision, scene_point_cloud
from .settings import AnnotationSettings
from .tolerance import tolerance_labels

#: camera whose frame-0 annotation and cam0_wrt_table pose the scene (as the reference)
SCENE_CAMERA = "realsense"
#: object labels kept in memory per worker for the scene stage, bytes
LABEL_CACHE_BYTES = 1_000_000_000


# -- atomic, checkable files ---------------------------------------------------
def _tmp_path(path: Path) -> Path:
    # host and pid: workers on several machines may share the dataset root
    return path.with_name(f"{path.name}.{socket.gethostname()}-{os.getpid()}.tmp")


def _remove_stale_tmp(path: Path) -> None:
    for stale in path.parent.glob(f"{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def write_npz_atomic(path: str | Path, arrays: dict[str, np.ndarray], compress: bool = True) -> Path:
    """Write an ``.npz`` (zip deflate level 1 when ``compress``) via temp file + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(path)
    tmp = _tmp_path(path)
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    try:
        with zipfile.ZipFile(tmp, "w", compression=mode, compresslevel=1 if compress else None,
                             allowZip64=True) as zf:
            for name, array in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_npy_atomic(path: str | Path, array: np.ndarray) -> Path:
    """``np.save`` via temp file + rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(path)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array(fh, np.asanyarray(array), allow_pickle=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read_header(fh) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(fh)
    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
            else np.lib.format.read_array_header_2_0)
    shape, _, dtype = read(fh)
    return tuple(shape), np.dtype(dtype)


def npz_headers(path: str | Path) -> dict[str, tuple[tuple[int, ...], np.dtype]] | None:
    """Shapes and dtypes of the arrays in an ``.npz`` without reading them; None if unreadable."""
    try:
        with zipfile.ZipFile(path) as zf:
            out = {}
            for name in zf.namelist():
                if name.endswith(".npy"):
                    with zf.open(name) as fh:
                        out[name[:-4]] = _read_header(fh)
            return out
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


def npy_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype] | None:
    try:
        with open(path, "rb") as fh:
            shape, dtype = _read_header(fh)
        expected = np.dtype(dtype).itemsize * int(np.prod(shape))
        return (shape, dtype) if os.path.getsize(path) >= expected else None
    except (OSError, ValueError):
        return None


# -- object stage ---------------------------------------------------------------
def object_label_shapes(layout: Layout, obj_id: int, settings: AnnotationSettings) -> int | None:
    """Np of a complete label file for ``settings``, else None."""
    heads = npz_headers(layout.grasp_label(obj_id))
    if heads is None or set(heads) < {"points", "offsets", "collision", "scores"}:
        return None
    (pshape, pdtype) = heads["points"]
    if len(pshape) != 2 or pshape[1] != 3:
        return None
    block = (pshape[0],) + settings.shape
    ok = (heads["offsets"] == (block + (3,), np.dtype(np.float32))
          and heads["collision"] == (block, np.dtype(bool))
          and heads["scores"] == (block, np.dtype(np.float32)))
    return pshape[0] if ok else None


def tolerance_complete(layout: Layout, obj_id: int, settings: AnnotationSettings, num_points: int) -> bool:
    head = npy_header(layout.tolerance_label(obj_id))
    return head == ((num_points,) + settings.shape, np.dtype(np.float32))


def load_mesh(path: Path) -> trimesh.Trimesh:
    """A triangle mesh (metres) from ``path``; clear errors for missing or faceless files."""
    if not path.is_file():
        raise FileNotFoundError(f"object mesh not found: {path} (models/%03d/nontextured.ply)")
    mesh = trimesh.load(path, force="mesh", process=False)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: not a triangle mesh (no faces); grasp labels need faces")
    return mesh


def annotate_object(root: str | Path, obj_id: int, settings: AnnotationSettings | None = None) -> Path:
    """Write (or complete) ``grasp_label/%03d_labels.npz`` and ``tolerance/%03d_tolerance.npy``."""
    settings = settings or AnnotationSettings()
    layout = Layout(root)
    num_points = object_label_shapes(layout, obj_id, settings)
    if num_points is None:
        mesh = load_mesh(layout.model_ply(obj_id))
        labels = label_object(mesh, settings, seed=settings.seed + obj_id)
        write_npz_atomic(layout.grasp_label(obj_id), {
            "points": labels.points, "offsets": labels.offsets(settings),
            "collision": labels.collision, "scores": labels.scores}, settings.compress)
        points, scores, num_points = labels.points, labels.scores, len(labels.points)
    elif tolerance_complete(layout, obj_id, settings, num_points):
        return layout.grasp_label(obj_id)
    else:
        with np.load(layout.grasp_label(obj_id)) as data:
            points, scores = data["points"], data["scores"]
    tolerance = tolerance_labels(points, scores, settings.tolerance_radius, settings.tolerance_step,
                                 settings.tolerance_mu, settings.tolerance_ratio)
    save_npy_atomic(layout.tolerance_label(obj_id), tolerance)
    return layout.grasp_label(obj_id)


# -- scene stage ------------------------------------------------------------------
class _LabelCache:
    """Per-process cache of the compact per-object data the scene stage needs."""

    def __init__(self, budget: int = LABEL_CACHE_BYTES) -> None:
        self.budget = budget
        self.items: OrderedDict[tuple, tuple[CandidateSet, np.ndarray]] = OrderedDict()

    def get(self, layout: Layout, obj_id: int, settings: AnnotationSettings
            ) -> tuple[CandidateSet, np.ndarray]:
        """The object's candidates and its surface points at ``scene_voxel`` (object frame)."""
        path = layout.grasp_label(obj_id)
        if not path.is_file():
            raise FileNotFoundError(f"grasp labels of object {obj_id} not found: {path}; "
                                    "run annotate_objects first")
        key = (str(path), path.stat().st_mtime_ns, settings.scene_voxel, settings.oversampling,
               settings.seed)
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        with np.load(path) as data:
            candidates = CandidateSet.from_labels(data["points"], data["offsets"][..., 2],
                                                  data["scores"])
        mesh = load_mesh(layout.model_ply(obj_id))
        item = (candidates, sample_surface(mesh, settings.scene_voxel, settings.oversampling,
                                           settings.seed + obj_id))
        self.items[key] = item
        while len(self.items) > 1 and sum(c.nbytes + pts.nbytes
                                          for c, pts in self.items.values()) > self.budget:
            self.items.popitem(last=False)
        return item


_CACHE = _LabelCache()


def scene_poses(layout: Layout, scene_id: int) -> tuple[list[int], np.ndarray]:
    """Object ids (object_id_list order) and their poses T_table<-obj (n, 4, 4)."""
    obj_ids = read_object_id_list(layout.object_id_list(scene_id))
    annotations = layout.frame_file(scene_id, SCENE_CAMERA, "annotations", 0)
    align_path = layout.cam0_wrt_table(scene_id, SCENE_CAMERA)
    if not align_path.is_file():
        raise FileNotFoundError(f"table pose not found: {align_path}")
    cam0_wrt_table = np.load(align_path)
    if cam0_wrt_table.shape != (4, 4):
        raise ValueError(f"{align_path}: expected a 4x4 matrix, got shape {cam0_wrt_table.shape}")
    by_id = {obj.obj_id: obj.pose for obj in read_annotations(annotations)}
    missing = [i for i in obj_ids if i not in by_id]
    if missing:
        raise ValueError(f"{annotations}: no pose for objects {missing} listed in "
                         f"{layout.object_id_list(scene_id)}")
    return obj_ids, np.stack([cam0_wrt_table @ by_id[i] for i in obj_ids])


def scene_labels_complete(layout: Layout, scene_id: int, settings: AnnotationSettings) -> bool:
    heads = npz_headers(layout.collision_label(scene_id))
    if heads is None:
        return False
    try:
        obj_ids = read_object_id_list(layout.object_id_list(scene_id))
    except (FileNotFoundError, ValueError):
        return False
    if set(heads) != {f"arr_{i}" for i in range(len(obj_ids))}:
        return False
    written = layout.collision_label(scene_id).stat().st_mtime_ns
    for i, obj_id in enumerate(obj_ids):
        num_points = object_label_shapes(layout, obj_id, settings)
        if num_points is None or heads[f"arr_{i}"] != ((num_points,) + settings.shape, np.dtype(bool)):
            return False
        if layout.grasp_label(obj_id).stat().st_mtime_ns > written:  # labels redone since
            return False
    return True


def annotate_scene(root: str | Path, scene_id: int, settings: AnnotationSettings | None = None) -> Path:
    """Write (or keep) ``collision_label/scene_%04d/collision_labels.npz``."""
    settings = settings or AnnotationSettings()
    layout = Layout(root)
    out = layout.collision_label(scene_id)
    if scene_labels_complete(layout, scene_id, settings):
        return out
    obj_ids, poses = scene_poses(layout, scene_id)
    items = [_CACHE.get(layout, obj_id, settings) for obj_id in obj_ids]
    scene, owner = scene_point_cloud(poses, [points for _, points in items], settings)
    tree = cKDTree(scene)
    kernel = SlabKernel(settings)
    arrays = {f"arr_{i}": candidate_scene_collision(candidates, poses[i], scene, owner, i, settings,
                                                    tree, kernel)
              for i, (candidates, _) in enumerate(items)}
    return write_npz_atomic(out, arrays, settings.compress)


# -- parallel driver ------------------------------------------------------------
#: environment of the worker processes (read by OpenBLAS and glibc at start-up):
#: one BLAS thread each (the pool fills the cores; idle OpenBLAS threads spin
#: and steal a shared core), and large temporaries served from the heap
#: instead of fresh zero-filled pages on every allocation (~40% of the
#: kernel's time otherwise).
WORKER_ENV = {
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": str(256 << 20), "MALLOC_TRIM_THRESHOLD_": str(512 << 20),
    "MALLOC_TOP_PAD_": str(64 << 20),
}


def _run_all(job: Callable[[str, int, AnnotationSettings], Path], root: Path, ids: list[int],
             settings: AnnotationSettings, workers: int, desc: str, progress: bool,
             order: Iterable[int] | None = None, scheduler: object | None = None) -> list[Path]:
    """Run ``job(root, id, settings)`` for every id: in this process when workers <= 0,
    else in a pool of ``workers`` spawned processes with :data:`WORKER_ENV`; with
    ``scheduler`` (an address, ``local`` or a ``distributed.Client``) one Dask
    task per id (see :mod:`graspnet_ros.distributed`)."""
    from tqdm import tqdm

    results: dict[int, Path] = {}
    order = list(order) if order is not None else ids
    with tqdm(total=len(ids), desc=desc, unit="item", disable=not progress, dynamic_ncols=True) as bar:
        if scheduler is not None:
            from ..distributed import dask_client, submit_all

            with dask_client(scheduler, max(workers, 1), env=WORKER_ENV) as client:
                jobs = [(str(root), i, settings) for i in order]
                for k, path in submit_all(client, job, jobs, desc.replace(" ", "-"), order):
                    results[order[k]] = path
                    bar.update()
            return [results[i] for i in ids]
        if workers <= 0:
            for i in order:
                results[i] = job(str(root), i, settings)
                bar.update()
            return [results[i] for i in ids]
        saved = {var: os.environ.get(var) for var in WORKER_ENV}
        os.environ.update(WORKER_ENV)  # spawned children inherit the environment at start
        try:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(workers, max(1, len(ids))), mp_context=ctx) as pool:
                futures = {pool.submit(job, str(root), i, settings): i for i in order}
                try:
                    for future in as_completed(futures):
                        results[futures[future]] = future.result()
                        bar.update()
                except BaseException:
                    # a failed item or Ctrl-C: drop the queued items instead of finishing them
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
    return [results[i] for i in ids]


def annotate_objects(root: str | Path, obj_ids: Iterable[int], settings: AnnotationSettings | None = None,
                     workers: int = 1, progress: bool = True, scheduler: object | None = None) -> list[Path]:
    """Grasp and tolerance labels of every object id; returns the label paths in ``obj_ids`` order.

    workers: processes in the pool (0: run in this process, slower: the
    pool's processes get a tuned allocator and single-threaded BLAS).
    scheduler: a Dask scheduler address, ``local`` (a LocalCluster of
    ``workers`` processes) or a ``distributed.Client``: one task per object.

    Each object needs ``models/%03d/nontextured.ply``; objects whose outputs
    are already complete for ``settings`` are skipped (a missing tolerance
    file alone is recomputed from the labels).
    """
    settings = settings or AnnotationSettings()
    layout = Layout(root)
    ids = [int(i) for i in obj_ids]
    missing = [str(layout.model_ply(i)) for i in ids if not layout.model_ply(i).is_file()]
    if missing:
        raise FileNotFoundError(f"object meshes not found: {', '.join(missing[:5])}"
                                + (" ..." if len(missing) > 5 else ""))
    # largest meshes first, so the pool does not end on one long job
    order = sorted(ids, key=lambda i: -layout.model_ply(i).stat().st_size)
    return _run_all(annotate_object, layout.root, ids, settings, workers, "object labels",
                    progress, order, scheduler)


def annotate_scenes(root: str | Path, scene_ids: Iterable[int], settings: AnnotationSettings | None = None,
                    workers: int = 1, progress: bool = True, scheduler: object | None = None) -> list[Path]:
    """Collision labels of every scene; returns their paths in ``scene_ids`` order.

    workers, scheduler: as for :func:`annotate_objects` (one task per scene).

    Needs the object labels of every object in each scene (annotate_objects).
    """
    settings = settings or AnnotationSettings()
    layout = Layout(root)
    ids = [int(i) for i in scene_ids]
    for i in ids:
        for obj_id in read_object_id_list(layout.object_id_list(i)):
            if object_label_shapes(layout, obj_id, settings) is None:
                raise FileNotFoundError(
                    f"scene {i}: grasp labels of object {obj_id} missing or incomplete at "
                    f"{layout.grasp_label(obj_id)}; run annotate_objects first")
    return _run_all(annotate_scene, layout.root, ids, settings, workers, "collision labels",
                    progress, scheduler=scheduler)
