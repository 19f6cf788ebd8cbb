"""Reader of a GraspNet-1Billion dataset root (the real one or a synthetic one).

Usage::

    ds = GraspNetDataset("/data/graspnet", camera="realsense")
    for scene_id in ds.scene_ids("seen"):
        frame = ds.frame(scene_id, 0)           # images load on first access
        cloud = frame_point_cloud(frame, workspace="table")
        grasps = ds.ground_truth_grasps(frame)  # GraspGroup in the camera frame

Frames and poses (metres throughout):

* ``Frame.object_poses[i]``: T_cam<-obj of ``Frame.object_ids[i]``, read from
  the frame's ``annotations/%04d.xml``, which is where the reference
  evaluator takes them from (``meta/%04d.mat`` holds the same poses).
* ``Frame.camera_pose``: T_cam0<-cam (``camera_poses.npy[ann_id]``).
* ``Frame.cam0_wrt_table``: T_table<-cam0; ``Frame.table_pose`` = T_table<-cam.

Object meshes, grasp labels and collision labels are cached per dataset;
grasp and collision labels stored uncompressed are memory-mapped.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..grasp import GraspGroup
from .annotations_xml import read_annotations
from .cloud import frame_point_cloud  # noqa: F401  (re-exported for convenience)
from .grasp_labels import (DEFAULT_FRIC_COEF_THRESH, GraspLabels, load_collision_labels,
                           load_grasp_labels, load_tolerance, project_grasp_labels)
from .layout import Layout, check_camera, scene_ids as split_scene_ids
from .meta import FrameMeta, read_meta

#: Default voxel size (m) of :meth:`GraspNetDataset.model_points`, the evaluator's.
MODEL_VOXEL = 0.008


# -- small file helpers ---------------------------------------------------------

def read_png(path: Path, kind: str) -> np.ndarray:
    """Read a frame PNG and check its type.

    kind ``rgb``: 8-bit colour, returned (H, W, 3) uint8 in RGB order;
    ``depth``: 16-bit single channel (uint16); ``label``: 8- or 16-bit single
    channel. Raises FileNotFoundError / ValueError naming the file.
    """
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{kind} image not found: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f"{path}: unreadable {kind} PNG (corrupt or not an image)")
    if kind == "rgb":
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] not in (3, 4):
            raise ValueError(f"{path}: rgb image must be 8-bit colour, got {img.dtype} {img.shape}")
        return np.ascontiguousarray(img[:, :, 2::-1])
    if img.ndim != 2:
        raise ValueError(f"{path}: {kind} image must have one channel, got shape {img.shape}")
    if kind == "depth" and img.dtype != np.uint16:
        raise ValueError(f"{path}: depth image must be 16-bit (millimetres), got {img.dtype}")
    if kind == "label" and img.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: label image must be 8- or 16-bit, got {img.dtype}")
    return img


def load_matrix_file(path: Path, shape: tuple[int | None, ...], what: str) -> np.ndarray:
    """Load a small .npy of the given shape (None = any length) as float64."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from exc
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape)):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{path}: {what} must have shape {want}, got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{path}: {what} contains NaN or infinite values")
    return arr


def read_object_id_list(path: Path) -> list[int]:
    """0-based object ids, one per line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"object id list not found: {path}")
    try:
        ids = [int(line) for line in path.read_text().split()]
    except ValueError as exc:
        raise ValueError(f"{path}: every line must be one integer object id ({exc})") from exc
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: object ids repeat: {ids}")
    return ids


class _LRU:
    """A tiny least-recently-used cache of computed values."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict = OrderedDict()

    def get(self, key, make: Callable):
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = make()
        self._data[key] = value
        while len(self._data) > self.size:
            self._data.popitem(last=False)
        return value


# -- frames ----------------------------------------------------------------------

