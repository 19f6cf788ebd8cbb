"""executor_node over real rclpy (loopback): phases in order, result, faults, stop/reset."""

import os
import threading
import time
import uuid

import numpy as np
import pytest
import rclpy
import trimesh
from action_msgs.msg import GoalStatus
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from std_srvs.srv import Trigger

from graspnet_ros.action import ExecuteGrasp
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes.conversions import grasp_group_to_msg
from graspnet_ros.nodes.executor_node import ExecutorNode
from graspnet_ros.robot.base import ConnectionLost
from graspnet_ros.robot.executor import PHASES, ExecutorConfig
from graspnet_ros.robot.safety import SafetyConfig
from graspnet_ros.robot.sim import SimArm, SimObject
from ros_helpers import SafeActionClient

TIMEOUT = 30.0
CAMERA = "camera_color_optical_frame"
T_BASE_CAMERA = np.array([[1.0, 0, 0, 0.1], [0, -1, 0, 0.05], [0, 0, -1, 0.6], [0, 0, 0, 1]])


class FaultyArm(SimArm):
    """The real simulator, except that the link "drops" when a chosen phase starts (fault injection)."""

    fail_on = "close_gripper"

    def close_gripper(self, force=None):
        if self.fail_on == "close_gripper":
            raise ConnectionLost("gripper controller did not answer (injected fault)")
        return super().close_gripper(force)


def box_arm(cls=SimArm) -> SimArm:
    mesh = trimesh.creation.box((0.05, 0.05, 0.08))
    T = np.eye(4)
    T[:3, 3] = (0.1, 0.05, 0.04)
    return cls([SimObject(mesh, T, name="box")])


def camera_grasp(x: float = 0.0, score: float = 1.0) -> GraspGroup:
    """The box-top grasp as the camera (0.6 m above the box, looking down) sees it."""
    return GraspGroup.from_approach(np.array([[x, 0.0, 0.52]]), np.array([[0.0, 0.0, 1.0]]), np.array([0.0]),
                                    depth=0.02, width=0.06, score=score, frame_id=CAMERA)


@pytest.fixture
def ros():
    """(make_server(arm), client node, context): everything spun by one executor in a daemon thread."""
    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    ns = f"/gn_exec_{uuid.uuid4().hex[:8]}"
    executor = MultiThreadedExecutor(context=ctx)
    client = Node("executor_test_client", namespace=ns, context=ctx)
    executor.add_node(client)
    servers = []

    def make_server(arm, cfg=None):
        # no cloud in most tests: the clearance check must be switched off explicitly
        cfg = cfg or ExecutorConfig(T_base_camera=T_BASE_CAMERA, safety=SafetyConfig(require_cloud=False))
        node = ExecutorNode(arm=arm, config=cfg, namespace=ns, context=ctx)
        executor.add_node(node)
        servers.append(node)
        return node

    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield make_server, client
    finally:
        executor.shutdown(timeout_sec=5.0)
        for n in servers + [client]:
            n.destroy_node()
        rclpy.try_shutdown(context=ctx)
        thread.join(timeout=5.0)


def send(client: Node, goal: ExecuteGrasp.Goal):
    """Send a goal; return (feedback list of (phase, progress), status, result)."""
    action = SafeActionClient(client, ExecuteGrasp, "execute_grasp")
    assert action.wait_for_server(timeout_sec=TIMEOUT)
    feedback = []
    future = action.send_goal_async(goal, feedback_callback=lambda m: feedback.append(
        (m.feedback.phase, m.feedback.progress)))
    handle = wait(future).result()
    assert handle.accepted
    response = wait(handle.get_result_async()).result()
    return feedback, response.status, response.result


def wait(future, timeout: float = TIMEOUT):
    t0 = time.monotonic()
    while not future.done():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.01)
    return future


def goal_for(grasps: GraspGroup) -> ExecuteGrasp.Goal:
    msg = grasp_group_to_msg(grasps)
    return ExecuteGrasp.Goal(header=msg.header, grasp=msg.grasps[0])


