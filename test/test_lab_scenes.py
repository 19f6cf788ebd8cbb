"""Scene kind ``lab`` of the synthetic generator: what a real lab shows around the table.

Small renders (a scaled camera, a few views) of two boxes at the table
frame's origin inside a lab drawn by ``lab_scene``; one tiny generated
scene for the files, the root's record and the CLI option. The tabletop
kind is checked against a digest of its renders made before the lab
existed.
"""

from __future__ import annotations

import dataclasses
import hashlib

import cv2
import numpy as np
import pytest
import trimesh
import yaml

from graspnet_ros.cli import main as cli_main
from graspnet_ros.dataset.annotations_xml import read_annotations
from graspnet_ros.dataset.generate import INFO_FILE, check_info, generate
from graspnet_ros.dataset.layout import Layout
from graspnet_ros.dataset.presets import Preset
from graspnet_ros.dataset.synthetic.cameras import (KINECT, REALSENSE, CameraModel, ViewSettings, apply_depth_noise,
                                                    look_at, viewpoints)
from graspnet_ros.dataset.synthetic.lab import ROBOTS, TABLE_MATERIALS, lab_scene
from graspnet_ros.dataset.synthetic.render import SceneRaycaster, albedo_image, shade
from graspnet_ros.dataset.synthetic.scenes import generate_scene, render_frame, scene_raycaster
from graspnet_ros.dataset.synthetic.sensors import infrared_materials
from graspnet_ros.dataset.synthetic.stereo import D435, simulate_stereo
from graspnet_ros.dataset.synthetic.tof import AZURE_KINECT_NFOV, simulate_tof

ARC = 0.4  # azimuth0 of the camera arc (rad); the lab faces its middle
SPAN = ViewSettings().azimuth_span


def boxes() -> tuple[list[trimesh.Trimesh], np.ndarray]:
    """Two objects near the table frame's origin (where the generator drops the clutter)."""
    meshes = [trimesh.creation.box((0.08, 0.06, 0.10)), trimesh.creation.cylinder(radius=0.03, height=0.12)]
    poses = np.tile(np.eye(4), (2, 1, 1))
    poses[0, :3, 3] = (0.05, 0.0, 0.05)
    poses[1, :3, 3] = (-0.06, 0.04, 0.06)
    return meshes, poses


def small(camera: CameraModel, scale: float) -> CameraModel:
    """``camera`` at ``scale`` times its resolution (same field of view)."""
    return dataclasses.replace(camera, width=int(camera.width * scale), height=int(camera.height * scale),
                               fx=camera.fx * scale, fy=camera.fy * scale, cx=camera.cx * scale,
                               cy=camera.cy * scale)


@pytest.fixture(scope="module")
def lab():
    return lab_scene(np.random.default_rng([7, 3]), ARC + SPAN / 2)


@pytest.fixture(scope="module")
def views():
    return viewpoints(256, np.random.default_rng(1), azimuth0=ARC)


def low_middle_view(views: np.ndarray) -> np.ndarray:
    """The lowest row's view in the middle of the arc: it looks across the table at the robot."""
    return views[256 - 16]  # row 7 runs backwards (serpentine): its 16th view is the 16th of 32 columns


def test_arc_has_the_papers_capture_geometry(views, lab):
    """256 views, 8 elevations x 32 azimuths, on a quarter sphere at 0.5-0.8 m and 30-75 degrees (the
    generator's GraspNet-1Billion settings); the robot stands across the table from the arc's middle."""
    eye = views[:, :3, 3]
    dist = np.linalg.norm(eye, axis=1)
    elev = np.rad2deg(np.arcsin(eye[:, 2] / dist))
    assert dist.min() > 0.5 - 0.03 and dist.max() < 0.8 + 0.03  # the look-at jitter moves the centre 2 cm
    assert elev.min() > 30 - 3 and elev.max() < 75 + 3
    assert len(np.unique(np.round(elev))) == 8
    azim = np.mod(np.arctan2(eye[:, 1], eye[:, 0]) - ARC, 2 * np.pi)
    assert azim.max() < np.pi  # half of the circle: a quarter sphere
    robot = np.vstack([lab.parts[i].vertices for i in np.flatnonzero(np.array(lab.part_names) == "robot")])
    robot_azim = np.arctan2(robot[:, 1].mean(), robot[:, 0].mean())
    middle = ARC + SPAN / 2
    assert abs(np.angle(np.exp(1j * (robot_azim - middle - np.pi)))) < np.deg2rad(35)


