"""calibration_node over real rclpy on loopback, fed with rendered images and flange poses.

A ChArUco board held by the robot (eye-to-hand) is rendered through the D435
intrinsics at each robot pose; the test publishes image, CameraInfo and
flange pose, collects samples through ``~/collect``, solves through
``~/solve`` and checks the published static transform against the truth.
"""

import contextlib
import os
import threading
import time
import uuid

import numpy as np
import pytest
import rclpy
import yaml
from geometry_msgs.msg import PoseStamped, TransformStamped
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from graspnet_ros.calibration.config import default_config_path
from graspnet_ros.cameras.base import CameraIntrinsics
from graspnet_ros.calibration.poses import invert, make_transform, pose_error
from graspnet_ros.calibration.render import D435_K, D435_SIZE, render_target, sample_view_poses
from graspnet_ros.calibration.result import load_calibration
from graspnet_ros.calibration.targets import CharucoTarget
from graspnet_ros.nodes import calibration_node as cn
from graspnet_ros.nodes import conversions as cv

TIMEOUT = 20.0
BOARD = CharucoTarget("DICT_5X5_100", 7, 5, 0.03, 0.022)
X_TRUE = make_transform(Rotation.from_euler("xyz", [-115, 3, 25], degrees=True).as_matrix(), [0.7, 0.25, 0.55])
Z_TRUE = make_transform(Rotation.from_euler("x", 180, degrees=True).as_matrix(), [0.0, 0.01, 0.04])


