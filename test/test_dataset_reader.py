"""GraspNetDataset, point clouds, ground-truth grasps, check_root and draw_frame
on the hand-made root of ``dataset_fixture`` (every file computed from known
meshes and poses, so each reading can be checked against the geometry)."""

import shutil

import cv2
import numpy as np
import pytest
import trimesh

from dataset_fixture import (ANNOTATION_ORDER, IMAGE_SIZE, INTRINSICS, NUM_FRAMES, NUM_VIEWS,
                             OBJECT_ID_LIST, SCENE_ID, build_fixture_dataset)
from graspnet_ros._native import import_open3d
from graspnet_ros.dataset.check import check_root
from graspnet_ros.dataset.cloud import depth_to_points, project_points, transform_points
from graspnet_ros.dataset.draw import draw_frame
from graspnet_ros.dataset.grasp_labels import load_npz, project_grasp_labels
from graspnet_ros.dataset.layout import CAMERAS
from graspnet_ros.dataset.reader import GraspNetDataset, frame_point_cloud
from graspnet_ros.force_closure import ANNOTATION_MUS, MeshRaycaster, force_closure_labels
from graspnet_ros.gripper import GripperModel, check_collision
from graspnet_ros.views import fibonacci_views

o3d = import_open3d()
FRAMES = [(camera, ann_id) for camera in CAMERAS for ann_id in range(NUM_FRAMES)]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return build_fixture_dataset(tmp_path_factory.mktemp("graspnet_root"))


@pytest.fixture
def root_copy(fixture, tmp_path):
    """A private copy of the fixture root that a test may damage."""
    return shutil.copytree(fixture.root, tmp_path / "root")


def posed_mesh(fixture, camera, ann_id, obj_id):
    return fixture.meshes[obj_id].copy().apply_transform(fixture.object_pose(camera, ann_id, obj_id))


def distance_to(meshes, points):
    """Unsigned distance (m) of points to the union of trimesh meshes."""
    scene = o3d.t.geometry.RaycastingScene()
    for m in meshes:
        scene.add_triangles(o3d.core.Tensor(np.asarray(m.vertices, np.float32)),
                            o3d.core.Tensor(np.asarray(m.faces, np.uint32)))
    return scene.compute_distance(o3d.core.Tensor(np.asarray(points, np.float32))).numpy()


def test_scenes_splits_and_objects(fixture):
    for camera in CAMERAS:
        ds = GraspNetDataset(fixture.root, camera)
        assert ds.scene_ids() == [SCENE_ID]
        assert ds.scene_ids("seen") == ds.scene_ids("test") == [SCENE_ID]
        assert ds.scene_ids("train") == ds.scene_ids("novel") == []
        assert ds.num_frames(SCENE_ID) == NUM_FRAMES
        assert ds.object_ids(SCENE_ID) == list(OBJECT_ID_LIST)
        assert list(ds.frame_ids()) == [(SCENE_ID, 0), (SCENE_ID, 1)]
    ds = GraspNetDataset(fixture.root)
    with pytest.raises(ValueError, match="frames 0..1"):
        ds.frame(SCENE_ID, NUM_FRAMES)
    with pytest.raises(ValueError, match="unknown split"):
        ds.scene_ids("val")
    with pytest.raises(ValueError, match="unknown camera"):
        GraspNetDataset(fixture.root, "zed")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        GraspNetDataset(fixture.root / "nowhere")


