"""The synthetic dataset generator: objects, physics, cameras, rendering, files.

One small root is generated once per module (4 objects, one scene, 2 frames
per camera, no annotation) and checked against independent computations:
meshes posed from the annotations, an independent Open3D ray cast, and
back-projection with camK.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import trimesh

from graspnet_ros._native import import_open3d
from graspnet_ros.cli import main as cli_main
from graspnet_ros.dataset.annotations_xml import read_annotations
from graspnet_ros.dataset.check import check_root
from graspnet_ros.dataset.generate import generate
from graspnet_ros.dataset.layout import Layout, scene_ids
from graspnet_ros.dataset.reader import read_object_id_list
from graspnet_ros.dataset.meta import read_meta
from graspnet_ros.dataset.objects import (get_spec, load_collision, load_model, load_object_set, object_ids,
                                          split_long_edges, write_object)
from graspnet_ros.dataset.presets import Preset, get_preset
from graspnet_ros.dataset.synthetic.cameras import (KINECT, REALSENSE, apply_depth_noise, look_at, relative_poses,
                                                    viewpoints)
from graspnet_ros.dataset.synthetic.physics import settle
from graspnet_ros.dataset.synthetic.scenes import generate_scene, table_poses

o3d = import_open3d()

MARKER = 16  # 040_large_marker: a seen YCB object with a quick convex decomposition
NOVEL = [55, 56, 57]  # pybullet random objects 000-002
SCENE_OBJECTS = [MARKER] + NOVEL


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic_root")
    # a test-only preset: the scene's pool mixes a seen YCB object and random objects
    preset = Preset(name="test", seen=tuple(SCENE_OBJECTS), similar=(), novel=(), scenes=(0,),
                    frames_per_camera=2, test_frames=2, objects_per_scene=(4, 4), noise="simple")
    report = generate(path, preset, workers=1, seed=5, annotate_labels=False, log=lambda s: None)
    assert report.objects_written == 4 and len(report.scenes) == 1
    return path


def posed_meshes(layout: Layout, objects) -> list[trimesh.Trimesh]:
    return [load_model(layout, o.obj_id).copy().apply_transform(o.pose) for o in objects]


# ---------------------------------------------------------------------------
# objects


def test_object_set_ids_groups_and_limits():
    specs = load_object_set()
    assert len(specs) == 255  # label PNGs hold id + 1 in uint8
    assert [s.obj_id for s in specs] == list(range(255))
    seen, similar, novel = object_ids("seen"), object_ids("similar"), object_ids("novel")
    held_out = object_ids("held_out")
    assert (len(seen), len(similar), len(novel), len(held_out)) == (85, 39, 116, 15)
    assert all(specs[i].source in ("ycb", "procedural") for i in seen + similar)
    assert len({s.name for s in specs}) == 255
    # the first 55 ids are the YCB objects they always were (families, test/test_object_families.py)
    assert seen[:38] == list(range(38)) and similar[:17] == list(range(38, 55))


def test_split_long_edges_keeps_a_watertight_mesh():
    box = trimesh.creation.box((0.1, 0.04, 0.02))
    v, f = split_long_edges(box.vertices, box.faces, 0.005)
    mesh = trimesh.Trimesh(v, f, process=False)
    mesh.merge_vertices()
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.edges_unique_length.max() <= 0.005 + 1e-12
    assert mesh.volume == pytest.approx(box.volume, rel=1e-9)
    assert len(mesh.faces) > 50 * len(box.faces)


def test_models_are_in_metres_and_centred(root):
    layout = Layout(root)
    for obj_id in SCENE_OBJECTS:
        mesh = load_model(layout, obj_id)
        assert 0.01 < mesh.extents.max() < 0.3, "models must be in metres"
        np.testing.assert_allclose(mesh.bounds.mean(axis=0), 0.0, atol=1e-6)  # origin at the bbox centre
        assert mesh.edges_unique_length.max() <= 0.005 + 1e-9
        cloud = o3d.io.read_point_cloud(str(layout.model_ply(obj_id)))  # as the reference evaluator reads it
        assert len(cloud.points) == len(mesh.vertices)
        assert layout.model_obj(obj_id).is_file()
        pieces = load_collision(layout, obj_id)
        hull = trimesh.util.concatenate(pieces)
        np.testing.assert_allclose(hull.bounds, mesh.bounds, atol=0.006)
    assert load_model(layout, NOVEL[0]).is_watertight


def test_write_object_skips_complete_objects(root):
    layout = Layout(root)
    before = layout.model_ply(NOVEL[0]).stat().st_mtime_ns
    assert write_object(layout, get_spec(NOVEL[0])) is False
    assert layout.model_ply(NOVEL[0]).stat().st_mtime_ns == before


# ---------------------------------------------------------------------------
# physics


def test_physics_settles_on_the_table_reproducibly(root):
    layout = Layout(root)
    pieces = [load_collision(layout, i) for i in SCENE_OBJECTS]
    meshes = [load_model(layout, i) for i in SCENE_OBJECTS]
    a, b, c = settle(pieces, seed=11), settle(pieces, seed=11), settle(pieces, seed=12)
    np.testing.assert_array_equal(a.poses, b.poses)
    assert np.abs(a.poses[:, :3, 3] - c.poses[:, :3, 3]).max() > 1e-3
    assert a.kept.all()
    posed = [m.copy().apply_transform(p) for m, p in zip(meshes, a.poses)]
    lowest = np.array([m.vertices[:, 2].min() for m in posed])
    assert lowest.min() > -0.004, f"objects sink into the table: lowest z {lowest}"
    assert np.abs(lowest).min() < 0.002, "nothing rests on the table"
    sdf = [raycasting(m) for m in posed]
    for i, m in enumerate(posed):
        # resting: on the table or on another object, not floating
        bottom = m.vertices[m.vertices[:, 2] < lowest[i] + 0.01]
        gaps = [lowest[i]] + [np.abs(signed_distance(sdf[j], bottom)).min() for j in range(len(posed)) if j != i]
        assert np.abs(gaps).min() < 0.004, f"object {SCENE_OBJECTS[i]} floats"
        # no interpenetration beyond a few mm (signed distance < 0 inside a watertight mesh)
        surface = m.vertices[:: max(1, len(m.vertices) // 2000)]
        for j in range(len(posed)):
            if i != j and posed[j].is_watertight:
                depth = -signed_distance(sdf[j], surface).min()
                assert depth < 0.004, f"objects {i} and {j} overlap by {depth * 1000:.1f} mm"


def raycasting(*meshes: trimesh.Trimesh):
    """An Open3D ray-casting scene of trimesh meshes (independent of the renderer's code)."""
    scene = o3d.t.geometry.RaycastingScene()
    for mesh in meshes:
        scene.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                            o3d.core.Tensor(mesh.faces.astype(np.uint32)))
    return scene


