"""Synthetic scenes: choose objects, settle them, render and write every frame.

A scene's files follow the GraspNet-1Billion layout (``layout.py``); per
camera: ``rgb``, ``depth`` (uint16 mm, noisy), ``label`` (uint8, obj_id + 1,
from the noiseless render), ``meta``, ``annotations`` (object poses in that
frame's camera), ``camK.npy``, ``camera_poses.npy`` (T_cam0<-cam_i) and
``cam0_wrt_table.npy`` (T_table<-cam0). The table-frame object poses are
recoverable exactly as ``cam0_wrt_table @ T_cam0<-obj`` (frame 0's
annotations). ``object_id_list.txt`` is written last: its presence marks a
complete scene, and a re-run skips complete scenes; an incomplete scene
(or one with another frame count) is deleted, with its collision labels,
and generated again.

Everything follows from ``(seed, scene_id)``: the scene's random generator
is ``numpy.random.default_rng([seed, scene_id])``, so scenes do not depend on
the order in which workers generate them.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..annotations_xml import ObjectPose, write_annotations
from ..layout import FACTOR_DEPTH, Layout
from ..meta import FrameMeta, write_meta
from ..objects import load_collision, load_model, object_colour
from .cameras import ViewSettings, camera_model, depth_to_png, relative_poses, viewpoints
from .lab import SCENE_KINDS, LabScene, lab_scene
from .physics import PhysicsSettings, settle
from .render import SceneRaycaster, albedo_image, shade
from .sensors import sensor_depth


@dataclass
class SceneStats:
    scene_id: int
    obj_ids: list[int]
    frames: int  # written, all cameras
    settle_seconds: float
    render_seconds: float  # ray casting, noise and shading
    write_seconds: float
    skipped: bool = False


def _atomic_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a PNG atomically; (H, W, 3) arrays are RGB."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"could not encode {path}")
    _atomic_bytes(path, buf.tobytes())


def write_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, array)
    tmp.replace(path)


def scene_rng(seed: int, scene_id: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(scene_id)])


def scene_complete(layout: Layout, scene_id: int, num_frames: int, cameras: tuple[str, ...]) -> bool:
    """True when the scene's object list exists and every camera has ``num_frames`` poses."""
    if not layout.object_id_list(scene_id).is_file():
        return False
    for cam in cameras:
        path = layout.camera_poses(scene_id, cam)
        if not path.is_file() or len(np.load(path)) != num_frames:
            return False
        if not layout.frame_file(scene_id, cam, "annotations", num_frames - 1).is_file():
            return False
    return True


def choose_objects(pool: tuple[int, ...] | list[int], count_range: tuple[int, int],
                   rng: np.random.Generator) -> list[int]:
    """A random subset of ``pool`` (size in ``count_range``, at most the pool), sorted."""
    lo, hi = count_range
    count = min(len(pool), int(rng.integers(lo, hi + 1)))
    return sorted(int(i) for i in rng.choice(np.asarray(pool), size=count, replace=False))


def place_objects(layout: Layout, obj_ids: list[int], seed: int,
                  physics: PhysicsSettings = PhysicsSettings()) -> tuple[list[int], np.ndarray, float]:
    """Settle the objects; returns (kept ids, T_table<-obj (k, 4, 4), seconds).

    Objects that roll off the kept area are dropped; if none is left the drop
    is repeated with the next seed.
    """
    pieces = [load_collision(layout, i) for i in obj_ids]
    for attempt in range(5):
        result = settle(pieces, seed + 7919 * attempt, physics)
        if result.kept.any():
            kept = [i for i, k in zip(obj_ids, result.kept) if k]
            return kept, result.poses[result.kept], result.wall_time
    raise ValueError(f"objects {obj_ids} never settled on the table; check their collision pieces")


