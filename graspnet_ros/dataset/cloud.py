"""Depth images to point clouds, and the workspace crops of a frame.

Back-projection follows the reference tools: pixel (u, v) with depth z
(metres) maps to ``((u - cx) z / fx, (v - cy) z / fy, z)`` in the camera's
optical frame (x right, y down, z forward). Depth 0, NaN or infinite means
"no measurement" and produces no point.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

import numpy as np

from ..workspace import Workspace

if TYPE_CHECKING:  # pragma: no cover
    from .reader import Frame

#: The table workspace in the table frame, [[xmin, ymin, zmin], [xmax, ymax, zmax]] (m):
#: the reference evaluator's 1 x 1 m table, from 2 cm below its top to 50 cm above.
TABLE_WORKSPACE = np.array([[-0.5, -0.5, -0.02], [0.5, 0.5, 0.5]])
#: Margin (m) around the object points of the "objects" workspace (graspnet-baseline's).
OBJECTS_MARGIN = 0.02

#: How :func:`frame_point_cloud` crops: None, "table", "objects", a (2, 3) array or a Workspace
#: (both in the table frame).
WorkspaceSpec = Union[None, str, np.ndarray, Workspace]


def check_intrinsics(intrinsics: np.ndarray) -> np.ndarray:
    K = np.asarray(intrinsics, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"intrinsics must be a finite 3x3 matrix with fx, fy > 0, got {K.tolist()}")
    return K


def depth_to_points(depth: np.ndarray, intrinsics: np.ndarray, organized: bool = False) -> np.ndarray:
    """Back-project a depth image (H, W) in metres with a 3x3 camera matrix.

    Returns (H, W, 3) float32 with NaN rows where depth is invalid when
    ``organized``, otherwise (N, 3) float32 of the valid pixels in row-major
    order. Frame: the camera's optical frame, metres. (The one back-projection,
    :func:`graspnet_ros.cameras.geometry.depth_to_points`, with K as a matrix.)
    """
    from ..cameras.base import CameraIntrinsics
    from ..cameras.geometry import depth_to_points as back_project

    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be an (H, W) image, got shape {depth.shape}")
    intr = CameraIntrinsics.from_matrix(check_intrinsics(intrinsics), depth.shape[1], depth.shape[0])
    return back_project(depth, intr, organised=organized)


def project_points(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """(N, 2) pixel coordinates (u, v) of camera-frame points (N, 3); NaN where z <= 0.

    The inverse of :func:`depth_to_points` (pixel centres at integer coordinates;
    :func:`graspnet_ros.cameras.geometry.project_points` with K as a matrix)."""
    from ..cameras.base import CameraIntrinsics
    from ..cameras.geometry import project_points as project

    return project(points, CameraIntrinsics.from_matrix(check_intrinsics(intrinsics), 1, 1))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform T_new<-old to (..., 3) points (dtype kept for floats)."""
    T = np.asarray(matrix, dtype=np.float64)
    pts = np.asarray(points)
    out = pts @ T[:3, :3].T.astype(pts.dtype) + T[:3, 3].astype(pts.dtype)
    return out


def objects_box(table_points: np.ndarray, object_mask: np.ndarray,
                margin: float = OBJECTS_MARGIN) -> np.ndarray:
    """Table-frame bounding box of the object points, grown by ``margin`` (m):
    the workspace graspnet-baseline crops its test clouds to."""
    pts = table_points[object_mask & np.isfinite(table_points).all(axis=-1)]
    if len(pts) == 0:
        raise ValueError("the frame's label mask has no object pixel with valid depth: "
                         "cannot build the 'objects' workspace")
    return np.stack([pts.min(axis=0) - margin, pts.max(axis=0) + margin])


def _table_box(workspace: WorkspaceSpec, in_table: np.ndarray, label: np.ndarray | None) -> Workspace:
    """The crop box (table frame, m) a :func:`frame_point_cloud` workspace argument names."""
    if isinstance(workspace, Workspace):
        return workspace
    if isinstance(workspace, str):
        if workspace == "table":
            bounds = TABLE_WORKSPACE
        elif workspace == "objects" and label is not None:
            bounds = objects_box(in_table, label > 0)
        else:
            raise ValueError(f"unknown workspace '{workspace}'; use None, 'table', 'objects' "
                             "or a (2, 3) table-frame box")
    else:
        bounds = np.asarray(workspace, dtype=np.float64)
        if bounds.shape != (2, 3):
            raise ValueError(f"workspace box must be [[xmin, ymin, zmin], [xmax, ymax, zmax]], got {bounds.tolist()}")
    return Workspace(tuple(bounds[0]), tuple(bounds[1]), "table-frame workspace")


def frame_point_cloud(frame: "Frame", workspace: WorkspaceSpec = None, mask_objects: bool = False,
                      organized: bool = False, colors: bool = False):
    """Scene point cloud of a frame in its camera frame (metres, float32).

    workspace: None (no crop); ``"table"`` (:data:`TABLE_WORKSPACE`, in the
    table frame); ``"objects"`` (the table-frame box around the labelled
    object points plus 2 cm, as graspnet-baseline crops); or a box in the table frame
    (m): a :class:`~graspnet_ros.workspace.Workspace` or (2, 3) [[xmin, ymin, zmin], [xmax, ymax, zmax]].
    mask_objects: keep only pixels whose label is an object (label > 0).
    organized: return (H, W, 3) with NaN for removed pixels instead of (N, 3).
    colors: also return the RGB colours in [0, 1] (same layout as the points).
    Invalid (zero or NaN) depth is always removed.
    """
    cloud = depth_to_points(frame.depth, frame.intrinsics, organized=True)
    keep = np.isfinite(cloud).all(axis=-1)
    needs_label = mask_objects or (isinstance(workspace, str) and workspace == "objects")
    label: np.ndarray | None = None
    if needs_label:
        label = frame.label
        if label.shape != cloud.shape[:2]:
            raise ValueError(f"label image {label.shape} and depth image {cloud.shape[:2]} differ in size "
                             f"(scene {frame.scene_id}, frame {frame.ann_id})")
    if mask_objects and label is not None:
        keep &= label > 0
    if workspace is not None:
        in_table = transform_points(cloud, frame.table_pose)
        keep &= _table_box(workspace, in_table, label).contains(in_table)
    rgb = None
    if colors:
        rgb = frame.rgb
        if rgb.shape[:2] != cloud.shape[:2]:
            raise ValueError(f"rgb image {rgb.shape[:2]} and depth image {cloud.shape[:2]} differ in size")
        rgb = rgb.astype(np.float32) / 255.0
    if organized:
        cloud[~keep] = np.nan
        if rgb is not None:
            rgb[~keep] = np.nan
            return cloud, rgb
        return cloud
    if rgb is not None:
        return cloud[keep], rgb[keep]
    return cloud[keep]