def test_action_reports_each_phase_and_result(ros):
    make_server, client = ros
    server = make_server(box_arm())
    feedback, status, result = send(client, goal_for(camera_grasp()))
    phases = [p for i, (p, _) in enumerate(feedback) if i == 0 or feedback[i - 1][0] != p]
    assert phases == list(PHASES)
    progress = [f for _, f in feedback]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert status == GoalStatus.STATUS_SUCCEEDED
    assert result.success and result.reason == ""
    assert 0.045 < result.measured_width < 0.051
    assert server.grasp_executor.arm.lifted_object(0.05) == 0


def test_best_of_latest_grasp_array(ros):
    make_server, client = ros
    server = make_server(box_arm())
    pub = client.create_publisher(GraspArray, "grasps", 1)
    # the best-scoring grasp is outside the workspace: the executor takes the next safe one
    grasps = GraspGroup.concatenate([camera_grasp(x=1.5, score=0.9), camera_grasp(score=0.5)])
    t0 = time.monotonic()
    while server.inputs.grasps is None:
        assert time.monotonic() - t0 < TIMEOUT
        pub.publish(grasp_group_to_msg(grasps))
        time.sleep(0.05)
    _, status, result = send(client, ExecuteGrasp.Goal(use_best_of_latest=True))
    assert result.success, result.reason
    assert status == GoalStatus.STATUS_SUCCEEDED


def test_refused_grasp_never_moves_the_arm(ros):
    make_server, client = ros
    server = make_server(box_arm())
    feedback, status, result = send(client, goal_for(camera_grasp(x=1.5)))
    assert feedback == []
    assert status == GoalStatus.STATUS_ABORTED
    assert not result.success and "outside the workspace" in result.reason
    assert server.grasp_executor.arm.motion_commands == 0


def test_connection_lost_mid_action_aborts_with_reason(ros):
    make_server, client = ros
    make_server(box_arm(FaultyArm))
    feedback, status, result = send(client, goal_for(camera_grasp()))
    assert [p for p, _ in feedback][-1] == "close"  # it got as far as closing
    assert status == GoalStatus.STATUS_ABORTED
    assert not result.success
    assert "ConnectionLost" in result.reason and "'close'" in result.reason
    assert "did not answer" in result.reason


def test_stop_and_reset_services(ros):
    make_server, client = ros
    make_server(box_arm())
    stop = client.create_client(Trigger, "stop")
    reset = client.create_client(Trigger, "reset")
    assert stop.wait_for_service(timeout_sec=TIMEOUT) and reset.wait_for_service(timeout_sec=TIMEOUT)
    assert wait(stop.call_async(Trigger.Request())).result().success
    _, status, result = send(client, goal_for(camera_grasp()))
    assert status == GoalStatus.STATUS_ABORTED and "stopped" in result.reason
    assert wait(reset.call_async(Trigger.Request())).result().success
    _, status, result = send(client, goal_for(camera_grasp()))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success


def test_latest_cloud_blocks_a_grasp_whose_pre_grasp_collides(ros):
    from sensor_msgs.msg import PointCloud2, PointField

    make_server, client = ros
    server = make_server(box_arm())
    # a shelf of points 0.19 m above the table over the box, published in the camera frame
    xs, ys = np.meshgrid(np.linspace(0.05, 0.15, 20), np.linspace(0.0, 0.1, 20))
    shelf = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 0.19)], axis=1)
    T_cam_base = np.linalg.inv(T_BASE_CAMERA)
    pts = (shelf @ T_cam_base[:3, :3].T + T_cam_base[:3, 3]).astype(np.float32)
    msg = PointCloud2(height=1, width=len(pts), is_bigendian=False, point_step=12, row_step=12 * len(pts),
                      is_dense=True, data=pts.tobytes(),
                      fields=[PointField(name=n, offset=4 * i, datatype=PointField.FLOAT32, count=1)
                              for i, n in enumerate("xyz")])
    msg.header.frame_id = CAMERA
    pub = client.create_publisher(PointCloud2, "camera/depth/color/points", 1)
    t0 = time.monotonic()
    while server.inputs.cloud is None:
        assert time.monotonic() - t0 < TIMEOUT
        pub.publish(msg)
        time.sleep(0.05)
    np.testing.assert_allclose(server.inputs.cloud[0], shelf, atol=1e-5)  # stored in the base frame
    _, status, result = send(client, goal_for(camera_grasp()))
    assert status == GoalStatus.STATUS_ABORTED
    assert "pre-grasp pose" in result.reason and "collides" in result.reason
    assert server.grasp_executor.arm.motion_commands == 0


