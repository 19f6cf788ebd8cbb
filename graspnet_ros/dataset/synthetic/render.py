"""Ray-cast rendering of a settled scene: z-depth, instance labels, shaded RGB.

The scene lives in the table frame (metres, table top at z = 0, z up); a
camera pose is T_table<-camera of a REP-103 optical frame. One ray per
pixel goes through the pixel centre as OpenCV projects it (direction
((u - cx) / fx, (v - cy) / fy, 1) in the camera frame), so the hit distance
along that unnormalised direction is the z-depth. Open3D's
``RaycastingScene`` does the ray casting (about 50-80 ms at 1280x720).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import trimesh

from ..._native import import_open3d
from .cameras import CameraModel

#: Half-size of the square table top (m) and its albedo.
TABLE_HALF = 0.8
TABLE_COLOUR = np.array([0.78, 0.72, 0.62])
BACKGROUND_COLOUR = np.array([0.18, 0.18, 0.20])


@dataclass
class RayHits:
    """Noiseless per-pixel render of one view (H, W arrays)."""

    depth: np.ndarray  # float32 z-depth, m; 0 where no surface
    index: np.ndarray  # int32: object index 0..n-1, n for the table, n + 1.. background, -1 for no hit
    normal: np.ndarray  # float32 (H, W, 3) unit surface normal in the camera frame, facing the camera
    cos_incidence: np.ndarray  # float32 |cos| of the angle between ray and normal (0 where no hit)
    point: np.ndarray  # float32 (H, W, 3) hit point in the table frame

    def label(self, obj_ids: np.ndarray | list[int]) -> np.ndarray:
        """uint8 label image: obj_id + 1 on objects, 0 on table and background."""
        lut = np.zeros(len(obj_ids) + 2, dtype=np.uint8)
        lut[:len(obj_ids)] = np.asarray(obj_ids) + 1
        # index -1 reads lut[-1] = 0; the table (n) and background parts (n + 1 ..) read lut[n] = 0
        return lut[np.minimum(self.index, len(obj_ids))]


@functools.cache
def pixel_rays(camera: CameraModel) -> np.ndarray:
    """(H, W, 3) float32 ray directions in the camera frame with z = 1 (OpenCV
    pixel centres); cached per camera model, read-only."""
    u, v = np.meshgrid(np.arange(camera.width, dtype=np.float64), np.arange(camera.height, dtype=np.float64))
    rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], axis=-1)
    rays = rays.astype(np.float32)
    rays.flags.writeable = False
    return rays


@functools.cache
def _inverse_ray_length(camera: CameraModel) -> np.ndarray:
    inv = (1.0 / np.linalg.norm(pixel_rays(camera).astype(np.float64), axis=-1)).astype(np.float32)
    inv.flags.writeable = False
    return inv


class SceneRaycaster:
    """Posed object meshes plus the table top (and any background), ready to be rendered from any camera.

    Indices (:attr:`RayHits.index`): objects 0..n-1, the table n, background
    parts n + 1 .. n + k, -1 where a ray hits nothing.
    """

    def __init__(self, meshes: list[trimesh.Trimesh], poses: np.ndarray, table: bool | trimesh.Trimesh = True,
                 background: Sequence[trimesh.Trimesh] = ()) -> None:
        """``meshes`` in their object frames; ``poses`` (n, 4, 4) T_table<-object.

        ``table``: True = the square table top of half-size :data:`TABLE_HALF`
        at z = 0, False = none, or a mesh in the table frame (m) used
        instead (a lab scene's table, :mod:`.lab`). ``background``: meshes in
        the table frame (floor, walls, robot, ...), indices n + 1 onwards.
        """
        if len(meshes) != len(poses):
            raise ValueError(f"{len(meshes)} meshes but {len(poses)} poses")
        o3d = import_open3d()
        self._scene = o3d.t.geometry.RaycastingScene()
        self.num_objects = len(meshes)
        self.num_background = len(background)
        geometry_to_index = {}

        def add(verts: np.ndarray, faces: np.ndarray, index: int) -> None:
            gid = self._scene.add_triangles(o3d.core.Tensor(np.asarray(verts, dtype=np.float32)),
                                            o3d.core.Tensor(np.asarray(faces, dtype=np.uint32)))
            geometry_to_index[gid] = index

        for i, (mesh, pose) in enumerate(zip(meshes, np.asarray(poses, dtype=np.float64))):
            add(mesh.vertices @ pose[:3, :3].T + pose[:3, 3], mesh.faces, i)
        if isinstance(table, trimesh.Trimesh):
            add(table.vertices, table.faces, self.num_objects)
        elif table:
            h = TABLE_HALF
            add(np.array([[-h, -h, 0], [h, -h, 0], [h, h, 0], [-h, h, 0]]), np.array([[0, 1, 2], [0, 2, 3]]),
                self.num_objects)
        for k, mesh in enumerate(background):
            add(mesh.vertices, mesh.faces, self.num_objects + 1 + k)
        self._lut = np.full(max(geometry_to_index, default=0) + 2, -1, dtype=np.int32)
        for gid, idx in geometry_to_index.items():
            self._lut[gid] = idx
        self._invalid_id = self._scene.INVALID_ID

    def cast(self, camera: CameraModel, pose: np.ndarray, nthreads: int = 0,
             rays: np.ndarray | None = None) -> RayHits:
        """Render the view of ``camera`` at ``pose`` = T_table<-camera (``nthreads``: 0 = all cores).

        ``rays``: (H, W, 3) float32 camera-frame directions with z = 1 to use
        instead of the pinhole ones (a lens with distortion); depth stays z-depth."""
        o3d = import_open3d()
        pose = np.asarray(pose, dtype=np.float64)
        rot = pose[:3, :3].astype(np.float32)
        dirs_cam = pixel_rays(camera) if rays is None else np.asarray(rays, np.float32)
        rays = np.empty(dirs_cam.shape[:2] + (6,), dtype=np.float32)
        rays[..., :3] = pose[:3, 3]
        rays[..., 3:] = cv2.transform(dirs_cam, rot)  # R d per pixel
        out = self._scene.cast_rays(o3d.core.Tensor(rays), nthreads=nthreads)
        t = out["t_hit"].numpy()
        gid = out["geometry_ids"].numpy()
        hit = gid != self._invalid_id
        index = self._lut[np.minimum(gid, len(self._lut) - 1)]  # misses land on the last entry, -1
        depth = np.where(hit, t, np.float32(0.0))
        normal = cv2.transform(out["primitive_normals"].numpy(), rot.T.copy())  # camera frame (R^T n), 0 for misses
        cos = (normal[..., 0] * dirs_cam[..., 0] + normal[..., 1] * dirs_cam[..., 1] + normal[..., 2]) \
            * (_inverse_ray_length(camera) if rays is None else 1.0 / np.linalg.norm(dirs_cam, axis=-1))
        normal *= np.where(cos > 0, np.float32(-1.0), np.float32(1.0))[..., None]  # face the camera
        point = rays[..., :3] + rays[..., 3:] * depth[..., None]
        return RayHits(depth, index, normal, np.abs(cos), point)

    def occluded(self, origins: np.ndarray, targets: np.ndarray, nthreads: int = 0) -> np.ndarray:
        """bool (...): whether any surface lies on the open segment from each
        origin to its target ((..., 3) table frame, m). Shadow rays: offset the
        origins off their surface first."""
        origins = np.asarray(origins, dtype=np.float32)
        return self.occluded_rays(np.concatenate([origins, np.asarray(targets, np.float32) - origins], axis=-1),
                                  nthreads)

    def occluded_rays(self, rays: np.ndarray, nthreads: int = 0) -> np.ndarray:
        """bool (...): whether a surface lies on each ray (..., 6) = (origin,
        target - origin), table frame, m, strictly between its two ends."""
        o3d = import_open3d()
        hit = self._scene.test_occlusions(o3d.core.Tensor(np.asarray(rays, np.float32)), tnear=0.0, tfar=0.999,
                                          nthreads=nthreads)
        return hit.numpy().view(bool) if hit.numpy().dtype == np.uint8 else hit.numpy().astype(bool)


def albedo_image(hits: RayHits, colours: np.ndarray,
                 surroundings: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Surface albedo in [0, 1]: object colours (n, 3), a faintly checkered table
    (5 cm squares) and a dark background. Returns float32 RGB (H, W, 3) and
    its grey level (H, W).

    ``surroundings``: (1 + k, 3) RGB albedo of the table then the raycaster's
    k background parts (a lab scene's :meth:`~.lab.LabScene.colours`);
    None = the default table colour and no background parts."""
    n = len(colours)
    rest = TABLE_COLOUR[None] if surroundings is None else np.asarray(surroundings, dtype=np.float64).reshape(-1, 3)
    palette = np.vstack([np.asarray(colours, dtype=np.float64).reshape(-1, 3), rest,
                         BACKGROUND_COLOUR]).astype(np.float32)
    slot = np.where(hits.index >= 0, hits.index, len(palette) - 1)
    checker = (np.floor(hits.point[..., 0] * 20.0) + np.floor(hits.point[..., 1] * 20.0)) % 2
    factor = np.where(slot == n, np.float32(0.93) + np.float32(0.07) * checker, np.float32(1.0))
    grey = np.take(palette.mean(axis=1), slot) * factor
    return np.take(palette, slot, axis=0) * factor[..., None], grey


def shade(hits: RayHits, albedo: np.ndarray, rng: np.random.Generator,
          light_cam: np.ndarray = np.array([-0.3, -0.6, 1.0]), noise: float = 2.0) -> np.ndarray:
    """uint8 (H, W, 3) RGB: Lambert shading with an ambient term and one light
    (direction in the camera frame, towards the scene), plus uniform sensor
    noise of standard deviation ``noise`` grey levels."""
    light = -np.asarray(light_cam, dtype=np.float64)
    light = (light / np.linalg.norm(light)).astype(np.float32)
    lambert = np.clip(hits.normal @ light, 0.0, 1.0)
    lit = np.where(hits.index >= 0, np.float32(0.35 * 255) + np.float32(0.65 * 255) * lambert, np.float32(255))
    rgb = albedo * lit[..., None]
    rgb += rng.random(albedo.shape, dtype=np.float32) * np.float32(noise * np.sqrt(12.0)) \
        + np.float32(0.5 - noise * np.sqrt(3.0))  # + 0.5 rounds on the cast below
    return np.clip(rgb, 0, 255).astype(np.uint8)
