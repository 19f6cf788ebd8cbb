"""Annotation pipeline: object labels, scene collision labels, tolerance, files."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import trimesh

from graspnet_ros.annotation import (AnnotationSettings, CandidateSet, annotate_objects,
                                     annotate_scenes, candidate_geometry, candidate_grasp,
                                     candidate_naive, candidate_scene_collision, label_object,
                                     sample_surface, scene_point_cloud, tolerance_labels,
                                     tolerance_naive)
from graspnet_ros.dataset.annotations_xml import ObjectPose, write_annotations
from graspnet_ros.dataset.layout import Layout
from graspnet_ros.force_closure import MeshRaycaster, force_closure_labels
from graspnet_ros.gripper import check_collision

V = 40  # reduced view count keeps every test well under a second or two
SETTINGS = AnnotationSettings(num_views=V, grasp_point_voxel=0.01, geometry_voxel=0.004,
                              scene_voxel=0.004)
PLAIN = dataclasses.replace(SETTINGS, use_numba=False)  # the numpy kernels
FRAMES = SETTINGS.view_frames
V0 = int(np.argmax(-SETTINGS.views[:, 2]))  # approach closest to +z: any view works


def aligned_box(extents_along_frame, view: int = V0) -> trimesh.Trimesh:
    """A box whose edges follow view ``view``'s gripper frame (approach, y0, z0).

    extents_along_frame: (length along the approach, thickness along y0, depth along z0), m.
    Candidates of that view at angle 0 then close squarely on the y0 faces.
    """
    box = trimesh.creation.box(extents_along_frame)
    transform = np.eye(4)
    transform[:3, :3] = FRAMES[view]
    box.apply_transform(transform)
    return box


def entry_point(extents, view: int = V0) -> np.ndarray:
    """The centre of the face the approach of ``view`` enters (object frame)."""
    return FRAMES[view] @ np.array([-extents[0] / 2, 0.0, 0.0])


# -- object labels ------------------------------------------------------------
BOX_EXTENTS = (0.08, 0.04, 0.06)  # along approach, closing axis, finger height axis
BOX = aligned_box(BOX_EXTENTS)


@pytest.fixture(scope="module")
def box_labels():
    points = np.concatenate([entry_point(BOX_EXTENTS)[None],
                             sample_surface(BOX, SETTINGS.grasp_point_voxel, seed=1)])
    geometry = sample_surface(BOX, SETTINGS.geometry_voxel, seed=0)
    widths, collision, empty = candidate_geometry(points, geometry, SETTINGS)
    labels = label_object(BOX, SETTINGS, points=points)
    return points, geometry, widths, collision, empty, labels


def test_square_candidates_score_best_and_just_clear_the_box(box_labels):
    points, _, widths, collision, _, labels = box_labels
    thickness, depth_axis = BOX_EXTENTS[1], BOX_EXTENTS[2]
    half_turn = SETTINGS.num_angles // 2
    for d in range(SETTINGS.num_depths):
        # angle 0 closes across the 4 cm thickness, angle pi/2 across the 6 cm side
        for a, size in ((0, thickness), (half_turn, depth_axis)):
            assert not collision[0, V0, a, d]
            assert labels.scores[0, V0, a, d] == pytest.approx(0.1)
            assert size < labels.widths[0, V0, a, d] <= size + SETTINGS.width_margin + 1e-6
    # the same candidates approached from inside the box hit it with the base
    opposite = int(np.argmin(SETTINGS.views @ SETTINGS.views[V0]))
    assert collision[0, opposite].all()
    np.testing.assert_array_equal(widths, labels.widths)


def test_widths_and_flags_match_the_naive_definition(box_labels):
    points, geometry, widths, collision, empty, _ = box_labels
    rng = np.random.default_rng(0)
    # half random candidates, half among the non-colliding ones
    free = np.argwhere(~collision)
    picks = [tuple(rng.integers(0, n) for n in widths.shape) for _ in range(60)]
    picks += [tuple(free[i]) for i in rng.choice(len(free), 60, replace=False)]
    for i, v, a, d in picks:
        width, hit, none_inside = candidate_naive(geometry, points[i], v, a, d, SETTINGS)
        assert hit == collision[i, v, a, d]
        if not hit:
            assert none_inside == empty[i, v, a, d]
            assert widths[i, v, a, d] == pytest.approx(width, abs=1e-6)


def test_compiled_and_numpy_kernels_agree(box_labels):
    points, geometry, widths, collision, empty, _ = box_labels
    got = candidate_geometry(points[:25], geometry, PLAIN)
    for plain, fast in zip(got, (widths[:25], collision[:25], empty[:25])):
        np.testing.assert_array_equal(plain, fast)


def test_collision_flags_agree_with_check_collision(box_labels):
    points, geometry, widths, collision, _, _ = box_labels
    rng = np.random.default_rng(1)
    idx = tuple(rng.integers(0, n, 400) for n in widths.shape)
    grasps = candidate_grasp(points[idx[0]], idx[1], idx[2], idx[3], widths[idx], SETTINGS)
    result = check_collision(grasps, geometry, SETTINGS.gripper)
    np.testing.assert_array_equal(result.collision, collision[idx])
    assert collision[idx].any() and not collision[idx].all()


def test_scores_reproduce_with_force_closure_labels(box_labels):
    points, _, _, _, _, labels = box_labels
    rng = np.random.default_rng(2)
    valid = np.argwhere(labels.scores > 0)
    invalid = np.argwhere((labels.scores < 0) & ~labels.collision)
    assert len(valid) > 100
    rows = np.concatenate([valid[rng.choice(len(valid), 300, replace=False)],
                           invalid[rng.choice(len(invalid), min(100, len(invalid)), replace=False)]])
    i, v, a, d = rows.T
    grasps = candidate_grasp(points[i], v, a, d, labels.widths[i, v, a, d], SETTINGS)
    again = force_closure_labels(grasps, MeshRaycaster.from_trimesh(BOX), np.array(SETTINGS.mus))
    np.testing.assert_allclose(again, labels.scores[i, v, a, d], atol=1e-6)
    assert not (labels.scores[labels.collision] > 0).any()


# -- scene collision ------------------------------------------------------------
def table_pose(extents) -> np.ndarray:
    """T_table<-obj putting an aligned box upright on the table at the origin: view V0
    approaches straight down (-z), its y0 along table x and its z0 along table -y."""
    target = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])  # columns x, y0, z0
    pose = np.eye(4)
    pose[:3, :3] = target @ FRAMES[V0].T
    pose[2, 3] = extents[0] / 2
    return pose


def test_scene_flags_neighbour_and_table_but_not_free_top_grasp():
    tall = (0.06, 0.04, 0.06)  # 6 cm tall, 4 cm along table x, 6 cm along table y
    box_a = aligned_box(tall)
    pose_a = table_pose(tall)
    low_side = np.linalg.inv(pose_a) @ np.array([-0.02, 0.0, 0.004, 1.0])  # on A's -x face
    points = np.stack([entry_point(tall), low_side[:3]])
    labels = label_object(box_a, SETTINGS, points=points)
    pose_b = table_pose(BOX_EXTENTS)  # an 8 cm box 1 cm to the +x side of A
    pose_b[0, 3] = tall[1] / 2 + 0.01 + BOX_EXTENTS[1] / 2
    clouds = [sample_surface(box_a, SETTINGS.scene_voxel, seed=3),
              sample_surface(BOX, SETTINGS.scene_voxel, seed=4)]
    scene, owner = scene_point_cloud(np.stack([pose_a, pose_b]), clouds, SETTINGS)
    candidates = CandidateSet.from_labels(labels.points, labels.widths, labels.scores)
    result = candidate_scene_collision(candidates, pose_a, scene, owner, 0, SETTINGS)
    np.testing.assert_array_equal(
        candidate_scene_collision(candidates, pose_a, scene, owner, 0, PLAIN), result)

    half_turn = SETTINGS.num_angles // 2
    assert (labels.scores[0, V0, [0, half_turn]] > 0).all()
    # top grasp closing along table x: the +x finger lands on box B at every depth
    assert result[0, V0, 0].all()
    # top grasp closing along table y: nothing in the way
    assert not result[0, V0, half_turn].any()
    # unchecked candidates (no valid label) are reported as colliding
    assert result[labels.scores <= 0].all()
    # valid grasps low on the far side reach into the table (some into nothing else)
    low = np.argwhere((labels.scores[1] > 0) & result[1])
    assert len(low) > 0
    v, a, d = low.T
    posed = candidate_grasp(np.repeat(points[1:], len(low), 0), v, a, d, labels.widths[1, v, a, d],
                            SETTINGS).transform(pose_a)
    on_table = check_collision(posed, scene[owner == -1], SETTINGS.gripper).collision
    on_b = check_collision(posed, scene[owner == 1], SETTINGS.gripper).collision
    assert on_table.all() and (~on_b).any()
    # and every checked flag agrees with the gripper model on the rest of the scene
    i, v, a, d = np.argwhere(labels.scores > 0).T
    posed = candidate_grasp(points[i], v, a, d, labels.widths[i, v, a, d], SETTINGS).transform(pose_a)
    np.testing.assert_array_equal(check_collision(posed, scene[owner != 0], SETTINGS.gripper).collision,
                                  result[i, v, a, d])


# -- tolerance --------------------------------------------------------------------
def test_tolerance_matches_the_reference_rule_on_random_labels():
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 0.03, (120, 3))
    field = np.sin(points[:, :1] * 200 + rng.uniform(0, 6, (1, 24))) + 0.3 * rng.normal(size=(120, 24))
    scores = np.where(field > 0.2, 0.3, np.where(field > -0.5, 0.8, -1.0)).reshape(120, 3, 2, 4)
    got = tolerance_labels(points, scores)
    np.testing.assert_array_equal(got, tolerance_naive(points, scores))
    np.testing.assert_array_equal(tolerance_labels(points, scores, block=50, compiled=False), got)
    assert got.max() > 0.005


def test_tolerance_zero_around_isolated_grasp_and_grows_on_flat_face():
    grid = np.stack(np.meshgrid(np.arange(21), np.arange(21), indexing="ij"), -1).reshape(-1, 2)
    points = np.column_stack([grid * 0.005, np.zeros(len(grid))])  # 10 x 10 cm face, 5 mm pitch
    scores = np.full((len(points), 1, 1, 2), -1.0)
    scores[:, 0, 0, 0] = 0.2  # bin 0: good everywhere on the face
    centre = int(np.argmin(np.linalg.norm(points - points.mean(0), axis=1)))
    scores[centre, 0, 0, 1] = 0.1  # bin 1: one isolated good grasp
    tol = tolerance_labels(points, scores)
    assert tol[centre, 0, 0, 0] == pytest.approx(0.05)  # the whole 5 cm ball stays good
    assert tol[centre, 0, 0, 1] == pytest.approx(0.004)  # until its 5 mm neighbours join
    neighbours = np.linalg.norm(points - points[centre], axis=1) <= 0.0101
    neighbours[centre] = False
    assert (tol[neighbours, 0, 0, 1] == 0).all()
    edge = int(np.argmin(np.linalg.norm(points, axis=1)))  # a corner: fewer good neighbours
    assert 0 < tol[edge, 0, 0, 0] <= tol[centre, 0, 0, 0]


# -- dataset files -------------------------------------------------------------------
def write_scene(root: Path, scene_id: int, obj_ids: list[int], table_poses: np.ndarray) -> None:
    layout = Layout(root)
    layout.scene_dir(scene_id).mkdir(parents=True, exist_ok=True)
    layout.object_id_list(scene_id).write_text("".join(f"{i}\n" for i in obj_ids))
    cam0_wrt_table = np.eye(4)
    cam0_wrt_table[:3, :3] = trimesh.transformations.rotation_matrix(2.5, [1, 0.3, 0])[:3, :3]
    cam0_wrt_table[:3, 3] = [0.1, -0.2, 0.6]
    cam_dir = layout.camera_dir(scene_id, "realsense")
    cam_dir.mkdir(parents=True, exist_ok=True)
    np.save(layout.cam0_wrt_table(scene_id, "realsense"), cam0_wrt_table)
    write_annotations(layout.frame_file(scene_id, "realsense", "annotations", 0),
                      [ObjectPose(i, np.linalg.inv(cam0_wrt_table) @ p) for i, p in zip(obj_ids, table_poses)])


@pytest.fixture()
def dataset(tmp_path):
    layout = Layout(tmp_path)
    meshes = {0: aligned_box((0.06, 0.04, 0.06)), 3: BOX}
    for obj_id, mesh in meshes.items():
        layout.model_dir(obj_id).mkdir(parents=True)
        mesh.export(layout.model_ply(obj_id))
    pose_b = table_pose(BOX_EXTENTS)
    pose_b[0, 3] = 0.02 + 0.01 + 0.02
    write_scene(tmp_path, 5, [3, 0], np.stack([pose_b, table_pose((0.06, 0.04, 0.06))]))
    return tmp_path


SMALL = AnnotationSettings(num_views=V, grasp_point_voxel=0.02, geometry_voxel=0.008,
                           scene_voxel=0.008)


def test_files_have_the_layout_keys_shapes_and_dtypes(dataset):
    layout = Layout(dataset)
    paths = annotate_objects(dataset, [0, 3], SMALL, workers=0, progress=False)
    assert paths == [layout.grasp_label(0), layout.grasp_label(3)]
    block = (V, SMALL.num_angles, SMALL.num_depths)
    for obj_id in (0, 3):
        with np.load(layout.grasp_label(obj_id)) as data:
            assert sorted(data.files) == ["collision", "offsets", "points", "scores"]
            n = len(data["points"])
            assert data["points"].shape == (n, 3) and data["points"].dtype == np.float32
            assert data["offsets"].shape == (n, *block, 3) and data["offsets"].dtype == np.float32
            assert data["collision"].shape == (n, *block) and data["collision"].dtype == bool
            assert data["scores"].shape == (n, *block) and data["scores"].dtype == np.float32
            np.testing.assert_allclose(data["offsets"][0, 0, :, 0, 0], SMALL.angles, rtol=1e-6)
            np.testing.assert_allclose(data["offsets"][0, 0, 0, :, 1], SMALL.depths, rtol=1e-6)
            assert set(np.unique(data["scores"])) <= {-1.0, *np.float32(SMALL.mus)}
        tol = np.load(layout.tolerance_label(obj_id))
        assert tol.shape == (n, *block) and tol.dtype == np.float32
    [scene_path] = annotate_scenes(dataset, [5], SMALL, workers=0, progress=False)
    assert scene_path == layout.collision_label(5)
    with np.load(scene_path) as data:
        assert sorted(data.files) == ["arr_0", "arr_1"]
        for key, obj_id in (("arr_0", 3), ("arr_1", 0)):
            with np.load(layout.grasp_label(obj_id)) as labels:
                assert data[key].shape == labels["scores"].shape and data[key].dtype == bool
                assert data[key][labels["scores"] <= 0].all()
                assert not data[key].all()


def test_interrupted_run_completes_only_what_is_missing(dataset):
    layout = Layout(dataset)
    annotate_objects(dataset, [0, 3], SMALL, workers=0, progress=False)
    annotate_scenes(dataset, [5], SMALL, workers=0, progress=False)
    stamp = {p: p.stat().st_mtime_ns for p in (layout.grasp_label(0), layout.grasp_label(3),
                                              layout.tolerance_label(0), layout.tolerance_label(3))}
    # simulate an interruption: object 3's labels gone, a half-written temp file left behind,
    # object 0's tolerance gone
    layout.grasp_label(3).unlink()
    stale = layout.grasp_label(3).with_name(layout.grasp_label(3).name + ".999.tmp")
    stale.write_bytes(b"PK\x03\x04 half a zip")
    layout.tolerance_label(0).unlink()
    annotate_objects(dataset, [0, 3], SMALL, workers=2, progress=False)
    assert layout.grasp_label(0).stat().st_mtime_ns == stamp[layout.grasp_label(0)]
    assert layout.grasp_label(3).stat().st_mtime_ns != stamp[layout.grasp_label(3)]
    assert layout.tolerance_label(0).is_file()
    assert not stale.exists()
    assert not list(dataset.rglob("*.tmp"))
    # a truncated output is not taken as complete
    scene_file = layout.collision_label(5)
    scene_file.write_bytes(scene_file.read_bytes()[:100])
    annotate_scenes(dataset, [5], SMALL, workers=0, progress=False)
    with np.load(scene_file) as data:
        assert sorted(data.files) == ["arr_0", "arr_1"]
    # and a complete run is a no-op
    before = {p: p.stat().st_mtime_ns for p in dataset.rglob("*.np[yz]")}
    annotate_objects(dataset, [0, 3], SMALL, workers=0, progress=False)
    annotate_scenes(dataset, [5], SMALL, workers=0, progress=False)
    assert before == {p: p.stat().st_mtime_ns for p in dataset.rglob("*.np[yz]")}
    # object labels redone after the scene's: the scene is redone too
    later = scene_file.stat().st_mtime + 10
    os.utime(layout.grasp_label(3), (later, later))
    annotate_scenes(dataset, [5], SMALL, workers=0, progress=False)
    assert scene_file.stat().st_mtime_ns != before[scene_file]


def test_missing_inputs_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nontextured.ply"):
        annotate_objects(tmp_path, [7], SMALL, workers=0, progress=False)
    Layout(tmp_path).scene_dir(2).mkdir(parents=True)
    Layout(tmp_path).object_id_list(2).write_text("7\n")
    with pytest.raises(FileNotFoundError, match="annotate_objects first"):
        annotate_scenes(tmp_path, [2], SMALL, workers=0, progress=False)
    with pytest.raises(ValueError, match="num_depths"):
        AnnotationSettings(num_depths=5)
