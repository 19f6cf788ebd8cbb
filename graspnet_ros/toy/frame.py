"""A small hand-made scene for tests and benchmarks: boxes on a table seen
by a pinhole camera, with grasp labels in the dataset reader's format.

Not the synthetic dataset (that is graspnet_ros.dataset's job): a few boxes,
ray-cast with Open3D, labelled on a coarse grid of grasp points by the core
force-closure test (mu in 0.1..1.0, widths from the contacts + 1 cm), a
table-collision flag from the gripper's bounding box, and a stand-in
tolerance (0.05 m x score). Everything in metres; camera frame = REP-103
optical frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from .._native import import_open3d
from ..force_closure import ANNOTATION_MUS, MeshRaycaster, antipodal_angle, grasp_contacts, labels_from_angles
from ..grasp import GraspGroup
from ..views import fibonacci_views, look_at

#: Box sizes (m) and (x, y, yaw) placements on the table of the default scene.
DEFAULT_BOXES = (
    ((0.06, 0.04, 0.10), (0.00, 0.00, 0.3)),
    ((0.05, 0.05, 0.05), (0.12, 0.06, -0.5)),
    ((0.08, 0.03, 0.06), (-0.10, 0.08, 1.1)),
)


@dataclass
class ToyFrame:
    depth: np.ndarray  # (H, W) metres, 0 = no return
    label: np.ndarray  # (H, W) 0 background, obj_id + 1
    intrinsics: np.ndarray  # (3, 3)
    poses: np.ndarray  # (n, 4, 4) T_cam<-obj
    meshes: list  # trimesh boxes in their object frames
    T_cam_table: np.ndarray  # (4, 4)

    def cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """(M, 3) points in the camera frame and their (M,) segmentation."""
        from ..dataset.cloud import depth_to_points

        valid = np.isfinite(self.depth) & (self.depth > 0)
        return (depth_to_points(self.depth, self.intrinsics).astype(np.float64),
                self.label[valid].astype(np.int64))

    def object_cloud(self, index: int) -> np.ndarray:
        pts, seg = self.cloud()
        return pts[seg == index + 1]


def make_scene(boxes=DEFAULT_BOXES, width: int = 640, height: int = 360, fx: float = 460.0,
               eye=(0.0, -0.42, 0.50), noise: float = 0.0, seed: int = 0) -> ToyFrame:
    """Ray-cast boxes on a 0.8 m table (top at z = 0 in the table frame)."""
    o3d = import_open3d()
    rng = np.random.default_rng(seed)
    T_table_cam = look_at(np.asarray(eye), np.zeros(3))
    T_cam_table = np.linalg.inv(T_table_cam)
    scene = o3d.t.geometry.RaycastingScene()
    table = trimesh.creation.box((0.8, 0.8, 0.02))
    table.apply_translation((0, 0, -0.01))
    table.apply_transform(T_cam_table)
    scene.add_triangles(o3d.core.Tensor(table.vertices.astype(np.float32)),
                        o3d.core.Tensor(table.faces.astype(np.uint32)))
    meshes, poses = [], []
    for size, (x, y, yaw) in boxes:
        mesh = trimesh.creation.box(size)
        T_table_obj = np.eye(4)
        c, s = np.cos(yaw), np.sin(yaw)
        T_table_obj[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
        T_table_obj[:3, 3] = (x, y, size[2] / 2)
        pose = T_cam_table @ T_table_obj
        posed = mesh.copy()
        posed.apply_transform(pose)
        scene.add_triangles(o3d.core.Tensor(posed.vertices.astype(np.float32)),
                            o3d.core.Tensor(posed.faces.astype(np.uint32)))
        meshes.append(mesh)
        poses.append(pose)
    K = np.array([[fx, 0, width / 2], [0, fx, height / 2], [0, 0, 1]])
    u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    dirs = np.stack([(u - K[0, 2]) / fx, (v - K[1, 2]) / fx, np.ones_like(u)], axis=-1).reshape(-1, 3)
    rays = np.concatenate([np.zeros_like(dirs), dirs], axis=1).astype(np.float32)
    ans = scene.cast_rays(o3d.core.Tensor(rays))
    t = ans["t_hit"].numpy().reshape(height, width)
    gid = ans["geometry_ids"].numpy().reshape(height, width).astype(np.int64)
    hit = np.isfinite(t)
    depth = np.where(hit, t, 0.0)  # rays have z = 1, so t is the z-depth
    if noise > 0:
        depth = np.where(hit, depth + rng.normal(0, noise, depth.shape), 0.0)
    label = np.where(hit & (gid >= 1), gid, 0)  # geometry 0 = table -> background; box i -> i + 1
    return ToyFrame(depth.astype(np.float32), label.astype(np.int32), K, np.stack(poses), meshes, T_cam_table)


def box_grasp_labels(mesh: trimesh.Trimesh, num_points: int = 48, num_view: int = 300,
                     num_angle: int = 12, depths=(0.01, 0.02, 0.03, 0.04), seed: int = 0) -> dict:
    """Grasp labels of a mesh in the reader's format (object frame).

    Returns points (Np, 3), offsets (Np, V, A, D, 3) = angle, depth, width,
    scores (Np, V, A, D) = smallest force-closure mu (-1 none).
    """
    rng = np.random.default_rng(seed)
    points, _ = trimesh.sample.sample_surface(mesh, num_points, seed=int(rng.integers(1 << 31)))
    points = np.asarray(points)
    views = fibonacci_views(num_view)
    angles = np.arange(num_angle) * np.pi / num_angle
    Np, V, A, D = len(points), num_view, num_angle, len(depths)
    grid = np.stack(np.meshgrid(np.arange(Np), np.arange(V), np.arange(A), np.arange(D), indexing="ij"),
                    axis=-1).reshape(-1, 4)
    g = GraspGroup.from_approach(points[grid[:, 0]], -views[grid[:, 1]], angles[grid[:, 2]],
                                 np.asarray(depths)[grid[:, 3]], 0.1)
    contacts = grasp_contacts(g, MeshRaycaster.from_trimesh(mesh))
    mu = labels_from_angles(antipodal_angle(contacts), ANNOTATION_MUS)
    span = np.linalg.norm(contacts.points[:, 1] - contacts.points[:, 0], axis=1)
    width = np.where(np.isfinite(span), np.minimum(span + 0.01, 0.1), 0.1)
    offsets = np.stack([angles[grid[:, 2]], np.asarray(depths)[grid[:, 3]], width], axis=1)
    return {"points": points.astype(np.float32),
            "offsets": offsets.reshape(Np, V, A, D, 3).astype(np.float32),
            "scores": mu.reshape(Np, V, A, D).astype(np.float32)}


def table_collision(labels: dict, pose: np.ndarray, T_cam_table: np.ndarray, num_view: int = 300,
                    finger_width: float = 0.01, depth_base: float = 0.02, height: float = 0.02) -> np.ndarray:
    """(Np, V, A, D) True where the gripper's bounding box dips below the table top."""
    from ..grasp import rotation_from_approach

    pts = labels["points"]
    Np, V, A, D, _ = labels["offsets"].shape
    views = fibonacci_views(num_view)
    angles = labels["offsets"][0, 0, :, 0, 0].astype(np.float64)
    rot = rotation_from_approach(np.repeat(-views, A, axis=0), np.tile(angles, V)).reshape(V, A, 3, 3)
    T_table_obj = np.linalg.inv(T_cam_table) @ pose
    Rt, tt = T_table_obj[:3, :3], T_table_obj[:3, 3]
    z_axes = np.einsum("k,vakc->vac", Rt[2], rot)  # table-z component of each gripper axis
    off = labels["offsets"]
    w, d = off[..., 2], off[..., 1]
    centre_z = pts @ Rt[2] + tt[2]  # (Np,)
    # lowest table-z of the box x in [-(b+f), d], |y| <= w/2 + f, |z| <= h/2
    zx, zy, zz = z_axes[..., 0], z_axes[..., 1], z_axes[..., 2]  # (V, A)
    low_x = np.minimum(-(depth_base + finger_width) * zx[None, :, :, None], d * zx[None, :, :, None])
    low = centre_z[:, None, None, None] + low_x - (w / 2 + finger_width) * np.abs(zy)[None, :, :, None] \
        - height / 2 * np.abs(zz)[None, :, :, None]
    return low < 0.0


