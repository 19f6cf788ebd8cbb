"""A tiny hand-made GraspNet-1Billion root for reader tests (built in about a second).

Two primitive objects (ids 3 and 7) stand on a table in one scene (id 100,
split "seen"), seen by both cameras in two frames each at 320 x 240. Every
file is computed honestly with the package's own core:

* grasp labels: V = 20 Fibonacci views, A = 12 angles, D = 4 depths on a few
  surface points; widths from the jaw contacts (span + 1 cm), mu from
  ``force_closure_labels`` at those widths, object collision from
  ``check_collision`` against the object's own surface points;
* scene collision labels: ``check_collision`` of every grasp, posed on the
  table, against both objects' surface points and a table slab grid.
  To stay fast, both collision labels are computed for the force-closure
  grasps (mu > 0) only; the others, never ground truth, are marked colliding;
* depth and label images: Open3D ray casting of the posed meshes and the
  table through pixel centres (``depth_to_points`` convention), depth rounded
  to millimetres.

Deliberate quirks the reader must cope with: object_id_list order (7, 3)
differs from the annotation order (3, 7); object 3's grasp labels are stored
uncompressed (memory-mapped) and object 7's compressed; only object 3 has a
tolerance file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import trimesh

from graspnet_ros._native import import_open3d
from graspnet_ros.dataset.annotations_xml import ObjectPose, write_annotations
from graspnet_ros.dataset.layout import ANGLES, CAMERAS, DEPTHS, Layout
from graspnet_ros.dataset.meta import FrameMeta, write_meta
from graspnet_ros.force_closure import (ANNOTATION_MUS, MeshRaycaster, force_closure_labels,
                                        grasp_contacts, tight_widths)
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.gripper import GripperModel, check_collision, table_points
from graspnet_ros import views
from graspnet_ros.views import fibonacci_views

SCENE_ID = 100
OBJECT_ID_LIST = (7, 3)  # object_id_list.txt order (= collision label order)
ANNOTATION_ORDER = (3, 7)  # order of the objects in the xml and meta files
NUM_VIEWS = 20
NUM_POINTS = 24
NUM_FRAMES = 2
IMAGE_SIZE = (320, 240)  # width, height
INTRINSICS = {
    "realsense": np.array([[300.0, 0.0, 159.5], [0.0, 300.0, 119.5], [0.0, 0.0, 1.0]]),
    "kinect": np.array([[280.0, 0.0, 161.0], [0.0, 285.0, 118.0], [0.0, 0.0, 1.0]]),
}
CAMERA_EYES = {"realsense": (0.0, -0.33, 0.38), "kinect": (0.06, -0.30, 0.42)}
TABLE_SIZE = 0.6  # m, the rendered table; its top is z = 0 in the table frame


@dataclass
class FixtureDataset:
    root: Path
    meshes: dict[int, trimesh.Trimesh]  # object frame, metres
    table_poses: dict[int, np.ndarray]  # T_table<-obj
    cam0_wrt_table: dict[str, np.ndarray]  # T_table<-cam0 per camera
    camera_poses: dict[str, np.ndarray]  # (F, 4, 4) T_cam0<-cam per camera
    scene_points_table: np.ndarray  # (M, 3) objects + table slab, table frame
    candidates: dict[int, GraspGroup] = field(default_factory=dict)  # object frame, (p, v, a, d) order

    def object_pose(self, camera: str, ann_id: int, obj_id: int) -> np.ndarray:
        """T_cam<-obj of the frame."""
        table_cam = self.cam0_wrt_table[camera] @ self.camera_poses[camera][ann_id]
        return np.linalg.inv(table_cam) @ self.table_poses[obj_id]


def make_objects() -> dict[int, trimesh.Trimesh]:
    box = trimesh.creation.box(extents=(0.05, 0.035, 0.06))
    cylinder = trimesh.creation.cylinder(radius=0.022, height=0.07, sections=24)
    return {3: box, 7: cylinder}


def pose(rz: float, xyz: tuple[float, float, float]) -> np.ndarray:
    T = np.eye(4)
    c, s = np.cos(rz), np.sin(rz)
    T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    T[:3, 3] = xyz
    return T


def look_at(eye, target=(0.0, 0.0, 0.03)) -> np.ndarray:
    """T_table<-cam of an optical frame at ``eye`` looking at the fixture's objects."""
    return views.look_at(eye, target)