@pytest.mark.parametrize("camera,ann_id", FRAMES)
def test_frame_shapes_dtypes_and_poses(fixture, camera, ann_id):
    frame = GraspNetDataset(fixture.root, camera).frame(SCENE_ID, ann_id)
    w, h = IMAGE_SIZE
    assert frame.rgb.shape == (h, w, 3) and frame.rgb.dtype == np.uint8
    assert frame.depth.shape == (h, w) and frame.depth.dtype == np.float32
    assert 0.2 < frame.depth[frame.depth > 0].min() < frame.depth.max() < 1.5  # metres, not mm
    assert frame.label.shape == (h, w) and np.issubdtype(frame.label.dtype, np.integer)
    assert set(np.unique(frame.label)) == {0} | {i + 1 for i in ANNOTATION_ORDER}
    np.testing.assert_allclose(frame.intrinsics, INTRINSICS[camera])
    np.testing.assert_allclose(frame.camera_pose, fixture.camera_poses[camera][ann_id], atol=1e-12)
    np.testing.assert_allclose(frame.cam0_wrt_table, fixture.cam0_wrt_table[camera], atol=1e-12)
    assert frame.object_ids.tolist() == list(ANNOTATION_ORDER)
    assert frame.object_poses.shape == (2, 4, 4)
    for obj_id, pose in zip(frame.object_ids, frame.object_poses):
        np.testing.assert_allclose(pose, fixture.object_pose(camera, ann_id, obj_id), atol=1e-7)
        # T_table<-cam T_cam<-obj is the object's pose on the table, whatever the frame
        np.testing.assert_allclose(frame.table_pose @ pose, fixture.table_poses[obj_id], atol=1e-7)
    np.testing.assert_allclose(frame.meta.poses, frame.object_poses, atol=1e-7)
    assert frame.factor_depth == 1000.0


@pytest.mark.parametrize("camera,ann_id", FRAMES)
def test_point_cloud_lies_on_the_posed_scene(fixture, camera, ann_id):
    frame = GraspNetDataset(fixture.root, camera).frame(SCENE_ID, ann_id)
    objects = [posed_mesh(fixture, camera, ann_id, i) for i in ANNOTATION_ORDER]
    pts = frame_point_cloud(frame, mask_objects=True)
    assert pts.dtype == np.float32 and pts.shape[1] == 3 and len(pts) > 500
    d = distance_to(objects, pts)
    assert np.median(d) < 1e-3 and np.quantile(d, 0.99) < 2e-3
    # the whole cloud: objects, and the table top (z = 0 in the table frame)
    full = frame_point_cloud(frame)
    assert len(full) == int((frame.depth > 0).sum())
    z_table = transform_points(full.astype(np.float64), frame.table_pose)[:, 2]
    off_table = np.abs(z_table) > 2e-3
    assert np.median(distance_to(objects, full[off_table])) < 1e-3
    # organized layout: NaN exactly where depth is missing or masked out
    org = frame_point_cloud(frame, mask_objects=True, organized=True)
    assert org.shape == frame.depth.shape + (3,)
    keep = np.isfinite(org).all(axis=-1)
    np.testing.assert_array_equal(keep, (frame.depth > 0) & (frame.label > 0))
    np.testing.assert_array_equal(org[keep], pts)
    # back-projection and projection are inverse
    rows, cols = np.nonzero(keep)
    np.testing.assert_allclose(project_points(org[keep], frame.intrinsics), np.stack([cols, rows], 1),
                               atol=1e-3)


def test_workspace_crops(fixture):
    frame = GraspNetDataset(fixture.root).frame(SCENE_ID, 1)
    full = frame_point_cloud(frame, organized=True)
    # a table-frame box from 5 mm above the table top keeps object pixels only
    above = frame_point_cloud(frame, workspace=np.array([[-1, -1, 0.005], [1, 1, 1]]), organized=True)
    kept = np.isfinite(above).all(axis=-1)
    assert kept.sum() > 500
    assert (frame.label[kept] > 0).mean() > 0.99
    z = transform_points(above[kept].astype(np.float64), frame.table_pose)[:, 2]
    assert z.min() >= 0.005
    # the graspnet-baseline "objects" box contains every object point and some table around them
    objects = frame_point_cloud(frame, workspace="objects", organized=True)
    inside = np.isfinite(objects).all(axis=-1)
    obj_px = (frame.label > 0) & (frame.depth > 0)
    assert inside[obj_px].all() and (inside & ~obj_px).sum() > 0
    assert inside.sum() < np.isfinite(full).all(axis=-1).sum()
    # "table": the 1 x 1 m table area, 2 cm below to 50 cm above the top
    table = frame_point_cloud(frame, workspace="table")
    tz = transform_points(table.astype(np.float64), frame.table_pose)
    assert len(table) > 0 and (np.abs(tz[:, :2]) <= 0.5).all() and (tz[:, 2] >= -0.02).all()
    with pytest.raises(ValueError, match="workspace"):
        frame_point_cloud(frame, workspace="kitchen")
    with pytest.raises(ValueError, match="exceeds upper"):
        frame_point_cloud(frame, workspace=np.array([[1, 1, 1], [0, 0, 0]]))