def signed_distance(scene, points: np.ndarray) -> np.ndarray:
    return scene.compute_signed_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()


# ---------------------------------------------------------------------------
# cameras


def test_viewpoints_on_a_quarter_sphere_look_at_the_centre():
    centre = np.array([0.03, -0.02])
    views = viewpoints(256, np.random.default_rng(0), azimuth0=0.3, centre=centre)
    assert views.shape == (256, 4, 4)
    offset = views[:, :3, 3] - np.r_[centre, 0.0]
    dist = np.linalg.norm(offset, axis=1)
    assert dist.min() >= 0.5 - 1e-9 and dist.max() <= 0.8 + 1e-9
    assert (views[:, 2, 3] > 0.2).all()  # above the table
    azimuth = np.unwrap(np.arctan2(offset[:, 1], offset[:, 0]) - 0.3)
    assert np.ptp(np.mod(azimuth, 2 * np.pi)) < np.pi  # half of the circle: a quarter sphere
    to_centre = -offset / dist[:, None]
    assert (np.einsum("ij,ij->i", views[:, :3, 2], to_centre) > 0.99).all()  # z axis looks at the table
    assert (views[:, 2, 1] < 0).all()  # image y (down) points down in the world
    for R in views[:, :3, :3]:
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(R) == pytest.approx(1.0)
    steps = np.linalg.norm(np.diff(views[:, :3, 3], axis=0), axis=1)
    assert steps.max() < 0.15  # consecutive frames are neighbouring views
    rel, cam0 = relative_poses(views)
    np.testing.assert_array_equal(rel[0], np.eye(4))
    np.testing.assert_allclose(cam0[None] @ rel, views, atol=1e-12)


