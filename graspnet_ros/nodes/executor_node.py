"""executor_node: executes grasps with the arm through the ``execute_grasp`` action.

Action ``execute_grasp`` (graspnet_ros/action/ExecuteGrasp): a grasp in a
camera or base frame, or "best of the latest GraspArray"; feedback per phase
(pre_grasp, approach, close, lift, verify); result success / measured width /
reason. Goal status is SUCCEEDED when the object was picked, ABORTED when the
grasp was refused, failed or a driver error stopped it, CANCELED on cancel.
Every accepted goal ends with a result, and every failure with a reason.

Topics in: ``grasps`` (graspnet_ros/GraspArray, the latest is kept),
``camera/depth/color/points`` (sensor_msgs/PointCloud2, what camera_node
publishes; the latest is used for the pre-grasp clearance check). A message that does not convert (bad fields, NaN
poses, zero quaternions, an empty or unknown frame_id) is logged with its
reason and dropped. A goal refuses a cloud older than ``inputs.max_cloud_age``
s or a grasp list older than ``inputs.max_grasps_age`` s (since arrival);
without a cloud the clearance check fails closed unless the config sets
``safety.clearance.require_cloud: false``. Services: ``stop`` (never blocks),
``reset`` (std_srvs/Trigger). Parameters: ``config_file`` (executor YAML;
empty = built-in defaults, the simulator), ``grasps_topic``, ``cloud_topic``,
``flange_rate``, ``flange_history``.

Eye-in-hand (the config's calibration file has ``mode: eye-in-hand``): the
camera moves with the arm, so camera-frame grasps and clouds are placed with
the flange pose at their CAPTURE time, the message's ``header.stamp`` (the
detector stamps its grasps with its input's stamp). The node samples the arm's
flange pose ``flange_rate`` times a second into a ``flange_history`` s long
history and interpolates it at the stamp; a message stamped outside the
history is dropped (goal: refused) with the reason, never placed with the
pose at execution time.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import Trigger

from graspnet_ros.action import ExecuteGrasp
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes.conversions import msg_to_cloud, msg_to_grasp_group
from graspnet_ros.pose_history import PoseHistory
from graspnet_ros.robot.executor import ExecutorConfig, GraspExecutor, build_arm


class ExecutorNode(Node):
    def __init__(self, arm=None, config: ExecutorConfig | None = None, **kwargs) -> None:
        super().__init__("executor_node", **kwargs)
        path = self.declare_parameter("config_file", "", ParameterDescriptor(
            description="executor YAML (config/executor.yaml); empty = built-in defaults")).value
        grasps_topic = self.declare_parameter("grasps_topic", "grasps").value
        cloud_topic = self.declare_parameter("cloud_topic", "camera/depth/color/points", ParameterDescriptor(
            description="PointCloud2 for the clearance check (default: what camera_node publishes)")).value
        rate = self.declare_parameter("flange_rate", 50.0, ParameterDescriptor(
            description="eye-in-hand: flange pose samples per second (Hz)")).value
        span = self.declare_parameter("flange_history", 10.0, ParameterDescriptor(
            description="eye-in-hand: seconds of flange poses kept for capture-time lookups")).value
        cfg = config or (ExecutorConfig.load(path) if path else ExecutorConfig())
        self.grasp_executor = GraspExecutor(arm if arm is not None else build_arm(cfg.robot), cfg)
        #: eye-in-hand: T_base<-flange sampled from the arm, by node-clock time (s); None otherwise
        self.flange_history: PoseHistory | None = None
        if cfg.eye_in_hand:
            if not (rate > 0 and span > 0):
                raise ValueError(f"flange_rate ({rate} Hz) and flange_history ({span} s) must be > 0")
            self.flange_history = PoseHistory(span, tolerance=2.0 / rate, name="flange pose T_base<-flange")
            self._sample_flange()
            self.create_timer(1.0 / rate, self._sample_flange)
        #: (grasps, monotonic arrival time) of the latest valid GraspArray
        self.latest_grasps = None
        #: eye-in-hand: T_base<-flange when the latest grasps' frame was captured
        self._grasps_flange = None
        self._grasps_time = 0.0
        #: (points (M, 3) in the base frame, monotonic arrival time) of the latest valid cloud
        self.latest_cloud: tuple[np.ndarray, float] | None = None
        #: messages dropped per topic (bad content)
        self.dropped = {"grasps": 0, "cloud": 0}
        self._busy = threading.Lock()
        group = ReentrantCallbackGroup()
        self.create_subscription(GraspArray, grasps_topic, self._on_grasps, 1, callback_group=group)
        self.create_subscription(PointCloud2, cloud_topic, self._on_cloud, 1, callback_group=group)
        self.create_service(Trigger, "stop", self._on_stop, callback_group=group)
        self.create_service(Trigger, "reset", self._on_reset, callback_group=group)
        self._server = ActionServer(self, ExecuteGrasp, "execute_grasp", execute_callback=self._execute,
                                    goal_callback=self._on_goal, cancel_callback=self._on_cancel,
                                    callback_group=group)

    def _drop(self, topic: str, exc: Exception) -> None:
        self.dropped[topic] += 1
        self.get_logger().warning(f"dropped a bad message on '{topic}' ({self.dropped[topic]} so far): {exc}",
                                  throttle_duration_sec=1.0)

    def _sample_flange(self) -> None:
        """Record the arm's flange pose at the node clock's now (eye-in-hand)."""
        try:
            self.flange_history.add(self.get_clock().now().nanoseconds * 1e-9, self.grasp_executor.flange_pose())
        except Exception as exc:  # noqa: BLE001 - a failed read leaves a gap; lookups there are refused
            self.get_logger().warning(f"flange pose not read: {exc}", throttle_duration_sec=1.0)

    def capture_flange(self, frame_id: str, stamp) -> np.ndarray | None:
        """T_base<-flange when a message of ``frame_id`` stamped ``stamp`` (builtin_interfaces/Time)
        was captured: None unless the camera is eye-in-hand and the frame is a camera frame;
        ValueError when the history holds no pose for that time."""
        if self.flange_history is None or frame_id not in self.grasp_executor.config.camera_frames:
            return None
        t = stamp.sec + stamp.nanosec * 1e-9
        if t <= 0:
            raise ValueError(f"frame '{frame_id}' is eye-in-hand but the message has no stamp: its capture time "
                             "places the camera (stamp it when the frame is taken)")
        return self.flange_history.lookup(t)

    def _on_grasps(self, msg: GraspArray) -> None:
        try:
            grasps = msg_to_grasp_group(msg)
            flange = self.capture_flange(grasps.frame_id, msg.header.stamp)
            self.grasp_executor.base_from(grasps.frame_id, flange)  # refuse unknown frames at the door
        except Exception as exc:  # noqa: BLE001 - a bad message is dropped, the node stays up
            self._drop("grasps", exc)
            return
        self.latest_grasps, self._grasps_flange, self._grasps_time = grasps, flange, time.monotonic()

    def _on_cloud(self, msg: PointCloud2) -> None:
        try:
            flange = self.capture_flange(msg.header.frame_id, msg.header.stamp)
            points = self.grasp_executor.cloud_to_base(msg_to_cloud(msg)[0], msg.header.frame_id, flange)
        except Exception as exc:  # noqa: BLE001
            self._drop("cloud", exc)
            return
        self.latest_cloud = (points, time.monotonic())

    def _on_stop(self, request, response):
        error = self.grasp_executor.stop()
        response.success = True
        response.message = "stopped; call reset before the next grasp" + (
            f" (the driver's stop failed: {error}; no command is sent until reset)" if error else "")
        return response

    def _on_reset(self, request, response):
        try:
            self.grasp_executor.reset()
            response.success, response.message = True, "ready"
        except Exception as exc:  # noqa: BLE001 - driver errors are reported, not raised into rclpy
            response.success, response.message = False, f"{type(exc).__name__}: {exc}"
        return response

    def _on_goal(self, goal) -> GoalResponse:
        return GoalResponse.REJECT if self._busy.locked() else GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        self.grasp_executor.stop()
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle):
        result = ExecuteGrasp.Result()
        if not self._busy.acquire(blocking=False):
            result.reason = "refused: another goal is executing"
            goal_handle.abort()
            return result
        try:
            return self._run_goal(goal_handle, result)
        except Exception as exc:  # noqa: BLE001 - every goal ends with a result and a reason
            result.success = False
            result.reason = f"internal error: {type(exc).__name__}: {exc}"
            self.get_logger().error(result.reason)
            goal_handle.abort()
            return result
        finally:
            self._busy.release()

    def _refuse(self, goal_handle, result, reason: str):
        result.success, result.reason = False, reason
        goal_handle.abort()
        self.get_logger().info(f"grasp refused: {reason}")
        return result

    def _run_goal(self, goal_handle, result):
        goal = goal_handle.request
        limits = self.grasp_executor.config.inputs
        now = time.monotonic()
        if goal.use_best_of_latest:
            grasps, flange = self.latest_grasps, self._grasps_flange
            if grasps is None or len(grasps) == 0:
                return self._refuse(goal_handle, result, "refused: no GraspArray received yet on the grasps topic")
            age = now - self._grasps_time
            if age > limits.max_grasps_age:
                return self._refuse(goal_handle, result, f"refused: the latest GraspArray is {age:.1f} s old "
                                    f"(limit inputs.max_grasps_age = {limits.max_grasps_age:.1f} s)")
        else:
            try:
                grasps = msg_to_grasp_group(GraspArray(header=goal.header, grasps=[goal.grasp]))
            except Exception as exc:  # noqa: BLE001
                return self._refuse(goal_handle, result, f"refused: bad grasp in the goal: {exc}")
            try:
                flange = self.capture_flange(grasps.frame_id, goal.header.stamp)
            except ValueError as exc:
                return self._refuse(goal_handle, result, f"refused: {exc}")
        cloud = None
        if self.latest_cloud is not None:
            points, arrived = self.latest_cloud
            age = now - arrived
            if age > limits.max_cloud_age:
                return self._refuse(goal_handle, result, f"refused: the latest cloud is {age:.1f} s old, too old "
                                    f"for the clearance check (limit inputs.max_cloud_age = "
                                    f"{limits.max_cloud_age:.1f} s)")
            cloud = points

        def feedback(phase: str, progress: float) -> None:
            goal_handle.publish_feedback(ExecuteGrasp.Feedback(phase=phase, progress=float(progress)))

        out = self.grasp_executor.execute_best(grasps, cloud, feedback, T_base_flange=flange)
        result.success, result.measured_width = out.success, out.measured_width
        result.reason = out.reason or ("" if out.success else "failed without a reason (bug)")
        if goal_handle.is_cancel_requested:  # the executor stays stopped until reset
            result.reason = result.reason or "canceled"
            goal_handle.canceled()
        elif out.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        self.get_logger().info(f"grasp {'succeeded' if out.success else 'failed'}: {out.reason or 'lifted'}")
        return result


def main(args: list[str] | None = None) -> None:
    from .spin import spin_nodes

    spin_nodes([ExecutorNode], args)


if __name__ == "__main__":
    main()