def toy_tolerance(scores: np.ndarray) -> np.ndarray:
    """Stand-in GAF labels: 0.05 m x (1.1 - mu) for valid grasps (monotone in quality)."""
    return np.where(scores > 0, 0.05 * (1.1 - scores), 0.0).astype(np.float32)


def training_frame(scene: ToyFrame, num_label_points: int = 16, score_target: str = "linear",
                   workspace_radius: float = 0.3, seed: int = 0):
    """(cloud, seg, tables, poses) of a toy scene for :class:`graspnet_ros.model.train.StaticFrames`:
    the cloud within ``workspace_radius`` m of the table centre."""
    from ..model.labels import ObjectGraspTable  # torch: only when training on it

    pts, seg = scene.cloud()
    keep = np.linalg.norm(pts - scene.T_cam_table[:3, 3], axis=1) < workspace_radius
    tables = []
    for i, mesh in enumerate(scene.meshes):
        lab = box_grasp_labels(mesh, num_label_points, seed=seed + i)
        coll = table_collision(lab, scene.poses[i], scene.T_cam_table)
        tables.append(ObjectGraspTable.from_arrays(i, lab["points"], lab["scores"], lab["offsets"][..., 2], coll,
                                                   toy_tolerance(lab["scores"]), score_target))
    return pts[keep].astype(np.float32), seg[keep], tables, scene.poses
