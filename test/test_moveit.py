"""MoveIt outputs of grasp_detector_node: moveit_msgs/Grasp and the grasping_msgs GraspPlanning action.

moveit_msgs (Grasp, GripperTranslation) and grasping_msgs are not on PyPI:
a ROS install provides them, CI builds them from the upstream interface files
(scripts/setup.sh with GRASPNET_ROS2_UPSTREAM). Where they are missing the
tests skip, and fail under GRASPNET_REQUIRE_ROS_CLI=1 (.ci/run).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from graspnet_ros.cameras.geometry import depth_to_points
from graspnet_ros.cameras.synthetic import SyntheticCamera
from graspnet_ros.nodes import conversions as cv
from graspnet_ros.nodes.grasp_detector_node import GraspDetectorNode
from graspnet_ros.tool_frame import ToolFrame, grasp_to_tool_poses
from ros_helpers import SafeActionClient, wait_for

ROOT = Path(__file__).resolve().parents[1]
UPSTREAM = Path(os.environ.get("GRASPNET_ROS2_UPSTREAM") or ROOT.parent / "shared" / "ros2-upstream")
FAST = {"detector": "baseline", "max_points": 3000, "max_grasps": 10, "seed": 1}


def require(what: str, ok: bool) -> None:
    message = f"{what}: build moveit_msgs / grasping_msgs (a ROS install, or GRASPNET_ROS2_UPSTREAM for setup.sh)"
    if ok:
        return
    if os.environ.get("GRASPNET_REQUIRE_ROS_CLI") == "1":
        pytest.fail(message + "; GRASPNET_REQUIRE_ROS_CLI=1 requires them")
    pytest.skip(message)


@pytest.fixture(scope="module")
def moveit_msgs():
    require("moveit_msgs / grasping_msgs are not installed",
            all(importlib.util.find_spec(m) is not None for m in ("moveit_msgs", "grasping_msgs")))


@pytest.fixture(scope="module")
def cloud():
    frame = SyntheticCamera(scale=0.25, num_objects=4, seed=3).read()
    pts = depth_to_points(frame.depth, frame.intrinsics, organised=False).astype(np.float32)
    return cv.cloud_to_msg(pts, "camera_color_optical_frame", cv.seconds_to_stamp(2.0))


def upstream_hashes() -> dict[str, str]:
    """RIHS01 hashes of the upstream .msg definitions, computed by rosbags (not by rosidl)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    files = {"moveit_msgs/msg/GripperTranslation": "moveit_msgs/msg/GripperTranslation.msg",
             "moveit_msgs/msg/Grasp": "moveit_msgs/msg/Grasp.msg",
             "grasping_msgs/msg/ObjectProperty": "grasping_msgs/msg/ObjectProperty.msg",
             "grasping_msgs/msg/Object": "grasping_msgs/msg/Object.msg",
             "grasping_msgs/msg/GraspableObject": "grasping_msgs/msg/GraspableObject.msg"}
    for name, rel in files.items():
        path = UPSTREAM / "interfaces" / rel
        require(f"{path} is missing", path.is_file())
        ts.register(get_types_from_msg(path.read_text(), name))
    return {name: ts.hash_rihs01(name) for name in files}


def test_generated_types_carry_the_upstream_type_hashes(moveit_msgs, ros):
    from grasping_msgs.msg import GraspableObject, Object
    from moveit_msgs.msg import Grasp, GripperTranslation

    expected = upstream_hashes()
    types = {"moveit_msgs/msg/Grasp": Grasp, "moveit_msgs/msg/GripperTranslation": GripperTranslation,
             "grasping_msgs/msg/Object": Object, "grasping_msgs/msg/GraspableObject": GraspableObject}
    for name, msg_type in types.items():
        topic = "/hash_" + name.replace("/", "_")
        ros.node.create_publisher(msg_type, topic, 1)
        info = ros.node.get_publishers_info_by_topic(topic)
        assert info and info[0].topic_type == name
        assert str(info[0].topic_type_hash) == expected[name], name  # what goes on the wire


def test_moveit_client_gets_tool_frame_poses(moveit_msgs, ros, cloud):
    from grasping_msgs.action import GraspPlanning
    from grasping_msgs.msg import GraspableObject

    from graspnet_ros.srv import DetectGrasps

    node = ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        tool_frame__tcp_offset=0.1034, moveit__finger_joints=["left_finger", "right_finger"],
        moveit__open_width=0.085, **FAST)))
    topic = ros.listen(GraspableObject, "/grasps_moveit")
    client = SafeActionClient(ros.node, GraspPlanning, "/plan_grasps")
    assert client.wait_for_server(timeout_sec=20.0)
    feedback = []
    goal = GraspPlanning.Goal()
    goal.object.point_cluster = cloud
    future = client.send_goal_async(goal, feedback_callback=lambda f: feedback.append(f.feedback))
    assert wait_for(future.done, 60.0)
    result_future = future.result().get_result_async()
    assert wait_for(result_future.done, 60.0)
    grasps = result_future.result().result.grasps
    assert len(grasps) > 0 and feedback and len(feedback[-1].grasps) == len(grasps)

    # the same cloud through the package's own service: the GraspNet grasps behind the MoveIt ones
    srv = ros.node.create_client(DetectGrasps, "/detect_grasps")
    assert srv.wait_for_service(timeout_sec=10.0)
    done = srv.call_async(DetectGrasps.Request(cloud=cloud))
    assert wait_for(done.done, 60.0)
    g = cv.msg_to_grasp_group(done.result().grasps)
    assert len(g) == len(grasps)
    tool = ToolFrame.z_approach(tcp_offset=0.1034)
    expected = grasp_to_tool_poses(g, tool)
    for i, m in enumerate(grasps):
        assert m.grasp_pose.header.frame_id == "camera_color_optical_frame" and m.id == str(i)
        np.testing.assert_allclose(cv.pose_to_matrix(m.grasp_pose), expected[i], atol=1e-6)
        assert m.grasp_quality == pytest.approx(g.scores[i])
        # approach along the tool z axis (z_approach), retreat back along it
        d = m.pre_grasp_approach.direction.vector
        np.testing.assert_allclose([d.x, d.y, d.z], expected[i][:3, 2], atol=1e-6)
        assert m.pre_grasp_approach.desired_distance == pytest.approx(0.10)
        r = m.post_grasp_retreat.direction.vector
        np.testing.assert_allclose([r.x, r.y, r.z], -expected[i][:3, 2], atol=1e-6)
        assert list(m.pre_grasp_posture.joint_names) == ["left_finger", "right_finger"]
        np.testing.assert_allclose(m.pre_grasp_posture.points[0].positions, [0.0425, 0.0425])
        np.testing.assert_allclose(m.grasp_posture.points[0].positions, [g.widths[i] / 2] * 2, atol=1e-9)
    # the live topic carries the same kind of list for streamed input
    node.publish(g, done.result().grasps.header)
    assert wait_for(lambda: topic and len(topic[-1].grasps) == len(g), 10.0)
    client.destroy()