def test_default_cloud_topic_is_the_camera_nodes_cloud(ros):
    from graspnet_ros.nodes.launcher import CAMERA_NAMESPACE

    make_server, client = ros
    server = make_server(box_arm())
    topics = {s.topic_name for s in server.subscriptions}
    assert f"{server.get_namespace()}/{CAMERA_NAMESPACE}/depth/color/points" in topics  # camera_node's cloud


def test_eye_in_hand_grasps_use_the_flange_pose_at_their_stamp(ros):
    """Eye-in-hand: the node samples the arm's flange pose; a GraspArray stamped when the frame was
    taken is placed with the pose the flange had then, after the arm has moved on (the box is
    picked); grasps stamped before the history or with no stamp are refused with the reason."""
    from builtin_interfaces.msg import Time
    from scipy.spatial.transform import Rotation

    from graspnet_ros.robot.base import SpeedLimits

    make_server, client = ros
    X = np.eye(4)  # T_flange<-camera: 5 cm beside the flange, turned 90 degrees about the optical axis
    X[:3, :3] = Rotation.from_euler("z", 90, degrees=True).as_matrix()
    X[:3, 3] = (0.05, 0.0, 0.02)
    cfg = ExecutorConfig.from_mapping({"calibration": {"mode": "eye-in-hand", "matrix": X.tolist()},
                                       "safety": {"clearance": {"require_cloud": False}}})
    arm = box_arm()
    T_base_cam = np.array([[1.0, 0, 0, 0.12], [0, -1, 0, 0.03], [0, 0, -1, 0.45], [0, 0, 0, 1]])  # looking down
    arm.move_tool(T_base_cam @ np.linalg.inv(X), SpeedLimits(0.5, 3.0, 1.0))
    server = make_server(arm, cfg)
    assert wait_until(lambda: len(server.inputs.flange_history) >= 5)
    capture = server.get_clock().now()
    at_capture = server.grasp_executor.flange_pose()
    top = GraspGroup.from_approach(np.array([[0.1, 0.05, 0.08]]), np.array([[0.0, 0.0, -1.0]]), np.array([0.0]),
                                   depth=0.02, width=0.06, frame_id="base_link")
    seen = top.transform(np.linalg.inv(at_capture @ X), frame_id=CAMERA)
    # the arm stays still while the frame is taken: samples after the capture hold the same pose
    assert wait_until(lambda: server.inputs.flange_history.newest > capture.nanoseconds * 1e-9 + 0.05)
    shift = np.eye(4)
    shift[:3, 3] = (0.15, 0.0, 0.0)
    arm.move_tool(shift @ arm.tool_pose(), SpeedLimits(0.5, 3.0, 1.0))  # on to the next view
    time.sleep(0.2)  # the history records the new pose too

    msg = grasp_group_to_msg(seen)
    msg.header.stamp = Time(sec=0, nanosec=0)  # unstamped: its capture pose is unknown
    pub = client.create_publisher(GraspArray, "grasps", 1)
    assert wait_until(lambda: pub.publish(msg) or server.dropped["grasps"] > 0)
    assert server.inputs.grasps is None

    stale = grasp_group_to_msg(seen)
    stale.header.stamp = Time(sec=1000, nanosec=0)  # long before the history
    _, status, result = send(client, ExecuteGrasp.Goal(header=stale.header, grasp=stale.grasps[0]))
    assert status == GoalStatus.STATUS_ABORTED and "no pose at t = 1000.000 s" in result.reason
    assert arm.lifted_object(0.05) is None

    msg.header.stamp = capture.to_msg()
    assert wait_until(lambda: pub.publish(msg) or server.inputs.grasps is not None)
    _, status, result = send(client, ExecuteGrasp.Goal(use_best_of_latest=True))
    assert status == GoalStatus.STATUS_SUCCEEDED, result.reason
    assert 0.03 < result.measured_width < 0.06 and arm.lifted_object(0.05) == 0


def wait_until(predicate, timeout: float = TIMEOUT) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if predicate():
                return True
        except ValueError:
            pass
        time.sleep(0.05)
    return False