def collision_where(grasps: GraspGroup, which: np.ndarray, points: np.ndarray) -> np.ndarray:
    """check_collision of the grasps selected by ``which``; True for the others."""
    out = np.ones(len(grasps), dtype=bool)
    out[which] = check_collision(grasps[which], points, GripperModel()).collision
    return out


def label_object(mesh: trimesh.Trimesh, seed: int) -> tuple[dict[str, np.ndarray], GraspGroup]:
    """Grasp labels of one object (object frame) and its candidates in (p, v, a, d) order."""
    points, _ = trimesh.sample.sample_surface(mesh, NUM_POINTS, seed=seed)
    # label exactly what is stored: float32 points, angles, depths and widths
    points = points.astype(np.float32).astype(np.float64)
    angles, depths = (x.astype(np.float32).astype(np.float64) for x in (ANGLES, DEPTHS))
    views = fibonacci_views(NUM_VIEWS)
    p, v, a, d = (g.ravel() for g in np.meshgrid(np.arange(NUM_POINTS), np.arange(NUM_VIEWS),
                                                  np.arange(len(ANGLES)), np.arange(len(DEPTHS)),
                                                  indexing="ij"))
    grasps = GraspGroup.from_approach(points[p], -views[v], angles[a], depths[d], 0.1, frame_id="object")
    raycaster = MeshRaycaster.from_trimesh(mesh)
    widths = tight_widths(grasp_contacts(grasps, raycaster), margin=0.01, max_width=0.1)
    grasps.array[:, 1] = np.where(np.isfinite(widths), widths, 0.1).astype(np.float32)
    mu = force_closure_labels(grasps, raycaster, ANNOTATION_MUS)
    own, _ = trimesh.sample.sample_surface(mesh, 1500, seed=seed + 100)
    collision = collision_where(grasps, mu > 0, own)
    grid = (NUM_POINTS, NUM_VIEWS, len(ANGLES), len(DEPTHS))
    offsets = np.stack([angles[a], depths[d], grasps.widths], axis=1)
    labels = {
        "points": points.astype(np.float32),
        "offsets": offsets.reshape(grid + (3,)).astype(np.float32),
        "collision": collision.reshape(grid),
        "scores": mu.reshape(grid).astype(np.float32),
    }
    return labels, grasps


def render(meshes_cam: list[tuple[trimesh.Trimesh, int]], K: np.ndarray):
    """Depth (m, 0 = miss), label (obj_id + 1, 0 = table/miss) and shaded RGB."""
    o3d = import_open3d()
    scene = o3d.t.geometry.RaycastingScene()
    label_of = []
    for mesh, label in meshes_cam:
        scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)),
                            o3d.core.Tensor(np.asarray(mesh.faces, np.uint32)))
        label_of.append(label)
    w, h = IMAGE_SIZE
    u, v = np.meshgrid(np.arange(w), np.arange(h))
    dirs = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u, float)], axis=-1)
    rays = np.concatenate([np.zeros_like(dirs), dirs], axis=-1).astype(np.float32)
    ans = scene.cast_rays(o3d.core.Tensor(rays))
    t = ans["t_hit"].numpy()
    ids = ans["geometry_ids"].numpy().astype(np.int64)
    hit = np.isfinite(t)
    depth = np.where(hit, t, 0.0)
    lut = np.array(label_of + [0])
    label = np.where(hit, lut[np.where(hit, ids, len(label_of))], 0).astype(np.uint8)
    normals = ans["primitive_normals"].numpy()
    unit = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    shade = np.abs((normals * unit).sum(-1))
    palette = np.array([[200, 200, 200]] + [[60 + 40 * (i % 5), 180 - 30 * (i % 4), 90 + 70 * (i % 3)]
                                            for i in range(1, 256)], float)
    rgb = np.where(hit[..., None], palette[label] * (0.3 + 0.7 * shade[..., None]), 0).astype(np.uint8)
    return depth, label, rgb