def test_lab_layouts_vary_per_scene_and_repeat_per_seed():
    scenes = [lab_scene(np.random.default_rng([0, s]), 0.0) for s in range(12)]
    heights = [s.table_height for s in scenes]
    assert min(heights) >= 0.6 and max(heights) <= 0.9 and np.ptp(heights) > 0.1
    assert len({s.table_material for s in scenes}) >= 3
    assert len({s.robot for s in scenes}) == len(ROBOTS)
    assert len({round(float(np.mean(s.table_colour)), 3) for s in scenes}) == 12  # albedo jittered per scene
    for s in scenes:
        np.testing.assert_allclose(s.table.bounds[1, 2], 0.0, atol=1e-9)  # the top face is the table plane
        assert (s.table.bounds[0, :2] < -0.35).all() and (s.table.bounds[1, :2] > 0.35).all()  # under the clutter
        floor = s.parts[s.part_names.index("floor")]
        np.testing.assert_allclose(floor.vertices[:, 2], -s.table_height)
        assert s.colours().shape == (1 + len(s.parts), 3) and s.gloss().shape == (1 + len(s.parts),)
    again = lab_scene(np.random.default_rng([0, 5]), 0.0)
    np.testing.assert_array_equal(np.vstack([m.vertices for m in again.parts]),
                                  np.vstack([m.vertices for m in scenes[5].parts]))


def test_lab_frame_has_depth_beyond_the_table_edge(lab, views):
    """From the low middle view, a lab frame has surfaces below and behind the
    table (floor, wall, legs, distractors) where the tabletop frame sees nothing."""
    meshes, poses = boxes()
    camera = small(REALSENSE, 0.25)
    pose = low_middle_view(views)
    top = scene_raycaster(meshes, poses).cast(camera, pose)
    room = scene_raycaster(meshes, poses, lab).cast(camera, pose)
    assert (top.depth == 0).mean() > 0.05  # the tabletop frame runs off its table into nothing
    assert not (top.point[top.depth > 0, 2] < -0.01).any()
    beyond = (room.depth > 0) & (room.point[..., 2] < -0.05)  # below the table top
    assert beyond.mean() > 0.05
    assert (room.depth > 0).mean() > (top.depth > 0).mean() + 0.05
    hit_names = {lab.part_names[i - 3] for i in np.unique(room.index) if i >= 3}
    assert "floor" in hit_names or "wall" in hit_names


