"""grasp_detector_node on publishers shaped like realsense2_camera 4.x and the Azure Kinect driver.

Each case publishes one synthetic scene the way that driver does (topic names,
depth encoding, frame ids, reliable or best-effort QoS) from the table the
launch file's ``camera:=`` uses, starts the detector with that table's
parameters and the default ``input_qos`` (auto), and receives grasps in the
driver's frame over DDS (loopback, the session's domain).
"""

from __future__ import annotations

import numpy as np
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import PointCloud2

from graspnet_ros.cameras.geometry import depth_to_points
from graspnet_ros.cameras.ros_drivers import CAMERA_CHOICES, DRIVERS, driver_topics
from graspnet_ros.cameras.synthetic import SyntheticCamera
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes import conversions as cv
from graspnet_ros.nodes.grasp_detector_node import GraspDetectorNode
from ros_helpers import wait_for

FAST = {"detector": "baseline", "max_points": 3000, "max_grasps": 10}


@pytest.fixture(scope="module")
def frame():
    return SyntheticCamera(scale=0.25, num_objects=4, seed=3).read()


def driver_messages(driver: str, frame, input_kind: str) -> dict[str, object]:
    """topic -> message as ``driver`` publishes this frame."""
    d = driver_topics(driver)
    stamp = cv.seconds_to_stamp(1.0)
    if input_kind == "cloud":
        pts = depth_to_points(frame.depth, frame.intrinsics, organised=False)
        return {d.cloud_topic: cv.cloud_to_msg(pts.astype(np.float32), d.cloud_frame, stamp)}
    return {d.depth_topic: cv.depth_to_msg(frame.depth, d.depth_frame, stamp, d.depth_encoding),
            d.camera_info_topic: cv.intrinsics_to_camera_info(frame.intrinsics, d.depth_frame, stamp)}


@pytest.mark.parametrize("driver,input_kind,reliability", [
    ("realsense", "cloud", ReliabilityPolicy.BEST_EFFORT),
    ("realsense", "depth", ReliabilityPolicy.RELIABLE),
    ("kinect", "depth", ReliabilityPolicy.BEST_EFFORT),
    ("kinect", "cloud", ReliabilityPolicy.RELIABLE),
])
def test_detector_receives_driver_shaped_input(ros, frame, driver, input_kind, reliability):
    d = DRIVERS[driver]
    msgs = driver_messages(driver, frame, input_kind)
    if input_kind == "depth":
        depth = msgs[d.depth_topic]
        assert depth.encoding == d.depth_encoding and depth.header.frame_id == d.depth_frame
        assert depth.encoding == ("16UC1" if driver == "realsense" else "32FC1")
    qos = QoSProfile(depth=1, reliability=reliability)
    pubs = {t: ros.node.create_publisher(type(m), t, qos) for t, m in msgs.items()}
    received = ros.listen(GraspArray, "/grasps")
    node = ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        input=input_kind, **d.detector_parameters(), **FAST)))
    assert node.p["input_qos"] == "auto"

    def publish_and_check() -> bool:
        for t, m in msgs.items():
            pubs[t].publish(m)
        return any(len(g.grasps) for g in received)

    assert wait_for(publish_and_check, 60.0, period=0.5), \
        f"no grasps from a {driver}-shaped {input_kind} publisher ({reliability.name})"
    assert node.inputs.reliability == reliability  # auto followed the publisher
    g = next(g for g in received if len(g.grasps))
    assert g.header.frame_id == (d.cloud_frame if input_kind == "cloud" else d.depth_frame)


def test_reliable_only_detector_ignores_best_effort_publishers(ros, frame):
    d = DRIVERS["realsense"]
    msgs = driver_messages("realsense", frame, "cloud")
    pub = ros.node.create_publisher(PointCloud2, d.cloud_topic,
                                    QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
    node = ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        input_qos="reliable", **d.detector_parameters(), **FAST)))
    for _ in range(10):
        pub.publish(msgs[d.cloud_topic])
        wait_for(lambda: False, 0.2)
    assert node.processed == 0 and node.inputs.reliability == ReliabilityPolicy.RELIABLE
    with pytest.raises(ValueError, match="input_qos='fast' must be one of"):
        GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(input_qos="fast"))


def test_driver_table_and_launch_choices():
    assert CAMERA_CHOICES == ("synthetic", "realsense", "kinect", "topics")
    assert DRIVERS["realsense"].cloud_topic == "/camera/camera/depth/color/points"
    assert DRIVERS["kinect"].cloud_topic == "/points2"
    with pytest.raises(ValueError, match="choose one of"):
        driver_topics("zed")
    for d in DRIVERS.values():
        assert d.depth_encoding in ("16UC1", "32FC1")
        assert set(d.detector_parameters()) == {"cloud_topic", "depth_topic", "camera_info_topic"}
