"""Per-frame ground truth for the benchmark: objects, poses, models, table.

A :class:`FrameGroundTruth` holds, for one camera frame, the objects in the
scene (ids and poses ``T_camera<-object``, metres), each object's
:class:`ObjectModel` (the model's vertices voxel-sampled at 0.008 m for
grasp assignment and collision checks, and a :class:`MeshRaycaster` of its
mesh for force closure, both in the object frame) and the table pose
``T_camera<-table`` (table top is the plane z = 0 of the table frame).

It is built from a dataset root (``FrameGroundTruth.from_root``, reading the
frame's ``annotations/%04d.xml``, the camera's ``camera_poses.npy`` and
``cam0_wrt_table.npy`` as the reference evaluator does: the table pose is
``inv(cam0_wrt_table @ camera_poses[ann_id])``) or by hand from meshes
(``FrameGroundTruth.from_meshes``) for analytic tests.

Geometry per object is loaded once and shared through a :class:`ModelCache`
(bounded LRU), so a scene's 256 frames read each model once.

Model files, as the reference reads them: the vertices of
``models/%03d/nontextured.ply`` (read as a point cloud, then Open3D's voxel
down-sampling at 0.008 m); the force-closure mesh is ``textured.obj`` (the
mesh the reference's signed distance fields were computed from) when it
exists, else ``nontextured.ply``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from .._native import import_open3d
from ..dataset.annotations_xml import read_annotations
from ..dataset.layout import Layout
from ..force_closure import MeshRaycaster
from ..gripper import table_points
from ..sdf import GridSdf, load_or_build_sdf

#: Voxel size (m) of the model points used for assignment and collision checks.
MODEL_VOXEL_SIZE = 0.008
#: The reference's table slab: 1 x 1 x 0.05 m sampled every 0.008 m.
TABLE_SIZE = (1.0, 1.0, 0.05)
TABLE_SPACING = 0.008

_TABLE_BLOCK: np.ndarray | None = None


def table_block() -> np.ndarray:
    """The reference table grid in the table frame as a (ny, nx, nz, 3) block
    (cached, read-only): ``table_block().reshape(-1, 3)`` is
    ``table_points(1.0, 1.0, 0.05, 0.008)`` point for point."""
    global _TABLE_BLOCK
    if _TABLE_BLOCK is None:
        counts = [max(2, int(size / TABLE_SPACING)) for size in TABLE_SIZE]
        grid = table_points(*TABLE_SIZE, TABLE_SPACING)
        _TABLE_BLOCK = grid.reshape(counts[1], counts[0], counts[2], 3)
        _TABLE_BLOCK.setflags(write=False)
    return _TABLE_BLOCK


def table_grid() -> np.ndarray:
    """(M, 3) table slab points in the table frame (cached; do not modify)."""
    return table_block().reshape(-1, 3)


def _index_range(values: np.ndarray, lo: float, hi: float) -> slice:
    """Slice of the sorted 1-D ``values`` that covers [lo, hi] (with one sample of slack)."""
    start = max(int(np.searchsorted(values, lo, side="left")) - 1, 0)
    stop = int(np.searchsorted(values, hi, side="right")) + 1
    return slice(start, stop)


def voxel_sample(points: np.ndarray, voxel_size: float = MODEL_VOXEL_SIZE) -> np.ndarray:
    """Open3D voxel down-sampling (mean of the points in each voxel), as the reference does."""
    o3d = import_open3d()
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(pts) == 0:
        raise ValueError("cannot voxel-sample an empty point set")
    cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    return np.asarray(cloud.voxel_down_sample(voxel_size).points)


def _rigid(T: np.ndarray, what: str) -> np.ndarray:
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (4, 4) or not np.isfinite(T).all():
        raise ValueError(f"{what}: expected a finite 4x4 matrix, got shape {T.shape}")
    R = T[:3, :3]
    if np.abs(R.T @ R - np.eye(3)).max() > 1e-3 or np.linalg.det(R) < 0:
        raise ValueError(f"{what}: rotation block is not a proper rotation")
    return T


@dataclass
class ObjectModel:
    """Geometry of one object in its own frame (metres)."""

    obj_id: int
    points: np.ndarray  # (P, 3) voxel-sampled model points
    raycaster: MeshRaycaster  # mesh for the force-closure contacts
    sdf_file: Path | None = None  # the dataset's dex-net SDF (textured.sdf), if any
    _tree: cKDTree | None = field(default=None, repr=False)
    _sdf: GridSdf | None = field(default=None, repr=False)

    @property
    def sdf(self) -> GridSdf:
        """The object's SDF as the reference evaluator reads it (object frame,
        metres): the dataset's ``textured.sdf`` when present, else built from
        the mesh as dex-net's SDFGen builds it; loaded once, cached on disk
        (:func:`graspnet_ros.sdf.load_or_build_sdf`)."""
        if self._sdf is None:
            self._sdf = load_or_build_sdf(self.raycaster.vertices, self.raycaster.faces, self.sdf_file)
        return self._sdf

    @property
    def tree(self) -> cKDTree:
        """k-d tree over ``points`` (object frame), built once."""
        if self._tree is None:
            self._tree = cKDTree(self.points)
        return self._tree

    @classmethod
    def from_mesh(cls, obj_id: int, vertices: np.ndarray, faces: np.ndarray,
                  voxel_size: float = MODEL_VOXEL_SIZE) -> "ObjectModel":
        """Model points = the mesh vertices voxel-sampled; contacts on the same mesh."""
        return cls(int(obj_id), voxel_sample(vertices, voxel_size), MeshRaycaster(vertices, faces))

    @classmethod
    def from_trimesh(cls, obj_id: int, mesh, voxel_size: float = MODEL_VOXEL_SIZE) -> "ObjectModel":
        return cls.from_mesh(obj_id, np.asarray(mesh.vertices), np.asarray(mesh.faces), voxel_size)


def _load_mesh(path: Path) -> MeshRaycaster:
    """Ray caster of a mesh file (Open3D's reader: fast on large OBJ/PLY files)."""
    o3d = import_open3d()
    mesh = o3d.io.read_triangle_mesh(str(path))
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    if len(faces) == 0:
        raise ValueError(f"{path}: cannot read a triangle mesh (no faces)")
    return MeshRaycaster(vertices, faces)


def load_object_model(layout: Layout, obj_id: int, voxel_size: float = MODEL_VOXEL_SIZE) -> ObjectModel:
    """Read one object's model from a dataset root (see the module docstring)."""
    o3d = import_open3d()
    ply = layout.model_ply(obj_id)
    if not ply.is_file():
        raise FileNotFoundError(
            f"object {obj_id} is annotated but its model is missing: {ply} "
            "(is --root the dataset root with models/?)")
    vertices = np.asarray(o3d.io.read_point_cloud(str(ply)).points)
    if len(vertices) == 0:
        raise ValueError(f"{ply}: no vertices")
    obj = layout.model_obj(obj_id)
    mesh = _load_mesh(obj if obj.is_file() else ply)
    return ObjectModel(int(obj_id), voxel_sample(vertices, voxel_size), mesh,
                       layout.model_dir(obj_id) / "textured.sdf")


class ModelCache:
    """Object models of one dataset root, loaded on first use, LRU-bounded."""

    def __init__(self, root: str | Path, max_objects: int = 64,
                 voxel_size: float = MODEL_VOXEL_SIZE) -> None:
        self.layout = Layout(root)
        self.max_objects = max_objects
        self.voxel_size = voxel_size
        self._models: OrderedDict[int, ObjectModel] = OrderedDict()

    def __len__(self) -> int:
        return len(self._models)

    def get(self, obj_id: int) -> ObjectModel:
        obj_id = int(obj_id)
        model = self._models.pop(obj_id, None)
        if model is None:
            model = load_object_model(self.layout, obj_id, self.voxel_size)
        self._models[obj_id] = model
        while len(self._models) > self.max_objects:
            self._models.popitem(last=False)
        return model


@dataclass
class SceneCamera:
    """Per-scene camera files: T_cam0<-cam_i for every frame and T_table<-cam0."""

    camera_poses: np.ndarray  # (F, 4, 4)
    cam0_wrt_table: np.ndarray  # (4, 4)

    @classmethod
    def load(cls, layout: Layout, scene_id: int, camera: str) -> "SceneCamera":
        paths = layout.camera_poses(scene_id, camera), layout.cam0_wrt_table(scene_id, camera)
        for p in paths:
            if not p.is_file():
                raise FileNotFoundError(f"scene {scene_id} ({camera}): missing {p}")
        poses = np.load(paths[0], allow_pickle=False)
        align = np.load(paths[1], allow_pickle=False)
        if poses.ndim != 3 or poses.shape[1:] != (4, 4):
            raise ValueError(f"{paths[0]}: expected (frames, 4, 4), got {poses.shape}")
        return cls(poses.astype(np.float64), _rigid(align, str(paths[1])))

    def table_pose(self, ann_id: int) -> np.ndarray:
        """T_camera_i<-table of frame ann_id."""
        if not 0 <= ann_id < len(self.camera_poses):
            raise ValueError(f"frame {ann_id} is past camera_poses.npy ({len(self.camera_poses)} frames)")
        return np.linalg.inv(self.cam0_wrt_table @ self.camera_poses[ann_id])


@dataclass
class FrameGroundTruth:
    """Objects, poses (T_camera<-object), models and table of one frame."""

    obj_ids: np.ndarray  # (n,) int
    poses: np.ndarray  # (n, 4, 4)
    models: list[ObjectModel]
    table_pose: np.ndarray | None = None  # (4, 4) T_camera<-table; None: no table
    name: str = "frame"
    _posed: list[np.ndarray] | None = field(default=None, repr=False)
    _table: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.obj_ids = np.asarray(self.obj_ids, dtype=np.int64).reshape(-1)
        self.poses = np.asarray(self.poses, dtype=np.float64).reshape(-1, 4, 4)
        n = len(self.obj_ids)
        if len(self.poses) != n or len(self.models) != n:
            raise ValueError(f"{self.name}: {n} object ids, {len(self.poses)} poses and "
                             f"{len(self.models)} models; they must match one to one")
        if n == 0:
            raise ValueError(f"{self.name}: no objects annotated; nothing to evaluate grasps against")
        for oid, pose, model in zip(self.obj_ids, self.poses, self.models):
            _rigid(pose, f"{self.name}: pose of object {oid}")
            if model.obj_id != oid:
                raise ValueError(f"{self.name}: model of object {model.obj_id} given for object {oid}")
        if self.table_pose is not None:
            self.table_pose = _rigid(self.table_pose, f"{self.name}: table pose")

    def __len__(self) -> int:
        return len(self.obj_ids)

    @classmethod
    def from_meshes(cls, obj_ids, poses, meshes, table_pose: np.ndarray | None = None,
                    name: str = "frame", voxel_size: float = MODEL_VOXEL_SIZE) -> "FrameGroundTruth":
        """Build by hand: trimesh meshes in their object frames, poses T_camera<-object."""
        models = [ObjectModel.from_trimesh(i, m, voxel_size) for i, m in zip(obj_ids, meshes)]
        return cls(np.asarray(obj_ids), np.asarray(poses), models, table_pose, name)

    @classmethod
    def from_root(cls, root: str | Path, scene_id: int, camera: str, ann_id: int,
                  cache: ModelCache | None = None,
                  scene_camera: SceneCamera | None = None) -> "FrameGroundTruth":
        """Read one frame of a dataset root (real or synthetic GraspNet layout)."""
        layout = Layout(root)
        cache = cache if cache is not None else ModelCache(root)
        if scene_camera is None:
            scene_camera = SceneCamera.load(layout, scene_id, camera)
        objects = read_annotations(layout.frame_file(scene_id, camera, "annotations", ann_id))
        name = f"scene {scene_id} {camera} frame {ann_id}"
        return cls(np.array([o.obj_id for o in objects], dtype=np.int64),
                   np.array([o.pose for o in objects]).reshape(-1, 4, 4),
                   [cache.get(o.obj_id) for o in objects], scene_camera.table_pose(ann_id), name)

    # -- derived geometry, camera frame ------------------------------------
    def posed_models(self) -> list[np.ndarray]:
        """Model points of each object in the camera frame (m), cached."""
        if self._posed is None:
            self._posed = [m.points @ T[:3, :3].T + T[:3, 3] for m, T in zip(self.models, self.poses)]
        return self._posed

    def table_points(self) -> np.ndarray:
        """(M, 3) all table slab points in the camera frame (empty without a table)."""
        if self._table is None:
            if self.table_pose is None:
                self._table = np.zeros((0, 3))
            else:
                T = self.table_pose
                self._table = table_grid() @ T[:3, :3].T + T[:3, 3]
        return self._table

    def table_points_in_box(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Table points (camera frame) strictly inside the camera-frame box (lo, hi).

        The same points as cropping :meth:`table_points`, but only the grid
        block that can reach the box is transformed: the box's corners, taken
        to the table frame, bound the grid indices.
        """
        if self.table_pose is None:
            return np.zeros((0, 3))
        T = self.table_pose
        corners = np.stack(np.meshgrid(*zip(lo, hi), indexing="ij"), axis=-1).reshape(-1, 3)
        local = (corners - T[:3, 3]) @ T[:3, :3]  # to the table frame
        block = table_block()
        ys = _index_range(block[:, 0, 0, 1], local[:, 1].min(), local[:, 1].max())
        xs = _index_range(block[0, :, 0, 0], local[:, 0].min(), local[:, 0].max())
        zs = _index_range(block[0, 0, :, 2], local[:, 2].min(), local[:, 2].max())
        sub = block[ys, xs, zs].reshape(-1, 3)
        return crop_box(sub @ T[:3, :3].T + T[:3, 3], lo, hi)


def crop_box(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Points strictly inside the axis-aligned box (lo, hi), as the reference crops."""
    inside = (points[:, 0] > lo[0]) & (points[:, 0] < hi[0])
    inside &= (points[:, 1] > lo[1]) & (points[:, 1] < hi[1])
    inside &= (points[:, 2] > lo[2]) & (points[:, 2] < hi[2])
    return points[inside]