@pytest.mark.parametrize("camera,ann_id", FRAMES)
def test_label_mask_agrees_with_posed_meshes(fixture, camera, ann_id):
    frame = GraspNetDataset(fixture.root, camera).frame(SCENE_ID, ann_id)
    org = depth_to_points(frame.depth, frame.intrinsics, organized=True)
    for obj_id in ANNOTATION_ORDER:
        mine = frame.label == obj_id + 1
        assert mine.sum() > 100
        # labelled pixels lie on that object's mesh, not on the other one
        own = distance_to([posed_mesh(fixture, camera, ann_id, obj_id)], org[mine])
        assert np.quantile(own, 0.99) < 2e-3
    # visible model points (those at the depth seen at their pixel) project onto their label
    ds = GraspNetDataset(fixture.root, camera)
    for obj_id in ANNOTATION_ORDER:
        pts = transform_points(ds.model_points(obj_id, 0.004), frame.object_pose(obj_id))
        uv = np.round(project_points(pts, frame.intrinsics)).astype(int)
        w, h = IMAGE_SIZE
        ok = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        uv, pts = uv[ok], pts[ok]
        seen = np.abs(frame.depth[uv[:, 1], uv[:, 0]] - pts[:, 2]) < 1.5e-3
        assert seen.sum() > 20
        assert (frame.label[uv[seen, 1], uv[seen, 0]] == obj_id + 1).mean() > 0.95


def test_models_labels_tolerance_and_collision(fixture):
    ds = GraspNetDataset(fixture.root)
    for obj_id, mesh in fixture.meshes.items():
        loaded = ds.model_mesh(obj_id)
        assert ds.model_mesh(obj_id) is loaded  # cached
        np.testing.assert_allclose(loaded.bounds, mesh.bounds, atol=1e-6)
        pts = ds.model_points(obj_id)
        assert pts.shape[1] == 3 and ds.model_points(obj_id) is pts
        # voxel centroids of surface samples: near the surface, covering all of it
        assert distance_to([mesh], pts).max() < 0.008
        dense, _ = trimesh.sample.sample_surface(mesh, 4000, seed=0)
        gap = np.linalg.norm(dense[:, None] - pts[None], axis=-1).min(axis=1)
        assert gap.max() < 0.008 * np.sqrt(3)
        expected = mesh.area / 0.008 ** 2
        assert 0.5 * expected < len(pts) < 2.5 * expected

        labels = ds.grasp_labels(obj_id)
        raw = np.load(fixture.root / "grasp_label" / f"{obj_id:03d}_labels.npz")
        for key in ("points", "offsets", "collision", "scores"):
            np.testing.assert_array_equal(getattr(labels, key), raw[key])
        assert labels.grid == (NUM_VIEWS, 12, 4)
        assert ds.grasp_labels(obj_id) is labels
    # object 3's npz is stored uncompressed: memory-mapped; object 7's is compressed
    assert isinstance(ds.grasp_labels(3).offsets, np.memmap)
    assert not isinstance(ds.grasp_labels(7).offsets, np.memmap)
    assert ds.tolerance(3).shape == ds.grasp_labels(3).scores.shape
    assert ds.tolerance(7) is None
    coll = ds.collision_labels(SCENE_ID)
    raw = np.load(fixture.root / "collision_label" / f"scene_{SCENE_ID:04d}" / "collision_labels.npz")
    assert len(coll) == len(OBJECT_ID_LIST)
    for k, obj_id in enumerate(OBJECT_ID_LIST):
        assert coll[k].dtype == np.bool_ and coll[k].shape == ds.grasp_labels(obj_id).scores.shape
        np.testing.assert_array_equal(coll[k], raw[f"arr_{k}"])