def build_fixture_dataset(root: str | Path) -> FixtureDataset:
    root = Path(root)
    lay = Layout(root)
    meshes = make_objects()
    table_poses = {3: pose(np.deg2rad(25), (-0.035, 0.0, 0.03)), 7: pose(0.3, (0.035, 0.012, 0.035))}
    for obj_id, mesh in meshes.items():
        lay.model_dir(obj_id).mkdir(parents=True, exist_ok=True)
        mesh.export(lay.model_ply(obj_id))
        mesh.export(lay.model_obj(obj_id))

    # object grasp labels
    fixture = FixtureDataset(root, meshes, table_poses, {}, {}, np.zeros((0, 3)))
    lay.grasp_label(0).parent.mkdir(parents=True, exist_ok=True)
    for obj_id, mesh in meshes.items():
        labels, fixture.candidates[obj_id] = label_object(mesh, seed=obj_id)
        (np.savez if obj_id == 3 else np.savez_compressed)(lay.grasp_label(obj_id), **labels)
    lay.tolerance_label(3).parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    np.save(lay.tolerance_label(3), rng.uniform(0, 0.02, (NUM_POINTS, NUM_VIEWS, len(ANGLES),
                                                          len(DEPTHS))).astype(np.float32))

    # scene collision labels
    dense = [trimesh.transform_points(trimesh.sample.sample_surface(meshes[i], 1500, seed=10 + i)[0],
                                      table_poses[i]) for i in OBJECT_ID_LIST]
    scene_pts = np.concatenate(dense + [table_points(0.3, 0.3, 0.05, 0.008)])
    fixture.scene_points_table = scene_pts
    collision = {}
    for k, obj_id in enumerate(OBJECT_ID_LIST):
        posed = fixture.candidates[obj_id].transform(table_poses[obj_id], frame_id="table")
        fc = np.load(lay.grasp_label(obj_id))["scores"].reshape(-1) > 0
        hit = collision_where(posed, fc, scene_pts)
        collision[f"arr_{k}"] = hit.reshape(NUM_POINTS, NUM_VIEWS, len(ANGLES), len(DEPTHS))
    lay.collision_label(SCENE_ID).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(lay.collision_label(SCENE_ID), **collision)

    # scene and frames
    lay.scene_dir(SCENE_ID).mkdir(parents=True, exist_ok=True)
    lay.object_id_list(SCENE_ID).write_text("".join(f"{i}\n" for i in OBJECT_ID_LIST))
    table = trimesh.creation.box(extents=(TABLE_SIZE, TABLE_SIZE, 0.02))
    table.apply_translation((0, 0, -0.01))
    for camera in CAMERAS:
        cam0 = look_at(CAMERA_EYES[camera])
        cam_table = [cam0, pose(np.deg2rad(30), (0, 0, 0)) @ cam0]  # frame 1: orbit 30 deg about z
        poses = np.stack([np.linalg.inv(cam0) @ T for T in cam_table])
        fixture.cam0_wrt_table[camera], fixture.camera_poses[camera] = cam0, poses
        cam_dir = lay.camera_dir(SCENE_ID, camera)
        cam_dir.mkdir(parents=True, exist_ok=True)
        K = INTRINSICS[camera]
        np.save(lay.camK(SCENE_ID, camera), K)
        np.save(lay.camera_poses(SCENE_ID, camera), poses)
        np.save(lay.cam0_wrt_table(SCENE_ID, camera), cam0)
        for ann_id in range(NUM_FRAMES):
            obj_poses = [fixture.object_pose(camera, ann_id, i) for i in ANNOTATION_ORDER]
            table_cam = np.linalg.inv(cam_table[ann_id])
            scene = [(meshes[i].copy().apply_transform(T), i + 1)
                     for i, T in zip(ANNOTATION_ORDER, obj_poses)]
            scene.append((table.copy().apply_transform(table_cam), 0))
            depth, label, rgb = render(scene, K)
            for kind in ("rgb", "depth", "label"):
                lay.frame_file(SCENE_ID, camera, kind, ann_id).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(lay.frame_file(SCENE_ID, camera, "rgb", ann_id)), rgb[:, :, ::-1])
            cv2.imwrite(str(lay.frame_file(SCENE_ID, camera, "depth", ann_id)),
                        np.round(depth * 1000.0).astype(np.uint16))
            cv2.imwrite(str(lay.frame_file(SCENE_ID, camera, "label", ann_id)), label)
            write_meta(lay.frame_file(SCENE_ID, camera, "meta", ann_id),
                       FrameMeta(np.array(ANNOTATION_ORDER), np.stack(obj_poses), K, 1000.0))
            write_annotations(lay.frame_file(SCENE_ID, camera, "annotations", ann_id),
                              [ObjectPose(i, T) for i, T in zip(ANNOTATION_ORDER, obj_poses)])
    return fixture
