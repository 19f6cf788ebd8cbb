"""executor_node: executes grasps with the arm through the ``execute_grasp`` action.

Action ``execute_grasp`` (graspnet_ros/action/ExecuteGrasp): a grasp in a
camera or base frame, or "best of the latest GraspArray"; feedback per phase
(pre_grasp, approach, close, lift, verify); result success / measured width /
reason. Goal status is SUCCEEDED when the object was picked, ABORTED when the
grasp was refused, failed or a driver error stopped it, CANCELED on cancel.

Topics in: ``grasps`` (graspnet_ros/GraspArray, the latest is kept),
``cloud`` (sensor_msgs/PointCloud2, x/y/z float32; the latest is used for the
pre-grasp clearance check). Services: ``stop``, ``reset`` (std_srvs/Trigger).
Parameters: ``config_file`` (executor YAML; empty = built-in defaults, the
simulator), ``grasps_topic``, ``cloud_topic``.
"""

from __future__ import annotations

import threading

import numpy as np
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rcl_interfaces.msg import ParameterDescriptor
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import Trigger

from graspnet_ros.action import ExecuteGrasp
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes.conversions import msg_to_cloud, msg_to_grasp_group
from graspnet_ros.robot.executor import ExecutorConfig, GraspExecutor, build_arm


class ExecutorNode(Node):
    def __init__(self, arm=None, config: ExecutorConfig | None = None, **kwargs) -> None:
        super().__init__("executor_node", **kwargs)
        path = self.declare_parameter("config_file", "", ParameterDescriptor(
            description="executor YAML (config/executor.yaml); empty = built-in defaults")).value
        grasps_topic = self.declare_parameter("grasps_topic", "grasps").value
        cloud_topic = self.declare_parameter("cloud_topic", "cloud").value
        cfg = config or (ExecutorConfig.load(path) if path else ExecutorConfig())
        self.grasp_executor = GraspExecutor(arm if arm is not None else build_arm(cfg.robot), cfg)
        self.latest_grasps = None
        self.latest_cloud: tuple[np.ndarray, str] | None = None
        self._busy = threading.Lock()
        group = ReentrantCallbackGroup()
        self.create_subscription(GraspArray, grasps_topic, self._on_grasps, 1, callback_group=group)
        self.create_subscription(PointCloud2, cloud_topic, self._on_cloud, 1, callback_group=group)
        self.create_service(Trigger, "stop", self._on_stop, callback_group=group)
        self.create_service(Trigger, "reset", self._on_reset, callback_group=group)
        self._server = ActionServer(self, ExecuteGrasp, "execute_grasp", execute_callback=self._execute,
                                    goal_callback=self._on_goal, cancel_callback=self._on_cancel,
                                    callback_group=group)

    def _on_grasps(self, msg: GraspArray) -> None:
        self.latest_grasps = msg_to_grasp_group(msg)

    def _on_cloud(self, msg: PointCloud2) -> None:
        self.latest_cloud = (msg_to_cloud(msg)[0].astype(np.float64), msg.header.frame_id)

    def _on_stop(self, request, response):
        self.grasp_executor.stop()
        response.success, response.message = True, "stopped; call reset before the next grasp"
        return response

    def _on_reset(self, request, response):
        try:
            self.grasp_executor.reset()
            response.success, response.message = True, "ready"
        except Exception as exc:  # driver errors are reported, not raised into rclpy
            response.success, response.message = False, f"{type(exc).__name__}: {exc}"
        return response

    def _on_goal(self, goal) -> GoalResponse:
        return GoalResponse.REJECT if self._busy.locked() else GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle) -> CancelResponse:
        self.grasp_executor.stop()
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle):
        with self._busy:
            goal = goal_handle.request
            result = ExecuteGrasp.Result()
            if goal.use_best_of_latest:
                grasps = self.latest_grasps
                if grasps is None or len(grasps) == 0:
                    result.reason = "refused: no GraspArray received yet on the grasps topic"
                    goal_handle.abort()
                    return result
            else:
                grasps = msg_to_grasp_group(GraspArray(header=goal.header, grasps=[goal.grasp]))
            cloud = None
            if self.latest_cloud is not None:
                try:
                    cloud = self.grasp_executor.cloud_to_base(*self.latest_cloud)
                except ValueError as exc:
                    result.reason = f"refused: cannot place the latest cloud in the base frame: {exc}"
                    goal_handle.abort()
                    return result

            def feedback(phase: str, progress: float) -> None:
                goal_handle.publish_feedback(ExecuteGrasp.Feedback(phase=phase, progress=float(progress)))

            out = self.grasp_executor.execute_best(grasps, cloud, feedback)
            result.success, result.measured_width, result.reason = out.success, out.measured_width, out.reason
            if goal_handle.is_cancel_requested:  # the executor stays stopped until reset
                goal_handle.canceled()
            elif out.success:
                goal_handle.succeed()
            else:
                goal_handle.abort()
            self.get_logger().info(f"grasp {'succeeded' if out.success else 'failed'}: {out.reason or 'lifted'}")
            return result


def main(args: list[str] | None = None) -> None:
    from .launcher import spin_nodes

    spin_nodes([ExecutorNode], args)


if __name__ == "__main__":
    main()