def test_look_at_is_an_optical_frame():
    pose = look_at(np.array([-0.5, 0.0, 0.0]), np.zeros(3))
    np.testing.assert_allclose(pose[:3, 2], [1, 0, 0], atol=1e-12)  # z forward
    np.testing.assert_allclose(pose[:3, 1], [0, 0, -1], atol=1e-12)  # y down
    np.testing.assert_allclose(pose[:3, 0], [0, -1, 0], atol=1e-12)  # x right
    with pytest.raises(ValueError, match="parallel"):
        look_at(np.array([0, 0, 1.0]), np.zeros(3))


def noise_stats(camera, depth_m, albedo=0.5, cos=1.0, seed=0):
    shape = (240, 320)
    depth = np.full(shape, depth_m)
    out = apply_depth_noise(camera, depth, np.full(shape, cos), np.full(shape, albedo), np.random.default_rng(seed))
    valid = out > 0
    return np.std(out[valid] - depth_m), 1.0 - valid.mean()


def test_noise_models_differ_as_designed():
    rs_near, _ = noise_stats(REALSENSE, 0.5)
    rs_far, _ = noise_stats(REALSENSE, 0.8)
    k_near, _ = noise_stats(KINECT, 0.5)
    k_far, k_far_invalid = noise_stats(KINECT, 0.8)
    assert 2.0 < rs_far / rs_near < 3.2  # stereo: error grows with depth squared (2.56)
    assert 1.0 < k_far / k_near < 1.8  # time of flight: slower growth
    assert k_far < rs_far and 0.0003 < k_far < 0.003 and 0.0005 < rs_far < 0.005
    assert k_far_invalid < 0.01
    # dark surface seen at a grazing angle: the ToF return is too weak, stereo still matches
    _, k_dark = noise_stats(KINECT, 0.7, albedo=0.1, cos=0.3)
    _, rs_dark = noise_stats(REALSENSE, 0.7, albedo=0.1, cos=0.3)
    assert k_dark > 0.5 and rs_dark < 0.1
    # a box in front of a plane: stereo shadow left of the box, wide; ToF shadow right, narrow
    depth = np.full((100, 300), 0.7)
    depth[30:70, 140:180] = 0.55
    ones = np.ones_like(depth)
    rs = apply_depth_noise(REALSENSE, depth, ones, ones * 0.5, np.random.default_rng(1))
    k = apply_depth_noise(KINECT, depth, ones, ones * 0.5, np.random.default_rng(1))
    rs_left = (rs[35:65, 100:137] == 0).mean(axis=0)
    assert rs_left[-12:].min() > 0.9 and rs_left[:20].max() < 0.2  # shadow width f b (1/z1 - 1/z2) = 18 px
    k_right = (k[35:65, 181:200] == 0).mean(axis=0)  # f b (1/z1 - 1/z2) = 8 px
    assert k_right[:5].min() > 0.9 and k_right[10:].max() < 0.2 and (k[35:65, 100:137] == 0).mean() < 0.05


# ---------------------------------------------------------------------------
# rendered frames


