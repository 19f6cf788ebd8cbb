"""Scene segmentation before detection (graspnet_ros.detection.segment) on rendered scenes with
ground truth: objects on a table, a wall behind it and a tall 'robot' column beside it, seen by
both synthetic sensors from GraspNet-like viewpoints. The real Kinect recording is checked in
test_kinect_recording.py."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from graspnet_ros.cameras.base import CameraIntrinsics
from graspnet_ros.cameras.geometry import depth_to_points
from graspnet_ros.dataset.synthetic.cameras import apply_depth_noise, camera_model
from graspnet_ros.dataset.synthetic.render import SceneRaycaster
from graspnet_ros.cameras.geometry import voxel_downsample
from graspnet_ros.detection.segment import (SegmentationConfig, near_mask, plane_from_pose, segment_scene,
                                           segmentation_config)
from graspnet_ros.views import look_at

N_OBJECTS = 3


def scene_meshes() -> tuple[list[trimesh.Trimesh], np.ndarray]:
    """Three objects on the table (indices 0-2), a wall 0.9 m behind the table centre and a
    0.7 m column beside the table (indices 3 and 4, background), table frame (m)."""
    box = trimesh.creation.box((0.06, 0.09, 0.12))
    can = trimesh.creation.cylinder(radius=0.033, height=0.10, sections=48)
    mug = trimesh.creation.cylinder(radius=0.04, height=0.09, sections=48)
    wall = trimesh.creation.box((2.0, 0.05, 1.2))
    column = trimesh.creation.box((0.15, 0.15, 0.7))
    poses = np.tile(np.eye(4), (5, 1, 1))
    poses[0, :3, 3] = (-0.08, 0.02, 0.06)
    poses[1, :3, 3] = (0.07, -0.05, 0.05)
    poses[2, :3, 3] = (0.05, 0.09, 0.045)
    poses[3, :3, 3] = (0.0, 0.9, 0.3)
    poses[4, :3, 3] = (0.95, 0.2, 0.0)
    return [box, can, mug, wall, column], poses


@pytest.fixture(scope="module")
def caster():
    meshes, poses = scene_meshes()
    return SceneRaycaster(meshes, poses)


@pytest.mark.parametrize("camera", ["realsense", "kinect"])
@pytest.mark.parametrize("elevation_deg", [30.0, 55.0, 75.0])
def test_segmentation_keeps_the_objects_and_drops_table_wall_and_column(caster, camera, elevation_deg):
    model = camera_model(camera)
    el = np.deg2rad(elevation_deg)
    eye = 0.6 * np.array([0.0, -np.cos(el), np.sin(el)])
    pose = look_at(eye, (0.0, 0.0, 0.03))
    hits = caster.cast(model, pose)
    rng = np.random.default_rng(1)
    depth = apply_depth_noise(model, hits.depth, hits.cos_incidence, np.full(hits.depth.shape, 0.6), rng)
    intr = CameraIntrinsics(model.width, model.height, model.fx, model.fy, model.cx, model.cy)
    organised = depth_to_points(depth, intr)
    cloud = voxel_downsample(organised.reshape(-1, 3)[np.isfinite(organised.reshape(-1, 3)).all(1)], 0.005)
    seg = segment_scene(cloud)
    assert seg.plane is not None
    # the plane found is the table's (normal within 3 degrees, offset within 1 cm)
    truth = plane_from_pose(np.linalg.inv(pose))
    assert abs(seg.plane[:3] @ truth[:3]) > np.cos(np.deg2rad(3.0))
    assert abs(seg.plane[3] - truth[3]) < 0.015
    # precision and recall against the rendered object index, per pixel
    kept = near_mask(organised, cloud[seg.mask], 0.004).reshape(depth.shape)
    objects = (hits.index >= 0) & (hits.index < N_OBJECTS) & (depth > 0)
    precision = (kept & objects).sum() / kept.sum()
    recall = (kept & objects).sum() / objects.sum()
    assert precision > 0.95 and recall > 0.85, (precision, recall)
    background = ((hits.index == N_OBJECTS) | (hits.index == N_OBJECTS + 1)) & (depth > 0)  # wall, column
    assert (kept & background).sum() == 0


def test_a_given_support_plane_is_used_and_a_cloud_without_support_keeps_every_point(caster):
    model = camera_model("kinect")
    pose = look_at((0.0, -0.4, 0.45), (0.0, 0.0, 0.03))
    hits = caster.cast(model, pose)
    intr = CameraIntrinsics(model.width, model.height, model.fx, model.fy, model.cx, model.cy)
    cloud = voxel_downsample(depth_to_points(hits.depth, intr, organised=False), 0.005)
    plane = plane_from_pose(np.linalg.inv(pose))
    seg = segment_scene(cloud, support_plane=plane * 3.0)  # any scale: it is normalised
    np.testing.assert_allclose(seg.plane, plane, atol=1e-9)
    assert seg.counts["objects"] == N_OBJECTS
    # a free-floating blob: no up-facing plane, nothing dropped, and the reason says how to fix it
    blob = np.random.default_rng(0).normal(size=(3000, 3)) * 0.05 + (0, 0, 0.5)
    free = segment_scene(blob)
    assert free.plane is None and free.mask.all() and "segmentation.up" in free.reason
    off = segment_scene(np.vstack([cloud, [[np.nan] * 3]]), SegmentationConfig(enabled=False))
    assert off.plane is None and off.mask[:-1].all() and not off.mask[-1] and (off.labels == -1).all()


def test_parameters_map_to_the_config_and_bad_values_are_refused():
    cfg = segmentation_config({"segmentation.up": [0.0, 0.0, -1.0], "segmentation.max_height": 0.5,
                               "segmentation.enabled": False, "segmentation.min_cluster_points": 7})
    assert cfg.up == (0.0, 0.0, -1.0) and cfg.max_height == 0.5 and not cfg.enabled
    assert cfg.min_cluster_points == 7
    with pytest.raises(ValueError, match="up"):
        SegmentationConfig(up=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="min_height"):
        SegmentationConfig(min_height=0.4, max_height=0.3)
