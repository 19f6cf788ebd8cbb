"""A synthetic RGB-D camera: a cluttered table scene ray-cast with Open3D.

The scene lives in a table frame (metres, z up, table top at z = 0): a
table slab and a few boxes and cylinders standing on it, placed without
overlap from a seed. Each frame is rendered through pixel centres of the
configured camera model (GraspNet's RealSense or Kinect intrinsics, resized
by ``scale``) from the pose ``T_table<-optical`` of the REP-103 optical frame:

* depth: z-depth in metres (0 where a ray hits nothing), optionally with
  Gaussian noise growing with the square of the distance;
* rgb: each object's flat colour shaded by its surface normal (Lambert +
  ambient), which is enough for drawing grasps and for the detector (which
  uses depth only).

When the package's synthetic dataset generator
(``graspnet_ros.dataset.synthetic``) provides a scene renderer, it can be
passed in as ``scene``; anything with ``render(intrinsics, T_table_optical) ->
(rgb, depth)`` works. The built-in :class:`BoxesScene` keeps this camera
usable on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..views import look_at
from .base import CameraFrame, CameraIntrinsics, camera_model

__all__ = ["BoxesScene", "SyntheticCamera", "look_at", "OPTICAL_IN_LINK", "SceneRenderer"]

#: R_link<-optical: REP-103 body frame (x forward, y left, z up) to optical frame
#: (z forward, x right, y down).
OPTICAL_IN_LINK = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


class SceneRenderer(Protocol):
    """What :class:`SyntheticCamera` needs from a scene. For ``noise='sensor'``
    the scene also needs ``sensor_depth(model, intrinsics, T_world_optical,
    rng) -> depth`` (the simulated camera's depth, m, 0 = invalid)."""

    def render(self, intrinsics: CameraIntrinsics, T_world_optical: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class _Object:
    vertices: np.ndarray  # (V, 3) float32 table frame
    triangles: np.ndarray  # (F, 3) uint32
    color: np.ndarray  # (3,) float in [0, 1]


class BoxesScene:
    """A table with ``num_objects`` boxes and cylinders (3-9 cm) placed from ``seed``.

    ``meshes()`` returns the posed trimesh objects (table frame, metres), e.g.
    to check that detected grasps lie on them.
    """

    TABLE_COLOR = np.array([0.62, 0.55, 0.45])

    def __init__(self, num_objects: int = 5, seed: int = 0, area: float = 0.30) -> None:
        import trimesh

        if num_objects < 0:
            raise ValueError("num_objects must be >= 0")
        rng = np.random.default_rng(seed)
        table = trimesh.creation.box(extents=(2.0, 2.0, 0.05))
        table.apply_translation((0.0, 0.0, -0.025))
        self._table = table
        self._meshes: list = []
        colors = []
        placed: list[tuple[float, float, float]] = []  # x, y, footprint radius
        attempts = 0
        while len(self._meshes) < num_objects and attempts < 200 * max(1, num_objects):
            attempts += 1
            if rng.random() < 0.5:
                ext = rng.uniform([0.03, 0.03, 0.04], [0.08, 0.07, 0.10])
                mesh = trimesh.creation.box(extents=ext)
                radius = 0.5 * float(np.hypot(ext[0], ext[1]))
                height = ext[2]
            else:
                r, height = rng.uniform(0.02, 0.04), rng.uniform(0.05, 0.12)
                mesh = trimesh.creation.cylinder(radius=r, height=height, sections=32)
                radius = r
            xy = rng.uniform(-area / 2, area / 2, size=2)
            if any(np.hypot(xy[0] - x, xy[1] - y) < radius + rr + 0.01 for x, y, rr in placed):
                continue
            T = trimesh.transformations.rotation_matrix(rng.uniform(0, 2 * np.pi), (0, 0, 1))
            T[:3, 3] = (xy[0], xy[1], height / 2)
            mesh.apply_transform(T)
            self._meshes.append(mesh)
            placed.append((xy[0], xy[1], radius))
            colors.append(np.array(rng.uniform(0.15, 0.95, size=3)))
        self._objects = [_Object(np.asarray(m.vertices, np.float32), np.asarray(m.faces, np.uint32), c)
                         for m, c in zip([table] + self._meshes, [self.TABLE_COLOR] + colors)]
        self._scene = None
        self._raycaster = None  # for sensor_depth, built on first use

    def meshes(self) -> list:
        """The posed object meshes (without the table), table frame, metres."""
        return [m.copy() for m in self._meshes]

    def sensor_depth(self, model: str, intrinsics: CameraIntrinsics, T_world_optical: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """float32 (H, W) depth (m, 0 = invalid) of the simulated ``model`` camera
        (RealSense active stereo, Kinect time of flight) from T_world<-optical;
        infrared albedo = the grey level of each colour, nothing glossy."""
        from ..dataset.synthetic.render import SceneRaycaster
        from ..dataset.synthetic.sensors import camera_sensor_depth

        if self._raycaster is None:
            meshes = self._meshes + [self._table]
            self._raycaster = SceneRaycaster(meshes, np.tile(np.eye(4), (len(meshes), 1, 1)), table=False)
        albedo = np.array([float(np.mean(o.color)) for o in self._objects[1:] + self._objects[:1]] + [0.0])
        return camera_sensor_depth(model, self._raycaster, intrinsics, T_world_optical, albedo, rng=rng)

    def _raycasting_scene(self):
        if self._scene is None:
            from .._native import import_open3d

            o3d = import_open3d()
            scene = o3d.t.geometry.RaycastingScene()
            for obj in self._objects:
                scene.add_triangles(o3d.core.Tensor(obj.vertices), o3d.core.Tensor(obj.triangles))
            self._scene = (o3d, scene)
        return self._scene

    def render(self, intrinsics: CameraIntrinsics, T_world_optical: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """(rgb (H, W, 3) uint8, depth (H, W) float32 m) seen from T_world<-optical."""
        o3d, scene = self._raycasting_scene()
        T = np.asarray(T_world_optical, dtype=np.float64)
        u = (np.arange(intrinsics.width) - intrinsics.cx) / intrinsics.fx
        v = (np.arange(intrinsics.height) - intrinsics.cy) / intrinsics.fy
        dirs_cam = np.stack(np.broadcast_arrays(u[None, :], v[:, None], 1.0), axis=-1)  # z = 1
        dirs = dirs_cam @ T[:3, :3].T
        rays = np.concatenate([np.broadcast_to(T[:3, 3], dirs.shape), dirs], axis=-1).astype(np.float32)
        hit = scene.cast_rays(o3d.core.Tensor(rays))
        t = hit["t_hit"].numpy()  # z-depth since the camera-frame direction has z = 1
        ids = hit["geometry_ids"].numpy().astype(np.int64)
        valid = np.isfinite(t)
        depth = np.where(valid, t, 0.0).astype(np.float32)
        normals = hit["primitive_normals"].numpy()
        palette = np.stack([o.color for o in self._objects] + [np.zeros(3)])
        gid = np.where(valid, ids, len(self._objects))
        base = palette[np.clip(gid, 0, len(self._objects))]
        view = -dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
        light = np.array([0.3, -0.4, 1.0]) / np.linalg.norm([0.3, -0.4, 1.0])
        lambert = np.clip(np.abs((normals * light).sum(-1)), 0, 1)
        facing = np.clip(np.abs((normals * view).sum(-1)), 0, 1)
        shade = 0.35 + 0.45 * lambert + 0.2 * facing
        rgb = np.where(valid[..., None], base * shade[..., None], 0.0)
        return (np.clip(rgb * 255.0, 0, 255)).astype(np.uint8), depth


class SyntheticCamera:
    """A :class:`~graspnet_ros.cameras.base.Camera` rendering a synthetic table scene.

    model: 'realsense' or 'kinect' (GraspNet-1Billion colour intrinsics at
    1280x720), resized by ``scale``. T_world_optical: 4x4 pose of the optical
    frame in the scene's table frame (metres); default: 0.6 m from the table
    centre, looking down at 55 degrees (0.3 m back, 0.45 m up). depth_noise: standard deviation (m) of
    Gaussian depth noise at 1 m, scaling with distance squared (0 = exact).
    noise: 'simple' (that Gaussian noise) or 'sensor' (the camera simulated
    at every read, about 1 s per RealSense frame: active stereo, or the
    Kinect's time of flight; ``depth_noise`` is then unused).
    The scene is rendered once and reused when there is no noise, so reading
    is cheap at any rate. Stamps are wall-clock seconds at ``read()``.
    """

    name = "synthetic"

    def __init__(self, model: str = "realsense", scale: float = 0.5,
                 T_world_optical: np.ndarray | None = None, scene: SceneRenderer | None = None,
                 num_objects: int = 5, seed: int = 0, depth_noise: float = 0.0,
                 frame_id: str = "camera_color_optical_frame", noise: str = "simple") -> None:
        self._intrinsics = camera_model(model, scale)
        self.model = model
        self.frame_id = frame_id
        self.T_world_optical = (look_at((0.0, -0.30, 0.45), (0.0, 0.0, 0.03))
                                if T_world_optical is None else np.asarray(T_world_optical, np.float64))
        if self.T_world_optical.shape != (4, 4):
            raise ValueError("T_world_optical must be a 4x4 matrix")
        self.scene = scene if scene is not None else BoxesScene(num_objects, seed)
        self.depth_noise = float(depth_noise)
        if noise not in ("simple", "sensor"):
            raise ValueError(f"unknown depth noise model '{noise}'; use simple or sensor")
        if noise == "sensor" and not hasattr(self.scene, "sensor_depth"):
            raise ValueError(f"noise 'sensor' needs a scene with sensor_depth(); {type(self.scene).__name__} has none")
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self._cache: tuple[np.ndarray, np.ndarray] | None = None
        self._index = 0
        self._open = False

    @property
    def intrinsics(self) -> CameraIntrinsics:
        return self._intrinsics

    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free (rgb, depth) of the current pose (cached)."""
        if self._cache is None:
            self._cache = self.scene.render(self._intrinsics, self.T_world_optical)
        return self._cache

    def read(self, timeout: float = 1.0) -> CameraFrame:
        if not self._open:
            self.open()
        rgb, depth = self.render()
        if self.noise == "sensor":
            depth = self.scene.sensor_depth(self.model, self._intrinsics, self.T_world_optical, self._rng)
        elif self.depth_noise > 0:
            noise = self._rng.normal(0.0, self.depth_noise, size=depth.shape) * depth ** 2
            depth = np.where(depth > 0, depth + noise, 0.0).astype(np.float32)
        frame = CameraFrame(rgb, depth, self._intrinsics, time.time(), self.frame_id, self._index)
        self._index += 1
        return frame