def test_load_npz_memory_maps_only_stored_members(tmp_path):
    a, b = np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.array([True, False])
    np.savez(tmp_path / "plain.npz", a=a, b=b, f=np.asfortranarray(a))
    np.savez_compressed(tmp_path / "packed.npz", a=a, b=b)
    plain = load_npz(tmp_path / "plain.npz")
    assert all(isinstance(plain[k], np.memmap) for k in "abf")
    np.testing.assert_array_equal(plain["a"], a)
    np.testing.assert_array_equal(plain["b"], b)
    np.testing.assert_array_equal(plain["f"], a)
    packed = load_npz(tmp_path / "packed.npz", ("a",))
    assert list(packed) == ["a"] and not isinstance(packed["a"], np.memmap)
    np.testing.assert_array_equal(packed["a"], a)
    with pytest.raises(ValueError, match=r"missing npz keys \['c'\]"):
        load_npz(tmp_path / "plain.npz", ("a", "c"))


def reference_counts(fixture, fric):
    """Ground-truth grasps per object counted straight from the npz files."""
    coll = np.load(fixture.root / "collision_label" / f"scene_{SCENE_ID:04d}" / "collision_labels.npz")
    out = {}
    for k, obj_id in enumerate(OBJECT_ID_LIST):
        mu = np.load(fixture.root / "grasp_label" / f"{obj_id:03d}_labels.npz")["scores"]
        out[obj_id] = int(((mu > 0) & (mu <= fric) & ~coll[f"arr_{k}"]).sum())
    return out