@dataclass
class Frame:
    """One image of one camera in one scene. Images load lazily on first access."""

    scene_id: int
    ann_id: int
    camera: str
    intrinsics: np.ndarray  # (3, 3) camK
    camera_pose: np.ndarray  # (4, 4) T_cam0<-cam
    cam0_wrt_table: np.ndarray  # (4, 4) T_table<-cam0
    object_ids: np.ndarray  # (n,) 0-based ids, annotation order
    object_poses: np.ndarray  # (n, 4, 4) T_cam<-obj, metres
    paths: dict[str, Path] = field(repr=False)  # rgb, depth, label, meta, annotations

    @functools.cached_property
    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8, RGB order."""
        return read_png(self.paths["rgb"], "rgb")

    @functools.cached_property
    def meta(self) -> FrameMeta:
        return read_meta(self.paths["meta"])

    @property
    def factor_depth(self) -> float:
        """Depth PNG units per metre (from the meta file; 1000 in GraspNet)."""
        factor = float(self.meta.factor_depth)
        if not factor > 0:
            raise ValueError(f"{self.paths['meta']}: factor_depth must be > 0, got {factor}")
        return factor

    @functools.cached_property
    def depth(self) -> np.ndarray:
        """(H, W) float32 metres; 0 where there is no measurement."""
        return read_png(self.paths["depth"], "depth").astype(np.float32) / np.float32(self.factor_depth)

    @functools.cached_property
    def label(self) -> np.ndarray:
        """(H, W) int32: 0 background, else object id + 1."""
        return read_png(self.paths["label"], "label").astype(np.int32)

    @property
    def table_pose(self) -> np.ndarray:
        """(4, 4) T_table<-cam."""
        return self.cam0_wrt_table @ self.camera_pose

    def object_pose(self, obj_id: int) -> np.ndarray:
        """(4, 4) T_cam<-obj of one object of this frame."""
        hits = np.flatnonzero(self.object_ids == obj_id)
        if len(hits) == 0:
            raise ValueError(f"object {obj_id} is not in scene {self.scene_id} frame {self.ann_id} "
                             f"(objects {self.object_ids.tolist()})")
        return self.object_poses[hits[0]]


# -- the dataset --------------------------------------------------------------------

class GraspNetDataset:
    """A GraspNet-1Billion dataset root read through :class:`Layout`.

    root: the folder holding models/, grasp_label/, collision_label/, scenes/.
    camera: ``realsense`` or ``kinect``. ``cache_size``: how many objects'
    meshes, model points and grasp labels (and scenes' collision labels) stay
    cached.
    """

    def __init__(self, root: str | Path, camera: str = "realsense", cache_size: int = 100) -> None:
        self.layout = Layout(root)
        if not self.layout.root.is_dir():
            raise FileNotFoundError(f"dataset root not found: {self.layout.root}")
        self.camera = check_camera(camera)
        self._meshes = _LRU(cache_size)
        self._model_points = _LRU(cache_size)
        self._grasp_labels = _LRU(cache_size)
        self._collision = _LRU(cache_size)
        self._scene_files = _LRU(cache_size)

    def __repr__(self) -> str:
        return f"GraspNetDataset('{self.layout.root}', camera='{self.camera}')"

    # -- scenes ---------------------------------------------------------------
    def scene_ids(self, split: str | None = None) -> list[int]:
        """Scene ids present under scenes/, optionally only those of a split
        (train, seen, similar, novel, test; None or "all" for every scene)."""
        present = self.layout.scenes()
        if split is None or split == "all":
            return present
        wanted = set(split_scene_ids(split))
        return [s for s in present if s in wanted]

    def object_ids(self, scene_id: int) -> list[int]:
        """The scene's object ids in ``object_id_list.txt`` order (0-based)."""
        return list(self._scene_file(scene_id, "ids"))

    def _scene_file(self, scene_id: int, what: str):
        lay = self.layout

        def make():
            if what == "ids":
                return tuple(read_object_id_list(lay.object_id_list(scene_id)))
            if what == "camK":
                return load_matrix_file(lay.camK(scene_id, self.camera), (3, 3), "camK")
            if what == "poses":
                return load_matrix_file(lay.camera_poses(scene_id, self.camera), (None, 4, 4),
                                        "camera_poses")
            if what == "align":
                return load_matrix_file(lay.cam0_wrt_table(scene_id, self.camera), (4, 4),
                                        "cam0_wrt_table")
            raise KeyError(what)

        return self._scene_files.get((scene_id, what), make)

    def num_frames(self, scene_id: int) -> int:
        """Frames of this camera in the scene (length of camera_poses.npy; 256 in GraspNet)."""
        return len(self._scene_file(scene_id, "poses"))

    def frame_ids(self, split: str | None = None) -> Iterator[tuple[int, int]]:
        """(scene_id, ann_id) of every frame of the present scenes (of a split)."""
        for scene_id in self.scene_ids(split):
            for ann_id in range(self.num_frames(scene_id)):
                yield scene_id, ann_id

    def frame(self, scene_id: int, ann_id: int) -> Frame:
        """One frame: poses and intrinsics now, images on first access."""
        poses = self._scene_file(scene_id, "poses")
        if not 0 <= ann_id < len(poses):
            raise ValueError(f"scene {scene_id} ({self.camera}) has frames 0..{len(poses) - 1}, "
                             f"not {ann_id}")
        lay = self.layout
        paths = {kind: lay.frame_file(scene_id, self.camera, kind, ann_id)
                 for kind in ("rgb", "depth", "label", "meta", "annotations")}
        objects = read_annotations(paths["annotations"])
        ids = np.array([o.obj_id for o in objects], dtype=np.int64)
        obj_poses = np.stack([o.pose for o in objects]) if objects else np.zeros((0, 4, 4))
        return Frame(scene_id, ann_id, self.camera, self._scene_file(scene_id, "camK"), poses[ann_id],
                     self._scene_file(scene_id, "align"), ids, obj_poses, paths)

    # -- objects ----------------------------------------------------------------
    def model_mesh(self, obj_id: int):
        """trimesh.Trimesh of ``models/%03d/nontextured.ply`` (textured.obj if the
        ply has no faces), object frame, metres. Cached."""
        return self._meshes.get(obj_id, lambda: self._load_mesh(obj_id))

    def _load_mesh(self, obj_id: int):
        import trimesh

        tried = []
        for path in (self.layout.model_ply(obj_id), self.layout.model_obj(obj_id)):
            if not path.is_file():
                tried.append(f"{path} (missing)")
                continue
            try:
                geom = trimesh.load(path, force="mesh", process=False)
            except Exception as exc:  # trimesh raises many types on bad files
                raise ValueError(f"{path}: unreadable mesh ({exc})") from exc
            if len(getattr(geom, "faces", ())) > 0:
                if not np.isfinite(geom.vertices).all():
                    raise ValueError(f"{path}: mesh vertices contain NaN or infinite values")
                return geom
            tried.append(f"{path} (no faces)")
        if all("(missing)" in t for t in tried):
            raise FileNotFoundError(f"object {obj_id} model not found: {self.layout.model_ply(obj_id)}")
        raise ValueError(f"object {obj_id}: no triangle mesh in " + ", ".join(tried))

    def model_points(self, obj_id: int, voxel: float = MODEL_VOXEL) -> np.ndarray:
        """(M, 3) float64 points of an object's surface, voxel-downsampled, object frame (m).

        The evaluator's model cloud. When the ply has at least one vertex per
        (voxel/3)^2 of surface (the real dataset's dense scans), its vertices
        alone are downsampled: the reference's ``voxel_down_sample(ply points,
        voxel)``. A mesh with fewer vertices (synthetic primitives: a box has
        8) is first sampled uniformly on its surface at that density, so the
        downsampled cloud covers the whole surface either way.
        Deterministic (seeded by the object id). Cached.
        """
        if not voxel > 0:
            raise ValueError(f"voxel size must be > 0 m, got {voxel}")
        return self._model_points.get((obj_id, float(voxel)), lambda: self._sample_model(obj_id, voxel))

    def _sample_model(self, obj_id: int, voxel: float) -> np.ndarray:
        import trimesh

        from .._native import import_open3d

        mesh = self.model_mesh(obj_id)
        points = np.asarray(mesh.vertices, dtype=np.float64)
        needed = int(np.ceil(mesh.area / (voxel / 3.0) ** 2))
        if len(points) < needed:
            sampled, _ = trimesh.sample.sample_surface(mesh, needed, seed=obj_id)
            points = np.concatenate([points, sampled])
        o3d = import_open3d()
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points))
        return np.asarray(cloud.voxel_down_sample(voxel).points)

    def grasp_labels(self, obj_id: int) -> GraspLabels:
        """Object grasp labels (memory-mapped where stored uncompressed). Cached."""
        return self._grasp_labels.get(obj_id, lambda: load_grasp_labels(self.layout.grasp_label(obj_id)))

    def tolerance(self, obj_id: int) -> np.ndarray | None:
        """(Np, V, A, D) GAF tolerance labels (m), or None if the file is absent."""
        path = self.layout.tolerance_label(obj_id)
        if not path.is_file():
            return None
        return load_tolerance(path)

    def collision_labels(self, scene_id: int) -> list[np.ndarray]:
        """Scene collision labels, one (Np_i, V, A, D) bool array per object in
        ``object_id_list`` order. Cached."""
        def make():
            return load_collision_labels(self.layout.collision_label(scene_id),
                                         count=len(self.object_ids(scene_id)))

        return self._collision.get(scene_id, make)

    # -- ground truth -----------------------------------------------------------------
    def ground_truth_grasps(self, frame: Frame, fric_coef_thresh: float = DEFAULT_FRIC_COEF_THRESH,
                            max_per_object: int | None = None, seed: int = 0,
                            object_ids: list[int] | None = None,
                            use_collision: bool = True) -> GraspGroup:
        """The frame's labelled grasps in its camera frame (reference ``loadGrasp(format='6d')``).

        Per object of the frame's annotation: grasps with
        ``0 < mu <= fric_coef_thresh`` that do not collide in the scene's
        collision labels, score 1.1 - mu, object_id set. ``max_per_object``
        caps each object's count by a seeded random subsample;
        ``object_ids`` restricts to some objects; ``use_collision=False``
        ignores the scene collision labels.
        """
        scene_list = self.object_ids(frame.scene_id)
        collisions = self.collision_labels(frame.scene_id) if use_collision else None
        groups = []
        for obj_id, pose in zip(frame.object_ids.tolist(), frame.object_poses):
            if object_ids is not None and obj_id not in object_ids:
                continue
            if obj_id not in scene_list:
                raise ValueError(f"{frame.paths['annotations']}: object {obj_id} is not in "
                                 f"{self.layout.object_id_list(frame.scene_id)} {scene_list}")
            labels = self.grasp_labels(obj_id)
            collision = collisions[scene_list.index(obj_id)] if collisions is not None else None
            if collision is not None and collision.shape != labels.scores.shape:
                raise ValueError(
                    f"{self.layout.collision_label(frame.scene_id)}: arr_{scene_list.index(obj_id)} "
                    f"{collision.shape} does not match object {obj_id}'s grasp labels "
                    f"{labels.scores.shape}")
            groups.append(project_grasp_labels(labels, pose, obj_id, collision, fric_coef_thresh,
                                               max_per_object, seed + obj_id,
                                               frame_id=frame.camera))
        if not groups:
            return GraspGroup(frame_id=frame.camera)
        return GraspGroup.concatenate(groups)
