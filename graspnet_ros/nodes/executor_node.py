"""executor_node: executes grasps with the arm through the ``execute_grasp`` action.

Action ``execute_grasp`` (graspnet_ros/action/ExecuteGrasp): a grasp in a camera or base frame,
or "best of the latest GraspArray"; feedback per phase (pre_grasp, approach, close, lift, verify);
result success / measured width / reason. SUCCEEDED when the object was picked, ABORTED when the
grasp was refused, failed or a driver error stopped it, CANCELED on cancel; every accepted goal
ends with a result, every failure with a reason. Services ``stop`` (never blocks) and ``reset``
(std_srvs/Trigger). Parameters: :data:`~graspnet_ros.robot.executor_params.PARAMETERS`.

Topics in: ``grasps`` (graspnet_ros/GraspArray, the latest is kept) and
``camera/depth/color/points`` (sensor_msgs/PointCloud2, the latest is used for the pre-grasp
clearance check); a message that does not convert or cannot be placed is logged with its reason
and dropped. What a goal may use, the age limits (``inputs.max_cloud_age``,
``inputs.max_grasps_age``) and their refusals: :class:`~graspnet_ros.robot.goal_inputs.GoalInputs`.
Eye-in-hand (the calibration file's ``mode: eye-in-hand``), camera-frame grasps and clouds are
placed with the flange pose at their capture time, ``header.stamp``, interpolated in a
``flange_history`` s history sampled ``flange_rate`` times a second
(:class:`~graspnet_ros.pose_history.CaptureFlange`); never with the pose at execution time.
Details: docs/nodes.md.
"""

from __future__ import annotations

import threading
import time

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import Trigger

from ..action import ExecuteGrasp
from ..msg import GraspArray
from ..pose_history import CaptureFlange
from ..robot.executor import ExecutorConfig, GraspExecutor, build_arm
from ..robot.executor_params import PARAMETERS
from ..robot.goal_inputs import GoalInputs, Refused
from .conversions import msg_to_cloud, msg_to_grasp_group, stamp_to_seconds
from .params import declare_all

__all__ = ["ExecutorNode", "PARAMETERS"]


class ExecutorNode(Node):
    def __init__(self, arm=None, config: ExecutorConfig | None = None, **kwargs) -> None:
        super().__init__("executor_node", **kwargs)
        p = declare_all(self, PARAMETERS)
        cfg = config or (ExecutorConfig.load(p["config_file"]) if p["config_file"] else ExecutorConfig())
        self.grasp_executor = GraspExecutor(arm if arm is not None else build_arm(cfg.robot), cfg)
        #: the latest grasps and cloud; eye-in-hand, the flange poses by node-clock time (s)
        self.inputs = GoalInputs(self.grasp_executor, CaptureFlange(p["flange_rate"], p["flange_history"],
                                                                    cfg.camera_frames) if cfg.eye_in_hand else None)
        if self.inputs.flange_history is not None:
            self._sample_flange()
            self.create_timer(self.inputs.flange_history.period, self._sample_flange)
        #: messages dropped per topic (bad content)
        self.dropped = {"grasps": 0, "cloud": 0}
        self._busy = threading.Lock()
        group = ReentrantCallbackGroup()
        self.create_subscription(GraspArray, p["grasps_topic"], self._on_grasps, 1, callback_group=group)
        self.create_subscription(PointCloud2, p["cloud_topic"], self._on_cloud, 1, callback_group=group)
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
            self.inputs.sample_flange(self.get_clock().now().nanoseconds * 1e-9)
        except Exception as exc:  # noqa: BLE001 - a failed read leaves a gap; lookups there are refused
            self.get_logger().warning(f"flange pose not read: {exc}", throttle_duration_sec=1.0)

    def _on_grasps(self, msg: GraspArray) -> None:
        try:
            self.inputs.add_grasps(msg_to_grasp_group(msg), stamp_to_seconds(msg.header.stamp))
        except Exception as exc:  # noqa: BLE001 - a bad message is dropped, the node stays up
            self._drop("grasps", exc)

    def _on_cloud(self, msg: PointCloud2) -> None:
        try:
            self.inputs.add_cloud(msg_to_cloud(msg)[0], msg.header.frame_id, stamp_to_seconds(msg.header.stamp))
        except Exception as exc:  # noqa: BLE001
            self._drop("cloud", exc)

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
        except Refused as exc:
            result.success, result.reason = False, str(exc)
            goal_handle.abort()
            self.get_logger().info(f"grasp refused: {exc}")
            return result
        except Exception as exc:  # noqa: BLE001 - every goal ends with a result and a reason
            result.success = False
            result.reason = f"internal error: {type(exc).__name__}: {exc}"
            self.get_logger().error(result.reason)
            goal_handle.abort()
            return result
        finally:
            self._busy.release()

    def _run_goal(self, goal_handle, result):
        goal, own = goal_handle.request, None
        if not goal.use_best_of_latest:
            try:
                own = msg_to_grasp_group(GraspArray(header=goal.header, grasps=[goal.grasp]))
            except Exception as exc:  # noqa: BLE001
                raise Refused(f"refused: bad grasp in the goal: {exc}") from None
        grasps, flange, cloud = self.inputs.for_goal(own, stamp_to_seconds(goal.header.stamp), time.monotonic())

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