@pytest.mark.parametrize("camera,ann_id", FRAMES)
def test_ground_truth_grasps(fixture, camera, ann_id):
    ds = GraspNetDataset(fixture.root, camera)
    frame = ds.frame(SCENE_ID, ann_id)
    grasps = ds.ground_truth_grasps(frame, fric_coef_thresh=1.0)
    counts = reference_counts(fixture, 1.0)
    assert {i: int((grasps.object_ids == i).sum()) for i in OBJECT_ID_LIST} == counts
    assert min(counts.values()) >= 20
    rot = grasps.rotations
    np.testing.assert_allclose(np.einsum("nji,njk->nik", rot, rot), np.broadcast_to(np.eye(3), rot.shape),
                               atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    assert np.allclose(grasps.heights, 0.02)
    mu = 1.1 - grasps.scores
    assert np.isin(np.round(mu, 6), ANNOTATION_MUS).all()
    for obj_id in OBJECT_ID_LIST:
        mine = grasps[grasps.object_ids == obj_id]
        mesh = posed_mesh(fixture, camera, ann_id, obj_id)
        # grasp points are the label points, on the posed object's surface
        assert distance_to([mesh], mine.translations).max() < 1e-5
        # re-labelling each grasp on the posed mesh in the camera frame gives back its mu
        relabel = force_closure_labels(mine, MeshRaycaster.from_trimesh(mesh), ANNOTATION_MUS)
        np.testing.assert_allclose(relabel, 1.1 - mine.scores, atol=1e-6)
    # GT grasps do not collide with the scene (objects + table), re-checked in the camera frame
    scene = transform_points(fixture.scene_points_table, np.linalg.inv(frame.table_pose))
    assert not check_collision(grasps, scene, GripperModel()).collision.any()


def test_friction_threshold_and_cap(fixture):
    ds = GraspNetDataset(fixture.root)
    frame = ds.frame(SCENE_ID, 0)
    sizes = []
    for fric in (0.2, 0.4, 0.7, 1.0):
        grasps = ds.ground_truth_grasps(frame, fric_coef_thresh=fric)
        mu = 1.1 - grasps.scores
        assert (mu > 0).all() and (mu <= fric + 1e-6).all()
        assert len(grasps) == sum(reference_counts(fixture, fric).values())
        sizes.append(len(grasps))
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    full = ds.ground_truth_grasps(frame, fric_coef_thresh=1.0)
    capped = ds.ground_truth_grasps(frame, fric_coef_thresh=1.0, max_per_object=7, seed=3)
    assert [int((capped.object_ids == i).sum()) for i in OBJECT_ID_LIST] == [7, 7]
    rows = {tuple(np.round(r, 9)) for r in full.array}
    assert all(tuple(np.round(r, 9)) in rows for r in capped.array)
    again = ds.ground_truth_grasps(frame, fric_coef_thresh=1.0, max_per_object=7, seed=3)
    np.testing.assert_array_equal(capped.array, again.array)
    assert len(ds.ground_truth_grasps(frame, object_ids=[7])) == reference_counts(fixture, 0.4)[7]


def test_projection_semantics_and_collision_exclusion(fixture):
    """approach = -view (reference: batch_viewpoint_params_to_matrix(-views, angles));
    grasps labelled as colliding in the scene are exactly the ones dropped."""
    ds = GraspNetDataset(fixture.root)
    frame = ds.frame(SCENE_ID, 1)
    views = fibonacci_views(NUM_VIEWS)
    coll = ds.collision_labels(SCENE_ID)
    dropped_total = 0
    for k, obj_id in enumerate(OBJECT_ID_LIST):
        labels, pose = ds.grasp_labels(obj_id), frame.object_pose(obj_id)
        kept, idx = project_grasp_labels(labels, pose, obj_id, coll[k], 1.0, return_indices=True)
        _, all_idx = project_grasp_labels(labels, pose, obj_id, None, 1.0, return_indices=True)
        p, v, a, d = idx.T
        np.testing.assert_allclose(kept.approaches, -views[v] @ pose[:3, :3].T, atol=1e-9)
        np.testing.assert_allclose(kept.translations, labels.points[p] @ pose[:3, :3].T + pose[:3, 3],
                                   atol=1e-6)
        np.testing.assert_allclose(kept.depths, labels.offsets[p, v, a, d, 1], rtol=1e-6)
        np.testing.assert_allclose(kept.widths, labels.offsets[p, v, a, d, 2], rtol=1e-6)
        assert not coll[k][p, v, a, d].any()
        dropped = {tuple(r) for r in all_idx} - {tuple(r) for r in idx}
        assert dropped == {tuple(r) for r in all_idx if coll[k][tuple(r)]}
        dropped_total += len(dropped)
    assert dropped_total > 20  # the scene collision labels really remove grasps


def test_frames_agree_in_the_table_frame(fixture):
    """Ground truth of every frame of both cameras, moved to the table frame, is one grasp set."""
    sets = []
    for camera, ann_id in FRAMES:
        ds = GraspNetDataset(fixture.root, camera)
        frame = ds.frame(SCENE_ID, ann_id)
        sets.append(ds.ground_truth_grasps(frame).transform(frame.table_pose).array)
    for other in sets[1:]:
        np.testing.assert_allclose(other, sets[0], atol=1e-6)


def test_reader_errors_name_the_file(root_copy):
    ds = GraspNetDataset(root_copy)
    frame = ds.frame(SCENE_ID, 0)
    depth = frame.paths["depth"]
    depth.unlink()
    with pytest.raises(FileNotFoundError, match=str(depth)):
        _ = frame.depth
    frame.paths["rgb"].write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ValueError, match=f"{frame.paths['rgb']}: unreadable rgb PNG"):
        _ = frame.rgb
    cv2.imwrite(str(frame.paths["label"]), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="one channel"):
        _ = frame.label
    with pytest.raises(FileNotFoundError, match="099_labels.npz"):
        ds.grasp_labels(99)
    with pytest.raises(FileNotFoundError, match="models/099/nontextured.ply"):
        ds.model_mesh(99)
    lab = root_copy / "grasp_label" / "003_labels.npz"
    raw = dict(np.load(lab))
    np.savez(lab, **{k: v for k, v in raw.items() if k != "scores"})
    with pytest.raises(ValueError, match=r"003_labels.npz: missing npz keys \['scores'\]"):
        ds.grasp_labels(3)
    raw["offsets"] = raw["offsets"][..., :2]
    np.savez(lab, **raw)
    with pytest.raises(ValueError, match="'offsets' must be"):
        ds.grasp_labels(3)
    coll = root_copy / "collision_label" / f"scene_{SCENE_ID:04d}" / "collision_labels.npz"
    arrays = dict(np.load(coll))
    np.savez(coll, arr_0=arrays["arr_0"])
    with pytest.raises(ValueError, match=r"missing \['arr_1'\]"):
        ds.collision_labels(SCENE_ID)
    np.save(root_copy / "scenes" / f"scene_{SCENE_ID:04d}" / "realsense" / "camK.npy", np.eye(4))
    with pytest.raises(ValueError, match=r"camK must have shape \(3, 3\)"):
        GraspNetDataset(root_copy).frame(SCENE_ID, 0)


