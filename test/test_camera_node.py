"""camera_node over real DDS (loopback): synthetic, dataset and a missing RealSense."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from graspnet_ros.cameras.base import camera_model
from graspnet_ros.cameras.geometry import depth_to_points
from graspnet_ros.cameras.mount import CameraMount, T_LINK_OPTICAL
from graspnet_ros.nodes import conversions as cv
from graspnet_ros.nodes.camera_node import CameraNode
from graspnet_ros.nodes.tf import STATIC_QOS, TFMessage
from ros_helpers import RosHarness, wait_for


def _stamp(msg) -> tuple[int, int]:
    return msg.header.stamp.sec, msg.header.stamp.nanosec


def _listen_all(ros: RosHarness, ns: str = "/cam") -> dict[str, list]:
    return {"color": ros.listen(Image, f"{ns}/color/image_raw"),
            "info": ros.listen(CameraInfo, f"{ns}/color/camera_info"),
            "depth": ros.listen(Image, f"{ns}/aligned_depth_to_color/image_raw"),
            "depth_info": ros.listen(CameraInfo, f"{ns}/aligned_depth_to_color/camera_info"),
            "cloud": ros.listen(PointCloud2, f"{ns}/depth/color/points"),
            "tf": ros.listen(TFMessage, "/tf_static", STATIC_QOS)}


def _matching(got: dict[str, list]) -> dict | None:
    """One message per stream with the same stamp (the newest such set)."""
    names = ["color", "info", "depth", "depth_info", "cloud"]
    stamps = [{_stamp(m): m for m in list(got[n])} for n in names]
    common = set(stamps[0]).intersection(*stamps[1:])
    if not common:
        return None
    key = max(common)
    return {n: s[key] for n, s in zip(names, stamps)}


@pytest.mark.parametrize("depth_encoding,organised", [("16UC1", False), ("32FC1", True)])
def test_synthetic_frames_are_consistent(ros, depth_encoding, organised):
    got = _listen_all(ros)
    node = ros.add(CameraNode(context=ros.ctx, namespace="cam", parameter_overrides=ros.params(
        source="synthetic", camera_model="kinect", rate=20.0, synthetic__scale=0.25,
        synthetic__noise="simple",  # the exact render: the Kinect's hexagon would leave 40% of pixels empty
        depth_encoding=depth_encoding, cloud_organised=organised, cloud_colored=True,
        camera_name="cam0", mount__parent_frame="table")))
    assert wait_for(lambda: _matching(got) is not None and got["tf"], 30.0), \
        f"messages received: { {k: len(v) for k, v in got.items()} }"
    m = _matching(got)
    intr = camera_model("kinect", 0.25)
    assert (intr.width, intr.height) == (320, 180)
    for name in ("color", "info", "depth", "depth_info", "cloud"):
        assert m[name].header.frame_id == "cam0_color_optical_frame"
    assert m["color"].encoding == "rgb8" and m["depth"].encoding == depth_encoding
    assert (m["color"].width, m["color"].height) == (m["depth"].width, m["depth"].height) == (320, 180)
    assert cv.camera_info_to_intrinsics(m["info"]) == intr == cv.camera_info_to_intrinsics(m["depth_info"])

    # the cloud is the depth image back-projected with the published CameraInfo
    depth = cv.msg_to_depth(m["depth"])
    assert (depth > 0).mean() > 0.9 and 0.2 < np.median(depth[depth > 0]) < 1.0
    expected = depth_to_points(depth, cv.camera_info_to_intrinsics(m["info"]))
    pts, rgb = cv.msg_to_cloud(m["cloud"], organised=organised, with_colors=True)
    tol = 6e-4 if depth_encoding == "16UC1" else 1e-6  # 16UC1 is rounded to millimetres
    if organised:
        assert pts.shape == (180, 320, 3)
        np.testing.assert_array_equal(np.isnan(pts[..., 2]), np.isnan(expected[..., 2]))
        ok = np.isfinite(expected[..., 2])
        np.testing.assert_allclose(pts[ok], expected[ok], atol=tol)
        np.testing.assert_array_equal(rgb, cv.msg_to_color(m["color"]))
    else:
        valid = np.isfinite(expected[..., 2])
        np.testing.assert_allclose(pts, expected[valid], atol=tol)
        np.testing.assert_array_equal(rgb, cv.msg_to_color(m["color"])[valid])

    # static TF: table -> cam0_link -> cam0_color_optical_frame, matching the mount
    tfs = {t.child_frame_id: t for t in got["tf"][-1].transforms}
    assert set(tfs) == {"cam0_link", "cam0_color_optical_frame"}
    assert tfs["cam0_link"].header.frame_id == "table"
    assert tfs["cam0_color_optical_frame"].header.frame_id == "cam0_link"
    np.testing.assert_allclose(cv.transform_to_matrix(tfs["cam0_color_optical_frame"]), T_LINK_OPTICAL,
                               atol=1e-12)
    T = cv.transform_to_matrix(tfs["cam0_link"]) @ cv.transform_to_matrix(tfs["cam0_color_optical_frame"])
    np.testing.assert_allclose(T, node.mount.T_parent_optical, atol=1e-9)
    # the synthetic camera renders from exactly that pose
    np.testing.assert_allclose(node.camera.T_world_optical, T, atol=1e-9)
    # optical z (viewing direction) points down towards the table
    assert T[2, 2] < -0.5


def test_missing_device_is_retried_and_node_stays_alive(ros):
    got = _listen_all(ros)
    node = ros.add(CameraNode(context=ros.ctx, namespace="cam", parameter_overrides=ros.params(
        source="realsense", realsense__playback="/nonexistent/recording.db3", rate=50.0,
        retry_period=0.2)))
    # several failed opens, each followed by a retry, and nothing published
    assert wait_for(lambda: node.stream.open_failures >= 3, 20.0), node.stream.open_failures
    assert node.published == 0 and not got["color"]
    assert got["tf"] or wait_for(lambda: got["tf"], 10.0)  # the static mount is still published
    # the node keeps serving: its timer still fires
    before = node.ticks
    assert wait_for(lambda: node.ticks > before + 5, 10.0)


def test_calibration_file_sets_the_mount(ros, tmp_path):
    T = np.eye(4)
    T[:3, :3] = np.array([[0, -1, 0], [-1, 0, 0], [0, 0, -1]])  # optical z pointing down
    T[:3, 3] = (0.4, 0.1, 0.7)
    path = tmp_path / "calib.yaml"
    path.write_text("parent_frame: base_link\nchild_frame: camera_color_optical_frame\n"
                    f"matrix: {T.tolist()}\n")
    mount = CameraMount.from_calibration_file(path)
    assert mount.parent_frame == "base_link"
    np.testing.assert_allclose(mount.T_parent_optical, T, atol=1e-12)
    got = ros.listen(TFMessage, "/tf_static", STATIC_QOS)
    ros.add(CameraNode(context=ros.ctx, parameter_overrides=ros.params(
        rate=1.0, synthetic__scale=0.1, mount__calibration_file=str(path))))
    assert wait_for(lambda: got, 20.0)
    tfs = {t.child_frame_id: t for t in got[-1].transforms}
    np.testing.assert_allclose(cv.transform_to_matrix(tfs["camera_link"]) @ T_LINK_OPTICAL, T, atol=1e-9)
    path.write_text("parent_frame: base_link\nchild_frame: camera_color_optical_frame\nmatrix: [[1, 2]]\n")
    with pytest.raises(ValueError, match="4x4"):
        CameraMount.from_calibration_file(path)


def test_dataset_source_replays_frames(ros, tmp_path):
    from dataset_fixture import build_fixture_dataset
    from graspnet_ros.dataset.reader import GraspNetDataset
    from graspnet_ros.msg import DatasetFrame

    build_fixture_dataset(tmp_path / "graspnet")
    frames = ros.listen(DatasetFrame, "/cam/dataset_frame")
    got = _listen_all(ros)
    ros.add(CameraNode(context=ros.ctx, namespace="cam", parameter_overrides=ros.params(
        source="dataset", dataset__root=str(tmp_path / "graspnet"), dataset__camera="kinect", rate=20.0)))
    assert wait_for(lambda: len(frames) >= 3 and _matching(got) is not None, 30.0)
    f = frames[-1]
    assert f.camera == "kinect" and f.dataset == "graspnet" and f.scene_id == 100
    m = {n: [x for x in got[n] if _stamp(x) == _stamp(f)] for n in ("color", "depth", "info")}
    assert all(m.values()), "no images with the DatasetFrame's stamp"
    ref = GraspNetDataset(tmp_path / "graspnet", "kinect").frame(f.scene_id, f.ann_id)
    np.testing.assert_array_equal(cv.msg_to_color(m["color"][0]), ref.rgb)
    np.testing.assert_allclose(cv.msg_to_depth(m["depth"][0]), ref.depth, atol=1e-6)
    np.testing.assert_allclose(cv.camera_info_to_intrinsics(m["info"][0]).K, ref.intrinsics)
    assert {x.ann_id for x in frames} == {0, 1}  # both frames of the scene, looping


def test_kinect_without_device_or_recording_fails_cleanly(ros, tmp_path):
    """libk4a (pyk4a-bundle) loads; no device / a non-.mkv file give CameraErrors, the node keeps retrying."""
    from graspnet_ros.cameras.base import CameraError, DeviceLost
    from graspnet_ros.cameras.kinect import KinectCamera, find_k4a_libraries

    k4a, rec = find_k4a_libraries()
    assert "k4a" in Path(k4a).name and "k4arecord" in Path(rec).name
    with pytest.raises(DeviceLost, match="no Azure Kinect"):
        KinectCamera().open()
    not_mkv = tmp_path / "x.mkv"
    not_mkv.write_bytes(b"not a matroska file")
    with pytest.raises(CameraError, match="cannot open"):
        KinectCamera(playback=not_mkv).open()
    node = ros.add(CameraNode(context=ros.ctx, parameter_overrides=ros.params(
        source="kinect", rate=50.0, retry_period=0.2)))
    assert wait_for(lambda: node.stream.open_failures >= 2, 20.0)
    assert node.published == 0