def test_files_and_pose_consistency(root):
    layout = Layout(root)
    obj_ids = [int(v) for v in layout.object_id_list(0).read_text().split()]
    assert obj_ids == sorted(SCENE_OBJECTS)
    for cam in ("realsense", "kinect"):
        K = np.load(layout.camK(0, cam))
        poses = np.load(layout.camera_poses(0, cam))
        cam0 = np.load(layout.cam0_wrt_table(0, cam))
        assert poses.shape == (2, 4, 4) and K.shape == (3, 3) and cam0.shape == (4, 4)
        np.testing.assert_array_equal(poses[0], np.eye(4))
        frame0 = read_annotations(layout.frame_file(0, cam, "annotations", 0))
        for i in range(len(poses)):
            anns = read_annotations(layout.frame_file(0, cam, "annotations", i))
            meta = read_meta(layout.frame_file(0, cam, "meta", i))
            assert [a.obj_id for a in anns] == obj_ids and list(meta.obj_ids) == obj_ids
            np.testing.assert_allclose(meta.intrinsics, K)
            for a, a0, p in zip(anns, frame0, meta.poses):
                np.testing.assert_allclose(a.pose, np.linalg.inv(poses[i]) @ a0.pose, atol=1e-6)
                np.testing.assert_allclose(a.pose, p, atol=1e-7)
        # table-frame poses agree between the cameras and rest on the table
        ids, table = table_poses(layout, 0, cam)
        lowest = [(load_model(layout, i).vertices @ T[:3, :3].T + T[:3, 3])[:, 2].min() for i, T in zip(ids, table)]
        assert min(lowest) > -0.004 and min(np.abs(lowest)) < 0.002
    np.testing.assert_allclose(table_poses(layout, 0, "realsense")[1], table_poses(layout, 0, "kinect")[1], atol=1e-6)
    np.testing.assert_allclose(np.load(layout.camK(0, "realsense")), REALSENSE.K)
    np.testing.assert_allclose(np.load(layout.camK(0, "kinect")), KINECT.K)


def read_frame(layout, cam, ann):
    import cv2

    rgb = cv2.imread(str(layout.frame_file(0, cam, "rgb", ann)), cv2.IMREAD_UNCHANGED)
    depth = cv2.imread(str(layout.frame_file(0, cam, "depth", ann)), cv2.IMREAD_UNCHANGED)
    label = cv2.imread(str(layout.frame_file(0, cam, "label", ann)), cv2.IMREAD_UNCHANGED)
    return rgb, depth, label


@pytest.mark.parametrize("cam", ["realsense", "kinect"])
def test_depth_lies_on_the_posed_meshes(root, cam):
    layout = Layout(root)
    K = np.load(layout.camK(0, cam))
    rgb, depth, label = read_frame(layout, cam, 1)
    assert depth.dtype == np.uint16 and label.dtype == np.uint8 and rgb.shape == (720, 1280, 3)
    anns = read_annotations(layout.frame_file(0, cam, "annotations", 1))
    scene = raycasting(*posed_meshes(layout, anns))
    v, u = np.nonzero((depth > 0) & (label > 0))
    z = depth[v, u] / 1000.0
    pts = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=1)
    dist = scene.compute_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy()
    assert len(pts) > 2000
    assert np.median(dist) < 0.002, f"median distance {np.median(dist) * 1000:.2f} mm"
    assert np.percentile(dist, 90) < 0.006
    # table pixels lie on z = 0 of the table frame
    table_from_cam = np.load(layout.cam0_wrt_table(0, cam)) @ np.load(layout.camera_poses(0, cam))[1]
    v, u = np.nonzero((depth > 0) & (label == 0))
    z = depth[v, u] / 1000.0
    pts = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=1)
    height = pts @ table_from_cam[2, :3] + table_from_cam[2, 3]
    assert np.median(np.abs(height)) < 0.002