def test_background_reads_label_zero_and_objects_keep_theirs(lab, views):
    meshes, poses = boxes()
    obj_ids = [3, 7]
    raycaster = scene_raycaster(meshes, poses, lab)
    rgb, depth, label, truth = render_frame(raycaster, "realsense", low_middle_view(views), obj_ids,
                                            np.random.default_rng(0), "simple", lab)
    hits = raycaster.cast(REALSENSE, low_middle_view(views))
    np.testing.assert_array_equal(hits.depth, truth)
    background = hits.index > len(obj_ids)
    assert background.mean() > 0.05
    assert (label[background] == 0).all() and (label[hits.index == len(obj_ids)] == 0).all()
    for k, obj in enumerate(obj_ids):
        assert (label[hits.index == k] == obj + 1).all() and (hits.index == k).any()
    assert set(np.unique(label)) == {0, 4, 8}
    # the background has its own colours, not the default table's or the no-hit grey
    assert len(np.unique(rgb[background].reshape(-1, 3) // 32, axis=0)) > 3


def test_robot_is_seen_from_some_views_of_the_arc(lab, views):
    meshes, poses = boxes()
    raycaster = scene_raycaster(meshes, poses, lab)
    robot = lab.indices("robot", len(meshes))
    camera = small(REALSENSE, 0.1)
    seen = [np.isin(raycaster.cast(camera, v).index, robot).mean() for v in views[::4]]
    assert max(seen) > 0.01  # a visible arm in at least one view
    assert min(seen) == 0.0  # and not in the high views that look down at the clutter


@pytest.mark.parametrize("sensor", ["stereo", "tof"])
def test_sensor_models_see_the_lab_and_its_table_albedo(lab, views, sensor):
    """Both sensor simulations ray-cast the lab: they measure the floor, walls
    or robot where the noiseless render has them, and a black table loses far
    more depth than a white one (infrared dots on low albedo, weak ToF return)."""
    meshes, poses = boxes()
    obj_ids = [3, 7]
    pose = low_middle_view(views)
    invalid_on_table = []
    for material in ("white laminate", "black"):
        colour = np.array(dict((m[0], m[1]) for m in TABLE_MATERIALS)[material])
        scene = dataclasses.replace(lab, table_colour=colour, table_gloss=0.0)
        raycaster = scene_raycaster(meshes, poses, scene)
        albedo, gloss = infrared_materials(obj_ids, scene)
        assert len(albedo) == len(gloss) == len(obj_ids) + 1 + len(scene.parts)
        rng = np.random.default_rng(0)
        if sensor == "stereo":
            frame = simulate_stereo(raycaster, pose, albedo, gloss, D435.scaled(0.5), rng)
        else:
            frame = simulate_tof(raycaster, pose, albedo, AZURE_KINECT_NFOV.scaled(0.5), rng)
        hits, depth = frame.hits, frame.depth
        table = (hits.index == len(obj_ids)) & getattr(frame, "fov", True)  # ToF: inside its field of view
        invalid_on_table.append((depth[table] == 0).mean())
        if material == "white laminate":
            back = (hits.index > len(obj_ids)) & (depth > 0)
            assert back.sum() > 200
            err = np.abs(depth[back] - hits.depth[back])
            assert np.median(err) < 0.03
    white, black = invalid_on_table
    assert black > max(3.0 * white, white + 0.1), invalid_on_table


def test_tabletop_renders_are_unchanged():
    """The default table, the albedo, shading, label and simple depth noise of a
    fixed scene: the digest was computed before the lab scene kind existed."""
    meshes, poses = boxes()
    raycaster = SceneRaycaster(meshes, poses)
    h = hashlib.sha256()
    for camera in (REALSENSE, KINECT):
        hits = raycaster.cast(camera, look_at(np.array([0.6, 0.2, 0.45]), np.zeros(3)))
        rng = np.random.default_rng(0)
        albedo, grey = albedo_image(hits, np.array([[0.8, 0.2, 0.2], [0.1, 0.1, 0.1]]))
        rgb = shade(hits, albedo, rng)
        depth = apply_depth_noise(camera, hits.depth, hits.cos_incidence, grey, rng)
        for a in (hits.depth, hits.label([3, 7]), grey, rgb, depth):
            h.update(np.ascontiguousarray(a).tobytes())
    assert h.hexdigest() == "4ab35645f23167463e380b54e0f19cb7b7e174fd4ec57baff79c4fcaf9bad963"
    albedo, gloss = infrared_materials([3, 7])
    assert len(albedo) == len(gloss) == 3 and gloss[-1] == 0.0


def test_generate_lab_scene_files_record_and_refusal(tmp_path):
    """``generate(scene="lab")``: labels 0 off the objects, annotations list
    only the objects, the same bytes from the same (seed, scene); the root
    records its scene kind and refuses to be extended with the other one."""
    objects = (55, 56)  # pybullet random objects: quick to prepare
    preset = Preset(name="lab-test", seen=objects, similar=(), novel=(), scenes=(0,), frames_per_camera=1,
                    test_frames=1, objects_per_scene=(2, 2), cameras=("realsense",), noise="simple")
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        generate(root, preset, seed=3, annotate_labels=False, log=lambda s: None, scene="lab")
    a, b = Layout(roots[0]), Layout(roots[1])
    for kind in ("depth", "label", "rgb"):
        assert a.frame_file(0, "realsense", kind, 0).read_bytes() == b.frame_file(0, "realsense", kind, 0).read_bytes()
    label = cv2.imread(str(a.frame_file(0, "realsense", "label", 0)), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(label)) <= {0} | {i + 1 for i in objects}
    assert [o.obj_id for o in read_annotations(a.frame_file(0, "realsense", "annotations", 0))] == list(objects)
    assert yaml.safe_load((roots[0] / INFO_FILE).read_text())["scene"] == "lab"
    with pytest.raises(ValueError, match="lab scenes, not tabletop; use the same --scene"):
        generate(roots[0], preset, seed=3, annotate_labels=False, log=lambda s: None, scene="tabletop")
    # without --scene a root goes on with what it records
    assert generate(roots[0], preset, seed=3, annotate_labels=False, log=lambda s: None).scenes[0].skipped
    with pytest.raises(ValueError, match="scene kind"):
        generate_scene(roots[0], 1, objects, (2, 2), 1, ("realsense",), scene="office")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / INFO_FILE).write_text(yaml.safe_dump({"preset": "lab-test", "seed": 0}))
    with pytest.raises(ValueError, match="tabletop scenes, not lab"):  # roots from before the option
        check_info(tmp_path / "old", preset, 0, "simple", "lab")
    with pytest.raises(ValueError, match="unknown scene kind"):
        generate(tmp_path / "new", preset, scene="office")
    with pytest.raises(SystemExit):
        cli_main(["data", "generate", "--root", str(tmp_path / "cli"), "--scene", "office"])
