"""Small generated benchmark inputs: primitive objects on a table, predicted grasps.

Used by the tests, the benchmark script and ``graspnet-ros eval`` smoke runs
when no real dataset is at hand. Everything is deterministic given a seed.

* :func:`toy_scene` places ``n`` primitives (boxes, cylinders, capsules,
  ellipsoids, 3 to 10 cm) on the table plane z = 0 without overlap.
* :func:`orbit_cameras` gives camera poses T_table<-camera (REP-103 optical
  frames) looking at the table centre.
* :func:`sample_predictions` makes detector-like grasps in a camera frame:
  mostly near object surfaces with noisy approach and angle, some in air.
* :func:`write_toy_root` / :func:`write_toy_dump` write a dataset root in the
  GraspNet layout (models, annotations, camera_poses.npy, cam0_wrt_table.npy)
  and a prediction dump ``dump/scene_%04d/{camera}/%04d.npy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset.annotations_xml import ObjectPose, write_annotations
from ..dataset.layout import DEPTHS, Layout
from ..grasp import GraspGroup
from ..views import look_at


@dataclass
class ToyScene:
    obj_ids: np.ndarray  # (n,)
    meshes: list  # trimesh meshes in their object frames (m)
    table_poses: np.ndarray  # (n, 4, 4) T_table<-object


def toy_mesh(kind: int, rng: np.random.Generator, max_edge: float = 0.005):
    """A primitive mesh (metres) resting with its lowest point at z = 0 of its frame.

    Subdivided to edges of at most ``max_edge`` metres: the benchmark samples
    model points from mesh vertices, so vertices must cover the surface the
    way a scanned model's do.
    """
    import trimesh

    if kind == 0:
        mesh = trimesh.creation.box(extents=rng.uniform([0.03, 0.03, 0.03], [0.08, 0.08, 0.1]))
    elif kind == 1:
        mesh = trimesh.creation.cylinder(radius=rng.uniform(0.02, 0.04), height=rng.uniform(0.05, 0.12),
                                         sections=96)
    elif kind == 2:
        mesh = trimesh.creation.capsule(height=rng.uniform(0.03, 0.07), radius=rng.uniform(0.015, 0.03),
                                        count=[48, 48])
    else:
        mesh = trimesh.creation.icosphere(subdivisions=4, radius=1.0)
        mesh.apply_scale(rng.uniform([0.02, 0.02, 0.02], [0.045, 0.045, 0.05]))
    mesh.apply_translation([0, 0, -mesh.bounds[0, 2]])
    vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge)
    return trimesh.Trimesh(vertices, faces)


def toy_scene(num_objects: int = 10, seed: int = 0, area: float = 0.22) -> ToyScene:
    """Primitives placed at random yaw on the table, bounding circles not overlapping."""
    rng = np.random.default_rng(seed)
    meshes: list = []
    poses: list[np.ndarray] = []
    centres: list[np.ndarray] = []
    radii: list[float] = []
    for i in range(num_objects):
        mesh = toy_mesh(i % 4, rng)
        r = float(np.linalg.norm(mesh.bounds[:, :2], axis=1).max())
        for _ in range(500):
            c = rng.uniform(-area, area, 2)
            if all(np.linalg.norm(c - c2) > r + r2 + 0.005 for c2, r2 in zip(centres, radii)):
                break
        else:
            raise ValueError(f"could not place {num_objects} objects without overlap; enlarge the area")
        yaw = rng.uniform(0, 2 * np.pi)
        T = np.eye(4)
        T[:3, :3] = [[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]]
        T[:2, 3] = c
        meshes.append(mesh)
        poses.append(T)
        centres.append(c)
        radii.append(r)
    return ToyScene(np.arange(num_objects), meshes, np.array(poses))


def orbit_cameras(num_frames: int, radius: float = 0.45, height: float = 0.5) -> np.ndarray:
    """(F, 4, 4) camera poses T_table<-camera on a circle above the table."""
    ang = np.linspace(0, np.pi, num_frames, endpoint=False) + 0.3
    return np.array([look_at([radius * np.cos(a), radius * np.sin(a), height], [0, 0, 0.03]) for a in ang])


def sample_predictions(scene: ToyScene, table_from_camera: np.ndarray, num_grasps: int = 1500,
                       seed: int = 0, air_fraction: float = 0.1) -> GraspGroup:
    """Detector-like grasps (camera frame) for one view of ``scene``.

    Grasp points are object surface points; the approach is the inward normal
    tilted by ~10-20 degrees; random in-plane angle, depth in the label
    depths; the width is the widest jaw contact span along the fingers + 1.6 cm (+- 4 mm, capped
    at 0.1 m) where the jaws meet the object, else 2-10 cm; uniform scores.
    ``air_fraction`` of them are moved 0.1-0.2 m up, into free space.
    """
    import trimesh

    from ..force_closure import MeshRaycaster, grasp_contacts, tight_widths

    rng = np.random.default_rng(seed)
    counts = rng.multinomial(num_grasps, np.full(len(scene.meshes), 1 / len(scene.meshes)))
    groups = []
    for mesh, T, k in zip(scene.meshes, scene.table_poses, counts):
        k = int(k)
        if k == 0:
            continue
        p, face = trimesh.sample.sample_surface(mesh, k, seed=int(rng.integers(1 << 31)))
        approach = -mesh.face_normals[face] + rng.normal(scale=0.2, size=(k, 3))
        approach[np.abs(approach).sum(axis=1) < 1e-6] = (0, 0, -1)
        depth = rng.choice(DEPTHS, k)
        gg = GraspGroup.from_approach(p, approach, rng.uniform(0, np.pi, k), depth, 0.1,
                                      rng.random(k), frame_id="object")
        caster = MeshRaycaster.from_trimesh(mesh)
        # widest jaw span along the fingers (x from 0 to depth), + 1 cm
        spans = []
        for frac in (0.0, 0.5, 1.0):
            probe = GraspGroup(gg.array.copy(), frame_id="object", copy=False, validate=False)
            probe.array[:, 3] = depth * frac
            spans.append(tight_widths(grasp_contacts(probe, caster), margin=0.0, max_width=np.inf))
        span = np.nanmax(np.where(np.isfinite(spans), spans, -np.inf), axis=0)
        widths = np.where(span > 0, span + 0.016 + rng.uniform(-0.004, 0.004, k), rng.uniform(0.02, 0.1, k))
        gg.array[:, 1] = np.clip(widths, 0.0, 0.1)
        groups.append(gg.transform(T, frame_id="table"))
    gg = GraspGroup.concatenate(groups)
    air = rng.random(len(gg)) < air_fraction
    gg.array[air, 15] += rng.uniform(0.1, 0.2, air.sum())
    return gg.transform(np.linalg.inv(table_from_camera), frame_id="camera")


def write_toy_root(root: str | Path, scene_ids=(100,), num_frames: int = 4, num_objects: int = 10,
                   camera: str = "realsense", seed: int = 0) -> Path:
    """Write a small dataset root in the GraspNet layout; returns the root.

    Scene s uses object ids num_objects * k .. for k = its position in
    ``scene_ids``, meshes from :func:`toy_scene` with seed ``seed + s``.
    """
    layout = Layout(root)
    for k, scene_id in enumerate(scene_ids):
        scene = toy_scene(num_objects, seed + scene_id)
        ids = scene.obj_ids + k * num_objects
        for oid, mesh in zip(ids, scene.meshes):
            layout.model_dir(int(oid)).mkdir(parents=True, exist_ok=True)
            mesh.export(layout.model_ply(int(oid)))
            mesh.export(layout.model_obj(int(oid)))
        cams = orbit_cameras(num_frames)  # T_table<-cam_i
        cam0_wrt_table = cams[0]
        camera_poses = np.linalg.inv(cam0_wrt_table) @ cams  # T_cam0<-cam_i
        cdir = layout.camera_dir(scene_id, camera)
        cdir.mkdir(parents=True, exist_ok=True)
        np.save(layout.camera_poses(scene_id, camera), camera_poses)
        np.save(layout.cam0_wrt_table(scene_id, camera), cam0_wrt_table)
        layout.object_id_list(scene_id).write_text("".join(f"{int(i)}\n" for i in ids))
        for ann in range(num_frames):
            cam_from_table = np.linalg.inv(cams[ann])
            write_annotations(layout.frame_file(scene_id, camera, "annotations", ann),
                              [ObjectPose(int(i), cam_from_table @ T)
                               for i, T in zip(ids, scene.table_poses)])
    return Path(root)


def write_toy_dump(root: str | Path, dump: str | Path, scene_ids=(100,), num_frames: int = 4,
                   num_objects: int = 10, camera: str = "realsense", num_grasps: int = 1500,
                   seed: int = 0) -> Path:
    """Write predictions for a root made by :func:`write_toy_root` (same arguments)."""
    for scene_id in scene_ids:
        scene = toy_scene(num_objects, seed + scene_id)
        cams = orbit_cameras(num_frames)
        out = Path(dump) / f"scene_{scene_id:04d}" / camera
        out.mkdir(parents=True, exist_ok=True)
        for ann in range(num_frames):
            gg = sample_predictions(scene, cams[ann], num_grasps, seed=seed * 1000 + scene_id * 10 + ann)
            np.save(out / f"{ann:04d}.npy", gg.array.astype(np.float32))
    return Path(dump)
