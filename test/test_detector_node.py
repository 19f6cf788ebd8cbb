"""grasp_detector_node over real DDS (loopback), and the ROS-free pipeline under it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from rcl_interfaces.msg import Log
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from visualization_msgs.msg import Marker, MarkerArray
from geometry_msgs.msg import PoseStamped

from graspnet_ros._native import import_open3d
from graspnet_ros.cameras.geometry import depth_to_points
from graspnet_ros.cameras.synthetic import SyntheticCamera
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes import conversions as cv
from graspnet_ros.nodes.grasp_detector_node import GraspDetectorNode
from graspnet_ros.cameras.geometry import voxel_downsample
from graspnet_ros.detection.cloud import crop
from graspnet_ros.workspace import Workspace
from graspnet_ros.detection.latest import LatestSlot
from graspnet_ros.detection.runner import DetectionPipeline, PipelineConfig
from graspnet_ros.detection.detectors import make_detector
from graspnet_ros.srv import DetectGrasps
from graspnet_ros.tool_frame import ToolFrame, grasp_to_tool_poses
from ros_helpers import RosHarness, wait_for

FRAME = "camera_color_optical_frame"


@pytest.fixture(scope="module")
def scene():
    """A synthetic frame (320x180) and its cloud in the optical frame."""
    cam = SyntheticCamera(scale=0.25, num_objects=4, seed=3)
    frame = cam.read()
    return cam, frame, depth_to_points(frame.depth, frame.intrinsics, organised=False)


def distance_to_objects(cam: SyntheticCamera, points_cam: np.ndarray) -> np.ndarray:
    """Unsigned distance (m) of optical-frame points to the nearest synthetic object surface."""
    o3d = import_open3d()
    scene = o3d.t.geometry.RaycastingScene()
    for m in cam.scene.meshes():
        scene.add_triangles(o3d.core.Tensor(np.asarray(m.vertices, np.float32)),
                            o3d.core.Tensor(np.asarray(m.faces, np.uint32)))
    T = cam.T_world_optical
    pw = (points_cam @ T[:3, :3].T + T[:3, 3]).astype(np.float32)
    return scene.compute_distance(o3d.core.Tensor(pw)).numpy()


# -- ROS-free pieces ----------------------------------------------------------------

def test_voxel_downsample_matches_naive_means():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.05, size=(3000, 3)).astype(np.float32)
    out = voxel_downsample(p, 0.01)
    cells = np.floor((p - p.min(0)) / 0.01).astype(int)
    naive = {}
    for c, q in zip(map(tuple, cells), p):
        naive.setdefault(c, []).append(q)
    expected = np.array(sorted(np.mean(v, axis=0).tolist() for v in naive.values()))
    np.testing.assert_allclose(np.array(sorted(out.tolist())), expected, atol=1e-6)
    assert len(crop(p, Workspace((0, 0, 0), (0.01, 0.05, 0.05)))) == int((p[:, 0] <= 0.01).sum())


def test_latest_slot_keeps_only_the_newest():
    slot = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(0.1) == 4 and slot.dropped == 4 and slot.take(0.01) is None
    got = []
    t = threading.Thread(target=lambda: got.append(slot.take(5.0)))
    t.start()
    slot.put("x")
    t.join(5.0)
    assert got == ["x"]


def test_pipeline_grasps_lie_on_the_objects(scene):
    cam, frame, pts = scene
    detector = make_detector("auto")
    assert detector.name == "baseline"
    pipe = DetectionPipeline(detector, PipelineConfig(max_grasps=30))
    result = pipe.process(pts, FRAME)
    g = result.grasps
    assert len(g) >= 5 and g.frame_id == FRAME
    assert np.all(np.diff(g.scores) <= 0) and g.scores[0] >= 0.2
    d = distance_to_objects(cam, g.translations)
    assert np.median(d) < 0.01 and (d < 0.02).mean() > 0.9, np.round(d, 3)
    assert {"prepare", "detect", "nms", "total"} <= set(result.timings)
    for bad, reason in ((np.zeros((0, 3)), "empty"), (np.full((100, 3), np.nan), "finite"),
                        (pts * 1000.0, "workspace")):
        with pytest.raises(ValueError, match=reason):
            pipe.process(bad, FRAME)


# -- the node -------------------------------------------------------------------------

def _publisher(ros: RosHarness, msg_type, topic: str) -> tuple[Node, object]:
    node = ros.add(Node(f"test_pub_{abs(hash(topic)) % 10**8}", context=ros.ctx))
    return node, node.create_publisher(msg_type, topic, 10)


def _publish_until(pub, msg, received: list, n: int = 1, timeout: float = 60.0) -> bool:
    """Publish (again after discovery) until ``n`` more messages arrive."""
    start = len(received)
    assert wait_for(lambda: pub.get_subscription_count() > 0, 20.0), "detector never subscribed"
    pub.publish(msg)
    return wait_for(lambda: len(received) >= start + n, timeout)


def test_node_publishes_grasps_markers_and_serves(ros, scene):
    cam, frame, pts = scene
    grasps_in = ros.listen(GraspArray, "/grasps")
    markers = ros.listen(MarkerArray, "/grasp_markers")
    best = ros.listen(PoseStamped, "/best_grasp")
    node = ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        cloud_topic="/test/points", max_grasps=20)))
    _, pub = _publisher(ros, PointCloud2, "/test/points")
    cloud = cv.cloud_to_msg(pts, FRAME, cv.seconds_to_stamp(123.5))
    assert _publish_until(pub, cloud, grasps_in), "no GraspArray"
    msg = grasps_in[-1]
    assert msg.header.frame_id == FRAME and (msg.header.stamp.sec, msg.header.stamp.nanosec) == (123, 5 * 10**8)
    g = cv.msg_to_grasp_group(msg)
    assert 5 <= len(g) <= 20
    d = distance_to_objects(cam, g.translations)
    assert (d < 0.02).mean() > 0.9, np.round(d, 3)

    # markers: DELETEALL, then one line list per grasp (up to markers.max), best first
    assert wait_for(lambda: markers and best, 10.0)
    ms = markers[-1].markers
    assert ms[0].action == Marker.DELETEALL
    assert len(ms) - 1 == min(len(g), 20) and all(m.type == Marker.LINE_LIST for m in ms[1:])
    assert ms[1].header.frame_id == FRAME and len(ms[1].points) == 8
    # best grasp pose in the tool-frame convention (z = approach by default)
    T = grasp_to_tool_poses(g[:1], ToolFrame.z_approach())[0]
    np.testing.assert_allclose(cv.pose_to_matrix(best[-1]), T, atol=1e-5)
    np.testing.assert_allclose(T[:3, 2], g.approaches[0], atol=1e-5)

    # the service on the same cloud returns the same grasps; empty request = latest cloud
    client = ros.node.create_client(DetectGrasps, "/detect_grasps")
    assert client.wait_for_service(timeout_sec=20.0)
    for request_cloud in (cloud, cv.cloud_to_msg(np.zeros((0, 3), np.float32), FRAME)):
        res = client.call(DetectGrasps.Request(cloud=request_cloud, max_grasps=0), timeout_sec=60.0)
        assert res is not None and res.success, res
        got = cv.msg_to_grasp_group(res.grasps)
        assert len(got) == len(g) and got.frame_id == FRAME
        np.testing.assert_allclose(got.array, g.array, atol=1e-5)
    res = client.call(DetectGrasps.Request(cloud=cloud, max_grasps=3), timeout_sec=60.0)
    assert res.success and len(res.grasps.grasps) == 3
    assert node.processed >= 1


def _bad_clouds(pts: np.ndarray) -> list[tuple[str, PointCloud2, str]]:
    good = cv.cloud_to_msg(pts[:500], FRAME)
    no_z = cv.cloud_to_msg(pts[:500], FRAME)
    no_z.fields = [f for f in no_z.fields if f.name != "z"]
    truncated = cv.cloud_to_msg(pts[:500], FRAME)
    truncated.data = bytes(truncated.data)[:100]
    int_fields = cv.cloud_to_msg(pts[:10], FRAME)
    int_fields.fields = [PointField(name=n, offset=4 * i, datatype=99, count=1) for i, n in enumerate("xyz")]
    assert len(good.data)
    return [("empty", cv.cloud_to_msg(np.zeros((0, 3), np.float32), FRAME), "empty point cloud"),
            ("all-NaN", cv.cloud_to_msg(np.full((30, 40, 3), np.nan, np.float32), FRAME), "no finite point"),
            ("missing z", no_z, "no field"),
            ("truncated", truncated, "bytes"),
            ("bad datatype", int_fields, "datatype"),
            ("huge", cv.cloud_to_msg(np.tile(pts, (3, 1))[:100000], FRAME), "max_input_points")]


def test_bad_input_gives_logged_error_and_empty_result(ros, scene):
    _, _, pts = scene
    grasps_in = ros.listen(GraspArray, "/grasps")
    logs = ros.listen(Log, "/rosout", 100)
    node = ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        cloud_topic="/test/bad_points", max_input_points=80000)))
    _, pub = _publisher(ros, PointCloud2, "/test/bad_points")
    for name, msg, reason in _bad_clouds(pts):
        assert _publish_until(pub, msg, grasps_in, timeout=30.0), f"{name}: no answer"
        assert len(grasps_in[-1].grasps) == 0, name
        assert wait_for(lambda: any(e.level == Log.ERROR and reason in e.msg and e.name == node.get_name()
                                    for e in logs), 10.0), f"{name}: no error log with '{reason}'"
    # still alive: a good cloud yields grasps
    assert _publish_until(pub, cv.cloud_to_msg(pts, FRAME), grasps_in)
    assert len(grasps_in[-1].grasps) > 0
    # the service reports bad input instead of failing
    client = ros.node.create_client(DetectGrasps, "/detect_grasps")
    assert client.wait_for_service(timeout_sec=20.0)
    res = client.call(DetectGrasps.Request(cloud=_bad_clouds(pts)[1][1]), timeout_sec=30.0)
    assert res is not None and not res.success and "finite" in res.message and len(res.grasps.grasps) == 0


def test_depth_input_and_wrong_encoding(ros, scene):
    _, frame, _ = scene
    grasps_in = ros.listen(GraspArray, "/grasps")
    logs = ros.listen(Log, "/rosout", 100)
    ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        input="depth", depth_topic="/test/depth", camera_info_topic="/test/info")))
    _, pub_depth = _publisher(ros, Image, "/test/depth")
    _, pub_info = _publisher(ros, CameraInfo, "/test/info")
    info = cv.intrinsics_to_camera_info(frame.intrinsics, FRAME)
    assert wait_for(lambda: pub_info.get_subscription_count() > 0, 20.0)
    pub_info.publish(info)
    time.sleep(0.3)
    assert _publish_until(pub_depth, cv.depth_to_msg(frame.depth, FRAME, 7.0, "32FC1"), grasps_in)
    assert len(grasps_in[-1].grasps) > 0 and grasps_in[-1].header.stamp.sec == 7
    assert _publish_until(pub_depth, cv.color_to_msg(frame.rgb, FRAME, 8.0), grasps_in)
    assert len(grasps_in[-1].grasps) == 0
    assert wait_for(lambda: any(e.level == Log.ERROR and "rgb8" in e.msg for e in logs), 10.0)


def test_latest_frame_wins(ros, scene):
    _, _, pts = scene
    grasps_in = ros.listen(GraspArray, "/grasps", 100)
    node = ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        cloud_topic="/test/stream")))
    _, pub = _publisher(ros, PointCloud2, "/test/stream")
    assert wait_for(lambda: pub.get_subscription_count() > 0, 20.0)
    n = 30
    t0 = time.monotonic()
    for i in range(n):  # a 30 Hz camera
        pub.publish(cv.cloud_to_msg(pts, FRAME, float(i + 1)))
        time.sleep(1 / 30)
    stream = time.monotonic() - t0
    assert wait_for(lambda: grasps_in and grasps_in[-1].header.stamp.sec == n, 60.0), \
        [m.header.stamp.sec for m in grasps_in]
    time.sleep(0.5)
    stamps = [m.header.stamp.sec for m in grasps_in]
    per_frame = node.live.last_result.timings["total"]
    # at most one result per detection time during the stream, plus the final frame
    assert len(stamps) <= 2 + stream / per_frame, \
        f"processed {len(stamps)} of {n} in {stream:.1f} s at {per_frame:.2f} s each: a queue built up"
    assert len(stamps) < n and stamps == sorted(stamps) and stamps[-1] == n
    assert node.slot.dropped > 0 or node.slot.received < n  # skipped in the slot or by DDS (depth 1)


def test_the_baseline_reuses_the_segmentation_normals(scene):
    """Segmentation computes surface normals once for the plane search; the pipeline hands them
    to the baseline, which then gets the grasps it would get estimating them itself on the same
    points (same grasps within float32 rounding when the clouds match); wrong normals are refused."""
    from graspnet_ros.cameras.geometry import estimate_normals

    _, _, pts = scene
    prep = DetectionPipeline(make_detector("baseline"), PipelineConfig()).prepare(pts)
    assert prep.normals is not None and prep.normals.shape == prep.points.shape
    np.testing.assert_allclose(np.linalg.norm(prep.normals, axis=1), 1.0, atol=1e-6)
    assert (np.einsum("ij,ij->i", prep.normals, -prep.points) >= -1e-9).all()  # towards the camera
    det = make_detector("baseline", score_calibration="none")
    own, _ = det.detect(prep.points, FRAME, objects=prep.objects)
    given, _ = det.detect(prep.points, FRAME, objects=prep.objects,
                          normals=estimate_normals(prep.points, det.config.normal_neighbours))
    assert len(own) >= 5
    np.testing.assert_allclose(given.array, own.array, atol=1e-6)
    with pytest.raises(ValueError, match="one normal per point"):
        det.detect(prep.points, FRAME, objects=prep.objects, normals=prep.normals[:10])


def test_one_model_free_detector_behind_every_entry(scene):
    """The pipeline's baseline and GraspDetector(None) run the same algorithm and collision stage:
    on the same prepared cloud they return the same grasps; the old second detector's name is refused
    with the fix."""
    from graspnet_ros.model.detector import DetectorConfig, GraspDetector

    _, _, pts = scene
    prep = DetectionPipeline(make_detector("baseline"), PipelineConfig()).prepare(pts)
    grasps, timings = make_detector("baseline", score_calibration="none").detect(prep.points, FRAME,
                                                                                objects=prep.objects)
    ref = GraspDetector(None, DetectorConfig(voxel_size=0.0, nms=False)).detect(prep.points, objects=prep.objects)
    assert len(grasps) >= 5 and grasps.frame_id == FRAME and set(timings) == {"candidates", "collision"}
    np.testing.assert_allclose(grasps.array, ref.grasps.array, atol=1e-6)
    assert all(0 <= v < 60 for v in ref.timings.values())  # seconds, like the pipeline's
    with pytest.raises(ValueError, match="merged into 'baseline'"):
        make_detector("geometric")