@pytest.mark.parametrize("cam", ["realsense", "kinect"])
def test_label_equals_the_mask_of_the_posed_meshes(root, cam):
    layout = Layout(root)
    K = np.load(layout.camK(0, cam))
    _, _, label = read_frame(layout, cam, 0)
    anns = read_annotations(layout.frame_file(0, cam, "annotations", 0))
    scene = o3d.t.geometry.RaycastingScene()
    ids = [scene.add_triangles(o3d.core.Tensor(m.vertices.astype(np.float32)),
                               o3d.core.Tensor(m.faces.astype(np.uint32))) for m in posed_meshes(layout, anns)]
    # Open3D's own pinhole rays go through (u + 0.5, v + 0.5): shift cx, cy to match OpenCV pixel centres
    K_o3d = K.copy()
    K_o3d[0, 2] += 0.5
    K_o3d[1, 2] += 0.5
    rays = scene.create_rays_pinhole(o3d.core.Tensor(K_o3d), o3d.core.Tensor(np.eye(4)), 1280, 720)
    gid = scene.cast_rays(rays)["geometry_ids"].numpy()
    expect = np.zeros(gid.shape, dtype=np.uint8)
    for g, a in zip(ids, anns):
        expect[gid == g] = a.obj_id + 1
    union = (expect > 0) | (label > 0)
    assert union.sum() > 2000
    assert (expect == label)[union].mean() > 0.995
    assert set(np.unique(label)) <= {0} | {a.obj_id + 1 for a in anns}


def file_digest(layout: Layout) -> dict[str, str]:
    """sha1 of every scene file; .mat files by content (their header holds a time stamp)."""
    scene = layout.scene_dir(0)
    out = {}
    for p in sorted(scene.rglob("*")):
        if p.suffix == ".mat":
            m = read_meta(p)
            data = b"".join(np.ascontiguousarray(a).tobytes() for a in (m.obj_ids, m.poses, m.intrinsics))
        elif p.is_file():
            data = p.read_bytes()
        else:
            continue
        out[str(p.relative_to(scene))] = hashlib.sha1(data).hexdigest()
    return out


def test_scenes_are_resumable_and_reproducible(root, tmp_path):
    layout = Layout(root)
    before = file_digest(layout)
    mtime = layout.object_id_list(0).stat().st_mtime_ns
    again = generate_scene(root, 0, SCENE_OBJECTS, (4, 4), 2, ("realsense", "kinect"), seed=5)
    assert again.skipped and layout.object_id_list(0).stat().st_mtime_ns == mtime
    # a fresh root with the same seed reproduces every byte (one camera, to save time)
    copy = Layout(tmp_path / "copy")
    shutil.copytree(layout.root / "models", copy.root / "models")
    generate_scene(copy.root, 0, SCENE_OBJECTS, (4, 4), 2, ("realsense", "kinect")[:1], seed=5)
    assert file_digest(copy) == {k: v for k, v in before.items() if not k.startswith("kinect")}
    # an interrupted scene (no object_id_list.txt) is generated again
    copy.object_id_list(0).unlink()
    assert not generate_scene(copy.root, 0, SCENE_OBJECTS, (4, 4), 1, ("realsense",), seed=5).skipped


