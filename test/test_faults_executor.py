"""Fault injection on executor_node: real DDS on loopback, the MuJoCo arm.

Malformed messages of every type the node takes (GraspArray, PointCloud2,
action goals), goals with NaN / inf / zero quaternions / negative widths /
empty or unknown frames, driver exceptions at each step (connect, move,
gripper, stop, verify), a lost connection mid-motion, cancel at each phase,
two concurrent goals, a camera killed and restarted mid-stream. For every
case the test asserts: the node is up (its services answer), no command left
the workspace or entered the no-go zone (an independent monitor inside the
arm checks every motion command, gripper body included), and the goal ended
with a non-empty reason. Each case adds a row to a summary that
``bench/bench_faults.py`` prints (set ``GRASPNET_FAULTS_REPORT=FILE.jsonl``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

import numpy as np
import pytest
import trimesh
from action_msgs.msg import GoalStatus
from rclpy.node import Node
from ros_helpers import SafeActionClient, wait_for
from sensor_msgs.msg import PointCloud2, PointField
from std_srvs.srv import Trigger

from graspnet_ros.action import ExecuteGrasp
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes import conversions as cv
from graspnet_ros.nodes.executor_node import ExecutorNode
from graspnet_ros.robot.base import ConnectionLost, ProtectiveStop
from graspnet_ros.robot.executor import PHASES, ExecutorConfig, InputLimits
from graspnet_ros.robot.safety import DEFAULT_GRIPPER_BODY, SafetyConfig
from graspnet_ros.workspace import Workspace
from graspnet_ros.robot.sim import SimArm, SimObject
from graspnet_ros.tool_frame import Z_APPROACH_ROTATION

TIMEOUT = 30.0
CAMERA = "camera_color_optical_frame"
T_BASE_CAMERA = np.array([[1.0, 0, 0, 0.1], [0, -1, 0, 0.05], [0, 0, -1, 0.6], [0, 0, 0, 1]])
ZONE = Workspace((0.25, -0.6, 0.0), (0.6, -0.25, 0.7), "camera_mount")
SAFETY = SafetyConfig(forbidden_zones=(ZONE,))
ROWS: list[dict] = []
STATUS = {GoalStatus.STATUS_SUCCEEDED: "succeeded", GoalStatus.STATUS_ABORTED: "aborted",
          GoalStatus.STATUS_CANCELED: "canceled"}


def record(case: str, alive: bool, unsafe: int, outcome: str, reason: str) -> None:
    ROWS.append({"suite": "executor", "case": case, "node_alive": bool(alive), "unsafe_commands": int(unsafe),
                 "outcome": outcome, "reason": reason})


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    path = os.environ.get("GRASPNET_FAULTS_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            for row in ROWS:
                fh.write(json.dumps(row) + "\n")


# -- the arm: MuJoCo, with an independent safety monitor and injectable faults ---------------

_BODY_CORNERS = np.concatenate([np.stack(np.meshgrid(*zip(b.lower, b.upper), indexing="ij"), -1).reshape(-1, 3)
                                for b in DEFAULT_GRIPPER_BODY]) @ Z_APPROACH_ROTATION  # tool frame


class MonitoredArm(SimArm):
    """The simulator, plus: every motion command is checked (TCP along the segment, gripper-body
    corners at the target) against the workspace and the no-go zone; ``faults`` maps a method
    name to (call number, exception) to raise at that call; ``midway`` raises on the n-th move
    after moving half of it (a link lost mid-motion)."""

    def __init__(self, *args, **kwargs) -> None:
        self.unsafe: list[str] = []
        self.faults: dict[str, tuple[int, BaseException]] = {}
        self.midway: tuple[int, BaseException] | None = None
        self.calls: dict[str, int] = {}
        super().__init__(*args, **kwargs)

    def _fault(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1
        if name in self.faults and self.calls[name] == self.faults[name][0]:
            raise self.faults[name][1]

    def _monitor(self, pose: np.ndarray) -> None:
        start = self._commanded_pose()[:3, 3]
        tcp = start + np.linspace(0, 1, 50)[:, None] * (pose[:3, 3] - start)
        body = _BODY_CORNERS @ pose[:3, :3].T + pose[:3, 3]
        pts = np.concatenate([tcp, body])
        if not SAFETY.workspace.contains(pts).all() or ZONE.contains(pts).any():
            self.unsafe.append(f"command to {np.round(pose[:3, 3], 3).tolist()}")

    def tool_pose(self) -> np.ndarray:
        if getattr(self, "calls", None) is not None:
            self._fault("tool_pose")
        return super().tool_pose()

    def move_tool(self, pose, speed=None):
        self._fault("move_tool")
        pose = np.asarray(pose, dtype=np.float64)
        self._monitor(pose)
        args = () if speed is None else (speed,)
        if self.midway and self.calls["move_tool"] == self.midway[0]:
            half = pose.copy()
            half[:3, 3] = 0.5 * (self._commanded_pose()[:3, 3] + pose[:3, 3])
            super().move_tool(half, *args)
            raise self.midway[1]
        return super().move_tool(pose, *args)

    def open_gripper(self, width):
        self._fault("open_gripper")
        return super().open_gripper(width)

    def close_gripper(self, force=None):
        self._fault("close_gripper")
        return super().close_gripper(force)

    def gripper_width(self):
        self._fault("gripper_width")
        return super().gripper_width()

    def stop(self):
        self._fault("stop")
        return super().stop()


def box_arm() -> MonitoredArm:
    mesh = trimesh.creation.box((0.05, 0.05, 0.08))
    T = np.eye(4)
    T[:3, 3] = (0.1, 0.05, 0.04)
    return MonitoredArm([SimObject(mesh, T, name="box")])


def camera_grasp(x: float = 0.0, width: float = 0.06) -> GraspGroup:
    """The box-top grasp as the camera (0.6 m above the box, looking down) sees it."""
    return GraspGroup.from_approach(np.array([[x, 0.0, 0.52]]), np.array([[0.0, 0.0, 1.0]]), np.array([0.0]),
                                    depth=0.02, width=width, frame_id=CAMERA)


def goal_for(grasps: GraspGroup) -> ExecuteGrasp.Goal:
    msg = cv.grasp_group_to_msg(grasps)
    return ExecuteGrasp.Goal(header=msg.header, grasp=msg.grasps[0])


class Rig:
    """executor_node (MonitoredArm) + a client node + a camera publishing the scene cloud."""

    def __init__(self, ros, arm: MonitoredArm, inputs: InputLimits = InputLimits(0.6, 2.0)) -> None:
        self.ros, self.arm = ros, arm
        ns = f"/gn_fault_{uuid.uuid4().hex[:8]}"
        cfg = ExecutorConfig(T_base_camera=T_BASE_CAMERA, safety=SAFETY, inputs=inputs)
        self.server = ros.add(ExecutorNode(arm=arm, config=cfg, namespace=ns, context=ros.ctx))
        self.client = ros.add(Node(f"fault_client_{uuid.uuid4().hex[:6]}", namespace=ns, context=ros.ctx))
        self.action = SafeActionClient(self.client, ExecuteGrasp, "execute_grasp")
        self.stop_srv = self.client.create_client(Trigger, "stop")
        self.reset_srv = self.client.create_client(Trigger, "reset")
        self.grasp_pub = self.client.create_publisher(GraspArray, "grasps", 10)
        self.cloud_pub = self.client.create_publisher(PointCloud2, "camera/depth/color/points", 10)
        T_cb = np.linalg.inv(T_BASE_CAMERA)
        pts = arm.scene_points(spacing=0.01)
        self.cloud = cv.cloud_to_msg((pts @ T_cb[:3, :3].T + T_cb[:3, 3]).astype(np.float32), CAMERA)
        self.camera = None
        assert self.action.wait_for_server(timeout_sec=TIMEOUT)

    def start_camera(self, period: float = 0.1) -> None:
        self.camera = self.client.create_timer(period, lambda: self.cloud_pub.publish(self.cloud))
        assert wait_for(lambda: self.server.inputs.cloud is not None, TIMEOUT), "no cloud reached the node"

    def kill_camera(self) -> None:
        self.client.destroy_timer(self.camera)
        self.camera = None

    def call(self, srv, timeout: float = 10.0):
        if not srv.wait_for_service(timeout_sec=timeout):
            return None
        future = srv.call_async(Trigger.Request())
        return future.result() if wait_for(future.done, timeout) else None

    def alive(self) -> bool:
        """The node answers a service (its executor thread did not die)."""
        return self.call(self.stop_srv) is not None and self.call(self.reset_srv) is not None

    def send(self, goal, cancel_at: str | None = None):
        """(feedback phases, status, result) of one goal; cancel when ``cancel_at`` starts."""
        phases: list[str] = []
        reached = threading.Event()

        def on_feedback(m):  # runs in the executor thread: record only
            phases.append(m.feedback.phase)
            if cancel_at and m.feedback.phase == cancel_at:
                reached.set()

        future = self.action.send_goal_async(goal, feedback_callback=on_feedback)
        assert wait_for(future.done, TIMEOUT)
        handle = future.result()
        if cancel_at and handle.accepted:
            assert reached.wait(TIMEOUT), f"phase {cancel_at} never started"
            handle.cancel_goal_async()
        if not handle.accepted:
            return phases, None, None
        res = handle.get_result_async()
        assert wait_for(res.done, TIMEOUT), "the goal never ended"
        return phases, res.result().status, res.result().result

    def publish_until(self, pub, msg, cond, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pub.publish(msg)
            if wait_for(cond, 0.2):
                return True
        return False


# -- malformed messages on the topics ------------------------------------------------

def _grasp_msg(**change) -> GraspArray:
    msg = cv.grasp_group_to_msg(camera_grasp())
    g = msg.grasps[0]
    for key, value in change.items():
        if key == "frame_id":
            msg.header.frame_id = value
        elif key in ("x", "y", "z"):
            setattr(g.pose.position, key, value)
        elif key == "quat":
            g.pose.orientation.x, g.pose.orientation.y, g.pose.orientation.z, g.pose.orientation.w = value
        else:
            setattr(g, key, value)
    return msg


BAD_GRASPS = {
    "nan position": dict(x=float("nan")),
    "inf position": dict(z=float("inf")),
    "zero quaternion": dict(quat=(0.0, 0.0, 0.0, 0.0)),
    "nan quaternion": dict(quat=(float("nan"), 0.0, 0.0, 1.0)),
    "negative width": dict(width=-0.02),
    "nan width": dict(width=float("nan")),
    "negative depth": dict(depth=-0.01),
    "empty frame_id": dict(frame_id=""),
    "unknown frame_id": dict(frame_id="some_other_frame"),
}


def test_malformed_grasp_arrays_are_dropped_with_a_reason(ros):
    rig = Rig(ros, box_arm())
    for name, change in BAD_GRASPS.items():
        before = rig.server.dropped["grasps"]
        dropped = rig.publish_until(rig.grasp_pub, _grasp_msg(**change),
                                    lambda: rig.server.dropped["grasps"] > before)
        alive = rig.alive()
        record(f"GraspArray: {name}", alive, len(rig.arm.unsafe), "dropped" if dropped else "kept",
               "dropped with a log line" if dropped else "")
        assert dropped, name
        assert alive and rig.server.inputs.grasps is None, name
    # a good list is still taken, and best-of-latest executes it
    rig.start_camera()
    assert rig.publish_until(rig.grasp_pub, _grasp_msg(), lambda: rig.server.inputs.grasps is not None)
    _, status, result = rig.send(ExecuteGrasp.Goal(use_best_of_latest=True))
    assert status == GoalStatus.STATUS_SUCCEEDED, result.reason
    assert rig.arm.unsafe == []


def _bad_clouds() -> dict[str, PointCloud2]:
    pts = np.random.default_rng(0).uniform(-0.1, 0.1, (200, 3)).astype(np.float32) + (0, 0, 0.5)
    out = {}
    for name in ("empty frame_id", "unknown frame_id", "truncated data", "missing z", "bad datatype",
                 "zero point_step"):
        out[name] = cv.cloud_to_msg(pts, CAMERA)
    out["empty frame_id"].header.frame_id = ""
    out["unknown frame_id"].header.frame_id = "elsewhere"
    out["truncated data"].data = bytes(out["truncated data"].data)[:100]
    out["missing z"].fields = [f for f in out["missing z"].fields if f.name != "z"]
    out["bad datatype"].fields = [PointField(name=n, offset=4 * i, datatype=99, count=1) for i, n in enumerate("xyz")]
    out["zero point_step"].point_step = 0
    return out


def test_malformed_clouds_are_dropped_with_a_reason(ros):
    rig = Rig(ros, box_arm())
    for name, msg in _bad_clouds().items():
        before = rig.server.dropped["cloud"]
        dropped = rig.publish_until(rig.cloud_pub, msg, lambda: rig.server.dropped["cloud"] > before)
        alive = rig.alive()
        record(f"PointCloud2: {name}", alive, len(rig.arm.unsafe), "dropped" if dropped else "kept",
               "dropped with a log line" if dropped else "")
        assert dropped and alive, name
        assert rig.server.inputs.cloud is None, name


# -- bad goals -------------------------------------------------------------------------

BAD_GOALS = {**{k: v for k, v in BAD_GRASPS.items()},
             "outside the workspace": dict(x=1.5),
             "inside the no-go zone": dict(x=0.3, y=0.35),
             "wider than the gripper": dict(width=0.2)}


@pytest.mark.parametrize("name", list(BAD_GOALS))
def test_bad_goals_end_with_a_reason_and_never_move(ros, name):
    rig = Rig(ros, box_arm())
    rig.start_camera()
    msg = _grasp_msg(**BAD_GOALS[name])
    phases, status, result = rig.send(ExecuteGrasp.Goal(header=msg.header, grasp=msg.grasps[0]))
    alive = rig.alive()
    record(f"goal: {name}", alive, len(rig.arm.unsafe), "aborted" if status == GoalStatus.STATUS_ABORTED
           else str(status), result.reason)
    assert status == GoalStatus.STATUS_ABORTED and not result.success
    assert result.reason.strip(), "empty reason"
    assert phases == [] and rig.arm.motion_commands == 0
    assert alive and rig.arm.unsafe == []


# -- driver faults -----------------------------------------------------------------------

DRIVER_FAULTS = {
    "connect (no tool pose)": ("tool_pose", 1, ConnectionLost("controller not reachable (injected)")),
    "open gripper": ("open_gripper", 1, ConnectionLost("gripper link dropped (injected)")),
    "first move": ("move_tool", 1, ProtectiveStop("protective stop (injected)")),
    "approach move": ("move_tool", 3, RuntimeError("SDK internal error (injected)")),
    "close gripper": ("close_gripper", 1, OSError("socket error (injected)")),
    "lift move": ("move_tool", 4, ConnectionLost("link dropped (injected)")),
    "verify width": ("gripper_width", 1, ConnectionLost("gripper link dropped (injected)")),
}


@pytest.mark.parametrize("name", list(DRIVER_FAULTS))
def test_driver_exception_at_each_step_aborts_with_a_reason(ros, name):
    method, n, exc = DRIVER_FAULTS[name]
    arm = box_arm()
    rig = Rig(ros, arm)
    rig.start_camera()
    arm.calls.clear()
    arm.faults = {method: (n, exc)}
    _, status, result = rig.send(goal_for(camera_grasp()))
    arm.faults = {}
    alive = rig.alive()
    record(f"driver: {name}", alive, len(arm.unsafe), "aborted" if status == GoalStatus.STATUS_ABORTED
           else str(status), result.reason)
    assert status == GoalStatus.STATUS_ABORTED and not result.success
    assert type(exc).__name__ in result.reason and "(injected)" in result.reason
    assert alive and arm.unsafe == []
    # recovered: the next grasp works
    arm.reset(0)
    assert rig.call(rig.reset_srv).success
    _, status, result = rig.send(goal_for(camera_grasp()))
    assert status == GoalStatus.STATUS_SUCCEEDED, result.reason


def test_lost_connection_mid_motion_then_reset(ros):
    arm = box_arm()
    rig = Rig(ros, arm)
    rig.start_camera()
    arm.calls.clear()
    arm.midway = (2, ConnectionLost("link dropped mid-motion (injected)"))
    _, status, result = rig.send(goal_for(camera_grasp()))
    arm.midway = None
    alive = rig.alive()
    record("driver: link lost mid-motion", alive, len(arm.unsafe), "aborted", result.reason)
    assert status == GoalStatus.STATUS_ABORTED and "ConnectionLost" in result.reason and "mid-motion" in result.reason
    assert alive and arm.unsafe == []
    assert rig.call(rig.reset_srv).success
    _, status, result = rig.send(goal_for(camera_grasp()))
    assert status == GoalStatus.STATUS_SUCCEEDED, result.reason


def test_stop_service_answers_when_the_driver_stop_raises(ros):
    arm = box_arm()
    rig = Rig(ros, arm)
    rig.start_camera()
    arm.calls.clear()
    arm.faults = {"stop": (1, ConnectionLost("stop not delivered (injected)"))}
    reply = rig.call(rig.stop_srv)
    arm.faults = {}
    assert reply is not None and reply.success and "stop not delivered" in reply.message
    _, status, result = rig.send(goal_for(camera_grasp()))  # latched: nothing moves until reset
    alive = rig.alive()  # (its reset clears the latch)
    record("driver: stop raises", alive, len(arm.unsafe), "aborted", result.reason)
    assert status == GoalStatus.STATUS_ABORTED and "stopped" in result.reason
    assert alive and arm.unsafe == []


# -- cancel, concurrency, inputs ------------------------------------------------------------

@pytest.mark.parametrize("phase", PHASES[:-1])
def test_cancel_at_each_phase(ros, phase):
    arm = box_arm()
    rig = Rig(ros, arm)
    rig.start_camera()
    phases, status, result = rig.send(goal_for(camera_grasp()), cancel_at=phase)
    alive = rig.alive()
    record(f"cancel in {phase}", alive, len(arm.unsafe), "canceled" if status == GoalStatus.STATUS_CANCELED
           else str(status), result.reason)
    assert status == GoalStatus.STATUS_CANCELED, (status, result.reason)
    assert result.reason.strip() and phase in phases
    assert alive and arm.unsafe == []
    arm.reset(0)
    assert rig.call(rig.reset_srv).success
    _, status, result = rig.send(goal_for(camera_grasp()))
    assert status == GoalStatus.STATUS_SUCCEEDED, result.reason


def test_two_concurrent_goals(ros):
    arm = box_arm()
    rig = Rig(ros, arm)
    rig.start_camera()
    futures = [rig.action.send_goal_async(goal_for(camera_grasp())) for _ in range(2)]
    assert wait_for(lambda: all(f.done() for f in futures), TIMEOUT)
    outcomes = []
    for f in futures:
        h = f.result()
        if not h.accepted:
            outcomes.append(("rejected", "rejected: another goal is executing"))
            continue
        r = h.get_result_async()
        assert wait_for(r.done, TIMEOUT)
        outcomes.append((r.result().status, r.result().result.reason))
    alive = rig.alive()
    record("two concurrent goals", alive, len(arm.unsafe), " + ".join(STATUS.get(o[0], str(o[0])) for o in outcomes),
           "; ".join(o[1] for o in outcomes if o[1]))
    assert sorted(str(o[0]) for o in outcomes).count(str(GoalStatus.STATUS_SUCCEEDED)) == 1
    other = next(o for o in outcomes if o[0] != GoalStatus.STATUS_SUCCEEDED)
    assert "another goal" in other[1]
    assert alive and arm.unsafe == []


def test_no_cloud_fails_closed(ros):
    arm = box_arm()
    rig = Rig(ros, arm)
    _, status, result = rig.send(goal_for(camera_grasp()))
    alive = rig.alive()
    record("no cloud ever", alive, len(arm.unsafe), "aborted", result.reason)
    assert status == GoalStatus.STATUS_ABORTED and "no point cloud" in result.reason
    assert arm.motion_commands == 0 and alive


def test_camera_killed_and_restarted_mid_stream(ros):
    arm = box_arm()
    rig = Rig(ros, arm, InputLimits(max_cloud_age=0.5, max_grasps_age=2.0))
    rig.start_camera()
    rig.kill_camera()
    time.sleep(0.8)
    _, status, result = rig.send(goal_for(camera_grasp()))
    record("camera killed: stale cloud", rig.alive(), len(arm.unsafe), "aborted", result.reason)
    assert status == GoalStatus.STATUS_ABORTED and "too old" in result.reason
    assert arm.motion_commands == 0
    rig.start_camera()
    time.sleep(0.3)
    _, status, result = rig.send(goal_for(camera_grasp()))
    record("camera restarted", rig.alive(), len(arm.unsafe), "succeeded" if result.success else "failed",
           result.reason or "lifted")
    assert status == GoalStatus.STATUS_SUCCEEDED, result.reason
    # a grasp list older than its limit is refused too
    assert rig.publish_until(rig.grasp_pub, _grasp_msg(), lambda: rig.server.inputs.grasps is not None)
    time.sleep(2.2)
    _, status, result = rig.send(ExecuteGrasp.Goal(use_best_of_latest=True))
    record("stale grasp list", rig.alive(), len(arm.unsafe), "aborted", result.reason)
    assert status == GoalStatus.STATUS_ABORTED and "GraspArray is" in result.reason and "old" in result.reason
    assert arm.unsafe == []