def test_check_root_reports_deleted_and_corrupted_files(root_copy):
    clean = check_root(root_copy, deep=True)
    assert clean.ok, clean.format()
    assert clean.checked["depth"] == 4 and clean.checked["grasp_labels"] == 2
    assert [w.path.name for w in clean.warnings if w.category == "tolerance"] == ["007_tolerance.npy"]

    depth = root_copy / "scenes" / f"scene_{SCENE_ID:04d}" / "kinect" / "depth" / "0001.png"
    depth.unlink()
    labels = root_copy / "grasp_label" / "007_labels.npz"
    labels.write_bytes(labels.read_bytes()[:200])  # truncated archive
    report = check_root(root_copy)
    assert not report.ok
    bad = report.by_category()
    assert [(p.path, p.message) for p in bad["depth"]] == [(depth, "missing")]
    assert [p.path for p in bad["grasp_labels"]] == [labels]
    assert any(p.path.name == "kinect" and "frame counts differ" in p.message
               for p in bad["consistency"])
    text = report.format()
    assert str(depth) in text and str(labels) in text and "depth" in text
    assert "problem(s)" in text.splitlines()[-1]
    # only the realsense camera: the kinect problems are out of scope
    assert [p.path for p in check_root(root_copy, cameras=["realsense"]).problems] == [labels]


def test_check_root_shapes_ids_and_deep_corruption(root_copy):
    scene = root_copy / "scenes" / f"scene_{SCENE_ID:04d}"
    # a collision label that does not fit object 3's grasp labels
    coll = root_copy / "collision_label" / f"scene_{SCENE_ID:04d}" / "collision_labels.npz"
    arrays = dict(np.load(coll))
    arrays["arr_1"] = arrays["arr_1"][:5]
    np.savez(coll, **arrays)
    # annotation ids that disagree with object_id_list.txt
    xml = scene / "realsense" / "annotations" / "0000.xml"
    xml.write_text(xml.read_text().replace("<obj_id>3</obj_id>", "<obj_id>4</obj_id>"))
    # a depth PNG saved as 8-bit
    depth = scene / "realsense" / "depth" / "0001.png"
    cv2.imwrite(str(depth), np.zeros((240, 320), np.uint8))
    # a corrupted body inside a valid PNG header: only the deep check decodes it
    label = scene / "kinect" / "label" / "0000.png"
    data = bytearray(label.read_bytes())
    data[60:] = bytes(len(data) - 60)
    label.write_bytes(bytes(data))
    quick = check_root(root_copy)
    bad = {(p.category, p.path) for p in quick.problems}
    assert ("collision_labels", coll) in bad
    assert ("consistency", xml) in bad
    assert ("depth", depth) in bad
    assert ("label", label) not in bad
    assert "does not match object 3" in str(quick.by_category()["collision_labels"][0])
    deep = check_root(root_copy, deep=True)
    assert ("label", label) in {(p.category, p.path) for p in deep.problems}
    # and the deep check compares meta files with the annotations
    assert ("consistency", scene / "realsense" / "meta" / "0000.mat") in {
        (p.category, p.path) for p in deep.problems}


def test_draw_frame(fixture, tmp_path):
    ds = GraspNetDataset(fixture.root)
    out = draw_frame(ds, SCENE_ID, 1, tmp_path / "pics" / "frame.png", max_grasps=20)
    img = cv2.imread(str(out))
    w, h = IMAGE_SIZE
    assert img.shape == (h, w, 3)
    rgb = ds.frame(SCENE_ID, 1).rgb[:, :, ::-1]
    changed = np.abs(img.astype(int) - rgb).sum(axis=2) > 30
    label = ds.frame(SCENE_ID, 1).label
    assert changed[label > 0].mean() > 0.3  # translucent object overlay
    # grasp outlines: saturated green/red strokes that the rendered image does not contain
    stroke = (np.abs(img[..., 1].astype(int) - img[..., 2]) > 120) & (img[..., 0] < 60)
    assert stroke.sum() > 50 and not ((np.abs(rgb[..., 1].astype(int) - rgb[..., 2]) > 120)
                                      & (rgb[..., 0] < 60)).any()
    assert not list(out.parent.glob("*.tmp.png"))
    with pytest.raises(ValueError, match=".png"):
        draw_frame(ds, SCENE_ID, 1, tmp_path / "frame.jpg")
