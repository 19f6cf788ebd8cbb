"""`graspnet-ros detect` on several depth views from known poses (multi-view fusion): --views
FOLDER (GraspNet layout), --view DEPTH.png:POSE.npy with camera poses, and with an eye-in-hand
calibration plus flange poses, all give the same cloud in the first camera's frame."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
import pytest
import trimesh
import yaml
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from graspnet_ros.cli import main
from graspnet_ros.commands import detect
from graspnet_ros.dataset.synthetic.cameras import camera_model
from graspnet_ros.dataset.synthetic.render import SceneRaycaster
from graspnet_ros.toy.table import toy_scene
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.views import look_at

X = np.eye(4)  # T_flange<-camera of the wrist camera
X[:3, :3] = Rotation.from_euler("xyz", [3, -2, 90], degrees=True).as_matrix()
X[:3, 3] = (0.04, -0.05, 0.03)


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    """4 objects, 3 exact depth views (uint16 mm) from a ring 0.5 m away at 55 degrees elevation."""
    root = tmp_path_factory.mktemp("views")
    scene = toy_scene(4, seed=7, area=0.12)
    model = camera_model("realsense")
    caster = SceneRaycaster(scene.meshes, scene.table_poses)
    cams = []
    for k, az in enumerate(np.deg2rad([-90.0, 30.0, 150.0])):
        eye = np.array([0.5 * np.cos(np.deg2rad(55)) * np.cos(az), 0.5 * np.cos(np.deg2rad(55)) * np.sin(az),
                        0.5 * np.sin(np.deg2rad(55))])
        T = look_at(eye, [0.0, 0.0, 0.03])  # T_table<-camera
        depth = caster.cast(model, T).depth
        (root / "depth").mkdir(exist_ok=True)
        cv2.imwrite(str(root / "depth" / f"{k:04d}.png"), np.round(depth * 1000).astype(np.uint16))
        np.save(root / f"cam_{k}.npy", T)
        np.save(root / f"flange_{k}.npy", T @ np.linalg.inv(X))
        cams.append(T)
    cams = np.array(cams)
    np.save(root / "camera_poses.npy", np.linalg.inv(cams[0]) @ cams)
    np.save(root / "camK.npy", model.K)
    (root / "hand.yaml").write_text(yaml.safe_dump({"mode": "eye-in-hand", "parent_frame": "tool0",
                                                    "matrix": X.tolist()}))
    return root, scene, cams


def parse(*argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    detect.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["detect", *map(str, argv)])


def surface_in_cam0(scene, cams, n=4000) -> np.ndarray:
    """Points sampled on every object's surface, first camera's frame (m)."""
    T = np.linalg.inv(cams[0])
    pts = [trimesh.sample.sample_surface(m, n, seed=i)[0] @ P[:3, :3].T + P[:3, 3]
           for i, (m, P) in enumerate(zip(scene.meshes, scene.table_poses))]
    return np.concatenate(pts) @ T[:3, :3].T + T[:3, 3]


def test_three_ways_to_give_views_fuse_the_same_cloud_in_the_first_camera_frame(views):
    root, scene, cams = views
    fused, _ = detect.load_cloud(parse("--views", root))
    posed, _ = detect.load_cloud(parse(*sum((["--view", f"{root}/depth/{k:04d}.png:{root}/cam_{k}.npy"]
                                              for k in range(3)), []), "--camK", root / "camK.npy"))
    flange, _ = detect.load_cloud(parse(*sum((["--view", f"{root}/depth/{k:04d}.png:{root}/flange_{k}.npy"]
                                               for k in range(3)), []), "--camK", root / "camK.npy",
                                        "--calibration", root / "hand.yaml"))
    for other in (posed, flange):
        assert abs(len(other) - len(fused)) <= 0.001 * len(fused)
        assert np.percentile(cKDTree(fused).query(other)[0], 99) < 1e-6
    single, _ = detect.load_cloud(parse("--views", root, "--num-views", 1))
    surface = surface_in_cam0(scene, cams)
    seen_by_one = (cKDTree(single).query(surface)[0] < 0.004).mean()
    seen_by_three = (cKDTree(fused).query(surface)[0] < 0.004).mean()
    assert seen_by_three > seen_by_one + 0.2, (seen_by_one, seen_by_three)  # the far sides filled in
    table = np.linalg.inv(cams[0])  # every fused point on the table or an object: the poses are right
    in_table = fused @ np.linalg.inv(table)[:3, :3].T + np.linalg.inv(table)[:3, 3]
    on_table = np.abs(in_table[:, 2]) < 0.003
    assert np.percentile(cKDTree(surface).query(fused[~on_table])[0], 95) < 0.004


def test_detect_views_writes_grasps_on_the_objects_in_the_first_camera_frame(views, tmp_path, capsys):
    root, scene, cams = views
    assert main(["detect", "--views", str(root), "--out", str(tmp_path / "grasps"), "--top", "5"]) == 0
    assert "fused 3 views into" in capsys.readouterr().out
    grasps = GraspGroup(np.load(tmp_path / "grasps.npy"), frame_id="camera")
    assert len(grasps) >= 5
    d = cKDTree(surface_in_cam0(scene, cams)).query(grasps.translations)[0]
    assert (d < 0.02).mean() > 0.9, np.round(d, 3)


@pytest.mark.parametrize("argv, message", [
    (["--view", "{root}/depth/0000.png:{root}/cam_0.npy"], "--view needs --camK"),
    (["--view", "{root}/depth/0000.png", "--camK", "{root}/camK.npy"], "expected DEPTH.png:POSE.npy"),
    (["--views", "{root}", "--num-views", "5"], "--num-views 5: the folder holds 3 views"),
    (["--views", "{root}", "--cloud", "{root}/camK.npy"], "give one input, not --cloud and --views"),
    (["--view", "{root}/depth/0000.png:{root}/cam_0.npy", "--camK", "{root}/camK.npy", "--calibration",
      "{root}/base.yaml"], "it must be an eye-in-hand calibration"),
    (["--view", "{root}/depth/0000.png:{root}/camK.npy", "--camK", "{root}/camK.npy"], "(4, 4)"),
])
def test_bad_view_input_is_one_clear_line(views, tmp_path, capsys, argv, message):
    root = views[0]
    (root / "base.yaml").write_text(yaml.safe_dump({"mode": "eye-to-hand", "matrix": np.eye(4).tolist()}))
    assert main(["detect", *[a.format(root=root) for a in argv], "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