def render_frame(raycaster: SceneRaycaster, camera_name: str, pose_table: np.ndarray, obj_ids: list[int],
                 rng: np.random.Generator, noise: str = "simple", lab: LabScene | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rgb uint8 (H, W, 3), noisy depth m (H, W), label uint8 (H, W), noiseless depth m) of one view.

    ``noise``: ``simple`` (noise painted on the render) or ``sensor`` (the
    RealSense's active stereo or the Kinect's time of flight simulated,
    :mod:`.sensors`). ``lab``: the background the raycaster was built with
    (its table and parts, :mod:`.lab`), for their materials; None = the plain table."""
    camera = camera_model(camera_name)
    hits = raycaster.cast(camera, pose_table)
    colours = np.array([object_colour(i) for i in obj_ids]).reshape(-1, 3)
    albedo, grey = albedo_image(hits, colours, None if lab is None else lab.colours())
    rgb = shade(hits, albedo, rng)
    depth = sensor_depth(noise, camera, raycaster, pose_table, hits, grey, obj_ids, rng, lab=lab)
    return rgb, depth, hits.label(obj_ids), hits.depth


def scene_raycaster(meshes: list, poses_table: np.ndarray, lab: LabScene | None = None) -> SceneRaycaster:
    """The raycaster of a scene: the objects (``meshes`` in their frames, posed
    by T_table<-obj (n, 4, 4)) on the plain table, or on a lab scene's table
    with its background parts."""
    if lab is None:
        return SceneRaycaster(meshes, poses_table)
    return SceneRaycaster(meshes, poses_table, table=lab.table, background=lab.parts)


def generate_scene(root: str | Path, scene_id: int, pool: tuple[int, ...] | list[int],
                   objects_per_scene: tuple[int, int], num_frames: int, cameras: tuple[str, ...],
                   seed: int = 0, overwrite: bool = False,
                   physics: PhysicsSettings = PhysicsSettings(), noise: str = "simple",
                   scene: str = "tabletop") -> SceneStats:
    """Generate one scene under ``root`` (the objects' model files must exist);
    ``noise``: the depth model, ``simple`` or ``sensor`` (see :func:`render_frame`);
    ``scene``: ``tabletop`` (the objects on a plain table, each camera on its
    own arc) or ``lab`` (the table, floor, walls, a robot and distractors of
    :mod:`.lab` around them; both cameras ride one arc, as on the real rig's arm)."""
    if scene not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind '{scene}'; use one of {SCENE_KINDS}")
    layout = Layout(root)
    if not overwrite and scene_complete(layout, scene_id, num_frames, cameras):
        ids = [int(v) for v in layout.object_id_list(scene_id).read_text().split()]
        return SceneStats(scene_id, ids, 0, 0.0, 0.0, 0.0, skipped=True)
    # an incomplete or outdated scene starts afresh, and its old collision labels go with it
    shutil.rmtree(layout.scene_dir(scene_id), ignore_errors=True)
    shutil.rmtree(layout.collision_label(scene_id).parent, ignore_errors=True)
    rng = scene_rng(seed, scene_id)
    chosen = choose_objects(pool, objects_per_scene, rng)
    obj_ids, poses_table, t_settle = place_objects(layout, chosen, int(rng.integers(2**31)), physics)
    meshes = [load_model(layout, i) for i in obj_ids]
    lab = arc = None
    if scene == "lab":
        arc = rng.uniform(0, 2 * np.pi)  # azimuth0 of the one arc both cameras follow
        lab = lab_scene(rng, arc + ViewSettings().azimuth_span / 2)
    raycaster = scene_raycaster(meshes, poses_table, lab)
    t_render = t_write = 0.0
    centre = poses_table[:, :2, 3].mean(axis=0)
    for cam in cameras:
        camera = camera_model(cam)
        views = viewpoints(num_frames, rng, azimuth0=rng.uniform(0, 2 * np.pi) if arc is None else arc, centre=centre)
        cam_poses, cam0 = relative_poses(views)
        for ann_id, view in enumerate(views):
            t0 = time.perf_counter()
            rgb, depth, label, _ = render_frame(raycaster, cam, view, obj_ids, rng, noise, lab)
            t1 = time.perf_counter()
            obj_in_cam = np.linalg.inv(view)[None] @ poses_table  # T_cam_i<-obj
            write_png(layout.frame_file(scene_id, cam, "rgb", ann_id), rgb)
            write_png(layout.frame_file(scene_id, cam, "depth", ann_id), depth_to_png(depth, FACTOR_DEPTH))
            write_png(layout.frame_file(scene_id, cam, "label", ann_id), label)
            write_meta(layout.frame_file(scene_id, cam, "meta", ann_id),
                       FrameMeta(np.array(obj_ids), obj_in_cam, camera.K, FACTOR_DEPTH))
            write_annotations(layout.frame_file(scene_id, cam, "annotations", ann_id),
                              [ObjectPose(i, p) for i, p in zip(obj_ids, obj_in_cam)])
            t_render += t1 - t0
            t_write += time.perf_counter() - t1
        write_npy(layout.camK(scene_id, cam), camera.K)
        write_npy(layout.cam0_wrt_table(scene_id, cam), cam0)
        write_npy(layout.camera_poses(scene_id, cam), cam_poses)
    _atomic_bytes(layout.object_id_list(scene_id), "".join(f"{i}\n" for i in obj_ids).encode())
    return SceneStats(scene_id, obj_ids, num_frames * len(cameras), t_settle, t_render, t_write)


def table_poses(layout: Layout, scene_id: int, camera: str = "realsense") -> tuple[list[int], np.ndarray]:
    """(obj_ids, T_table<-obj (n, 4, 4)) of a written scene, from frame 0's
    annotations and cam0_wrt_table (the data the collision labels use)."""
    from ..annotations_xml import read_annotations

    path = layout.cam0_wrt_table(scene_id, camera)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: scene {scene_id} is not generated")
    cam0 = np.load(path)
    objs = read_annotations(layout.frame_file(scene_id, camera, "annotations", 0))
    return [o.obj_id for o in objs], np.stack([cam0 @ o.pose for o in objs])