def test_check_and_draw_commands(root, tmp_path, capsys):
    # the fixture is frames only (annotate_labels=False): the deep check finds every frame
    # consistent and names exactly the label files it lacks
    report = check_root(root, deep=True)
    assert report.checked["consistency"] >= 6 and not report.by_category().get("consistency")
    assert {p.category for p in report.problems} == {"grasp_labels", "collision_labels"}
    assert {p.path.name for p in report.problems} == {"collision_labels.npz"} | {
        f"{i:03d}_labels.npz" for i in report.objects}
    assert all(p.message == "missing" for p in report.problems)
    assert cli_main(["data", "check", "--root", str(root), "--deep"]) == 1
    assert "grasp_labels            4 checked, 4 bad" in capsys.readouterr().out
    out = tmp_path / "frame.png"
    assert cli_main(["data", "draw", "--root", str(root), "--scene", "0", "--ann", "1", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    broken = tmp_path / "broken"
    shutil.copytree(root, broken)
    gone = Layout(broken).frame_file(0, "kinect", "label", 1)
    gone.unlink()
    assert cli_main(["data", "check", "--root", str(broken)]) == 1
    assert f"ERROR {gone}: missing" in capsys.readouterr().out
    assert cli_main(["data", "draw", "--root", str(root), "--scene", "3", "--ann", "0", "--out", str(out)]) == 2


def test_generate_refuses_foreign_and_reseeded_roots(root, tmp_path):
    foreign = tmp_path / "real"
    (foreign / "scenes" / "scene_0000" / "realsense").mkdir(parents=True)
    with pytest.raises(ValueError, match="not a synthetic root"):
        generate(foreign, "tiny", annotate_labels=False, log=lambda s: None)
    assert (foreign / "scenes" / "scene_0000" / "realsense").is_dir()
    with pytest.raises(ValueError, match="seed 5, not 6"):
        generate(root, "tiny", seed=6, annotate_labels=False, log=lambda s: None)


def test_generate_a_subset_of_scenes_then_the_rest(tmp_path, capsys):
    # two scenes drawing from a pool of four objects: the first run makes one scene and only
    # the objects it holds; the second completes the root without touching the first scene
    preset = Preset(name="test", seen=tuple(SCENE_OBJECTS), similar=(), novel=(), scenes=(0, 1),
                    frames_per_camera=1, test_frames=1, objects_per_scene=(1, 2), noise="simple")
    from graspnet_ros.dataset.generate import scene_objects

    first = scene_objects(preset, 5, [1])
    report = generate(tmp_path, preset, seed=5, annotate_labels=False, log=lambda s: None, scene_ids=[1])
    layout = Layout(tmp_path)
    assert [s.scene_id for s in report.scenes] == [1] and layout.scenes() == [1]
    assert sorted(int(p.name) for p in (tmp_path / "models").iterdir()) == first
    assert read_object_id_list(layout.object_id_list(1)) == first  # what the scene really holds
    report = generate(tmp_path, preset, seed=5, annotate_labels=False, log=lambda s: None)
    assert [s.skipped for s in report.scenes] == [False, True] and layout.scenes() == [0, 1]
    with pytest.raises(ValueError, match=r"scenes \[7\] are not in preset test"):
        generate(tmp_path, preset, seed=5, annotate_labels=False, log=lambda s: None, scene_ids=[1, 7])
    # the command's --scenes takes ids and ranges; a stray id is a clear error, exit status 2
    assert cli_main(["data", "generate", "--root", str(tmp_path / "t"), "--preset", "tiny", "--no-annotate",
                     "--scenes", "100-101"]) == 2
    assert "scenes [101] are not in preset tiny" in capsys.readouterr().err


def test_presets_follow_the_real_splits():
    tiny, small, full = get_preset("tiny"), get_preset("small"), get_preset("full")
    seen, similar, novel = set(object_ids("seen")), set(object_ids("similar")), set(object_ids("novel"))
    for p in (tiny, small, full):
        assert set(p.seen) <= seen and set(p.similar) <= similar and set(p.novel) <= novel
        for s in p.scenes:
            assert set(p.pool(s)) <= (seen if s < 130 else similar if s < 160 else novel)
    assert {0, 100, 130, 160} <= set(tiny.scenes) and len(tiny.obj_ids) <= 8 and tiny.frames_per_camera == 4
    assert 20 <= sum(s < 100 for s in small.scenes) <= 30 and 32 <= small.frames_per_camera <= 64
    assert len(small.obj_ids) >= 45 and small.annotation["num_views"] == 300
    assert list(full.scenes) == scene_ids("train") + scene_ids("test") and full.frames_per_camera == 256
    assert len(full.obj_ids) == 255 - len(object_ids("held_out"))
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("huge")