def wait_for(predicate, what, timeout=TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def write_config(tmp_path, tag):
    cfg = yaml.safe_load(default_config_path().read_text())
    cfg["target"] = {"type": "charuco", "dictionary": BOARD.dictionary, "squares_x": 7, "squares_y": 5,
                     "square_length": 0.03, "marker_length": 0.022}
    cfg["mode"] = "eye-to-hand"
    cfg["topics"] = {"image": f"/t{tag}/color/image_raw", "camera_info": f"/t{tag}/color/camera_info",
                     "flange_pose": f"/t{tag}/flange_pose", "debug_image": f"/t{tag}/debug",
                     "transform": f"/t{tag}/calibration/transform"}
    cfg["output"] = {"path": str(tmp_path / "calib.yaml"), "camera_serial": "sim-1"}
    (tmp_path / "calibration.yaml").write_text(yaml.safe_dump(cfg))
    return cfg


@contextlib.contextmanager
def running(tmp_path):
    """calibration_node and a test node in one Context, spun by an executor in a daemon thread."""
    tag = uuid.uuid4().hex[:8]
    cfg = write_config(tmp_path, tag)
    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    node = peer = None
    executor = SingleThreadedExecutor(context=ctx)
    thread = threading.Thread(target=executor.spin, daemon=True)
    try:
        node = cn.CalibrationNode(context=ctx, parameter_overrides=[
            Parameter("config_file", value=str(tmp_path / "calibration.yaml")),
            Parameter("debug_period", value=0.0)])
        peer = Node(f"calibration_test_{tag}", context=ctx)
        executor.add_node(node)
        executor.add_node(peer)
        thread.start()
        yield node, peer, cfg["topics"], tmp_path / "calib.yaml"
    finally:
        executor.shutdown(timeout_sec=5.0)
        for n in (node, peer):
            if n is not None:
                n.destroy_node()
        rclpy.try_shutdown(context=ctx)
        if thread.is_alive():
            thread.join(timeout=5.0)


@pytest.fixture
def rig(tmp_path):
    with running(tmp_path) as r:
        yield r


def call(client, timeout=TIMEOUT) -> Trigger.Response:
    assert client.wait_for_service(timeout_sec=timeout), f"service {client.srv_name} not available"
    future = client.call_async(Trigger.Request())
    wait_for(future.done, f"response of {client.srv_name}", timeout)
    return future.result()


def test_collect_solve_publish(rig):
    node, peer, topics, out = rig
    node_name = node.get_fully_qualified_name()
    collect = peer.create_client(Trigger, f"{node_name}/collect")
    solve = peer.create_client(Trigger, f"{node_name}/solve")
    reset = peer.create_client(Trigger, f"{node_name}/reset")
    image_pub = peer.create_publisher(Image, topics["image"], 2)
    info_pub = peer.create_publisher(CameraInfo, topics["camera_info"], 2)
    pose_pub = peer.create_publisher(PoseStamped, topics["flange_pose"], 2)
    debug = []
    peer.create_subscription(Image, topics["debug_image"], debug.append, 2)
    received = []
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
    if cn.StaticTransformPublisher is not None:  # tf2_msgs available: the result goes to /tf_static
        from tf2_msgs.msg import TFMessage

        peer.create_subscription(TFMessage, "/tf_static", lambda m: received.extend(m.transforms), latched)
    else:
        peer.create_subscription(TransformStamped, topics["transform"], received.append, latched)
    wait_for(lambda: image_pub.get_subscription_count() and pose_pub.get_subscription_count()
             and info_pub.get_subscription_count(), "calibration_node subscriptions")

    # nothing received yet: a clear refusal
    response = call(collect)
    assert not response.success and "no image received yet" in response.message
    info = cv.intrinsics_to_camera_info(CameraIntrinsics.from_matrix(D435_K, *D435_SIZE), "camera_color_optical_frame")

    C_true = sample_view_poses(6, (0.4, 0.65), 35, max_roll_deg=60, rng=np.random.default_rng(8))
    flange = X_TRUE @ C_true @ invert(Z_TRUE)  # T_base<-flange for each view

    def show(image_bgr, T_flange, stamp):
        info.header.stamp = cv.seconds_to_stamp(stamp)
        info_pub.publish(info)
        pose_pub.publish(cv.matrix_to_pose_stamped(T_flange, "base_link", stamp))
        image_pub.publish(cv.color_to_msg(np.ascontiguousarray(image_bgr[..., ::-1]), "camera_color_optical_frame",
                                          stamp))

    def collect_until_done(stamp):
        """Retry while the node still holds the previous sample's messages (topics arrive independently)."""
        end = time.monotonic() + TIMEOUT
        while True:
            r = call(collect)
            if r.success or time.monotonic() > end or not any(
                    s in r.message for s in ("stamps differ", "no image", "no flange", "no new image")):
                return r
            time.sleep(0.05)

    # an image without the board: rejected with the reason, nothing stored
    blank = np.full((D435_SIZE[1], D435_SIZE[0], 3), 110, np.uint8)
    show(blank, flange[0], 100.0)
    response = collect_until_done(100.0)
    assert not response.success and "no ChArUco board" in response.message

    for i, (c, f) in enumerate(zip(C_true, flange)):
        stamp = 200.0 + 10.0 * i
        show(render_target(BOARD, c, rng=i), f, stamp)
        response = collect_until_done(stamp)
        assert response.success, response.message
        assert f"sample {i + 1} collected" in response.message
    wait_for(lambda: debug, "a debug image")
    assert (debug[-1].height, debug[-1].width, debug[-1].encoding) == (D435_SIZE[1], D435_SIZE[0], "bgr8")

    # the same robot pose again adds nothing
    show(render_target(BOARD, C_true[-1], rng=50), flange[-1], 400.0)
    response = collect_until_done(400.0)
    assert not response.success and "has not moved" in response.message

    response = call(solve)
    assert response.success, response.message
    assert "<- chosen" in response.message and "base_link" in response.message
    tf = wait_for(lambda: [t for t in received if t.child_frame_id == "camera_color_optical_frame"],
                  "the calibration transform")[-1]
    assert tf.header.frame_id == "base_link"
    rot, trans = pose_error(cv.transform_to_matrix(tf), X_TRUE)
    assert rot < 0.3 and trans < 0.002, (rot, trans)
    saved = load_calibration(out)
    assert saved.camera_serial == "sim-1" and saved.n_samples == 6 and saved.mode == "eye-to-hand"
    assert np.allclose(saved.transform, cv.transform_to_matrix(tf), atol=1e-9)

    # after a reset, too few samples: the solve fails and the saved calibration stays
    good = out.read_bytes()
    assert call(reset).success
    show(render_target(BOARD, C_true[0], rng=60), flange[0], 500.0)
    assert collect_until_done(500.0).success
    response = call(solve)
    assert not response.success and "at least 3" in response.message
    assert out.read_bytes() == good


def test_fallback_topic_and_publishing_a_saved_calibration(tmp_path, monkeypatch):
    """Without tf2_msgs the result goes out as a latched TransformStamped; a saved file is published at start."""
    from graspnet_ros.calibration.result import CalibrationResult, save_calibration

    saved = CalibrationResult(X_TRUE, "base_link", "camera_color_optical_frame", "eye-to-hand", "park",
                              rotation_rms_deg=0.05, translation_rms_mm=0.4, n_samples=10)
    save_calibration(saved, tmp_path / "calib.yaml")
    monkeypatch.setattr(cn, "StaticTransformPublisher", None)  # as in an environment without tf2_msgs
    with running(tmp_path) as (node, peer, topics, out):
        received = []
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        peer.create_subscription(TransformStamped, topics["transform"], received.append, latched)
        tf = wait_for(lambda: received, "the latched calibration transform")[0]  # sent before we subscribed
        assert (tf.header.frame_id, tf.child_frame_id) == ("base_link", "camera_color_optical_frame")
        assert np.allclose(cv.transform_to_matrix(tf), X_TRUE, atol=1e-9)
        response = call(peer.create_client(Trigger, f"{node.get_fully_qualified_name()}/solve"))
        assert not response.success and "no samples collected" in response.message
