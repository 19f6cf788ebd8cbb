"""grasp_detector_node's MoveIt side: the ``grasps_moveit`` topic (grasping_msgs/GraspableObject with
the ranked moveit_msgs/Grasp[]) and the ``plan_grasps`` action (grasping_msgs/action/GraspPlanning),
where those message packages are installed. Grasp postures, approach and retreat come from the
node's ``moveit.*`` parameters (see :func:`.conversions.grasps_to_moveit`)."""

from __future__ import annotations

from typing import Any

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Header

from ..grasp import GraspGroup
from ..tool_frame import ToolFrame
from . import conversions as cv

__all__ = ["MoveItGrasps"]

class MoveItGrasps:
    """The publisher and the action server of ``node``, a grasp_detector_node: its
    ``detect(msg)`` -> (grasps, header, error or '') runs a detection on an input message, its
    ``inputs.latest`` is the latest input message (or None)."""

    def __init__(self, node: Node, p: dict[str, Any], tool: ToolFrame) -> None:
        from grasping_msgs.action import GraspPlanning
        from grasping_msgs.msg import GraspableObject
        from rclpy.action import ActionServer

        self.node, self.p, self.tool = node, p, tool
        self.pub = node.create_publisher(GraspableObject, "grasps_moveit", 5)
        self.server = ActionServer(node, GraspPlanning, "plan_grasps", self._on_plan_grasps,
                                   callback_group=MutuallyExclusiveCallbackGroup())

    @classmethod
    def start(cls, node: Node, p: dict[str, Any], tool: ToolFrame) -> "MoveItGrasps | None":
        """The MoveIt side, or None (logged) where moveit_msgs / grasping_msgs are not installed."""
        try:
            from grasping_msgs.action import GraspPlanning  # noqa: F401
            from grasping_msgs.msg import GraspableObject  # noqa: F401
            from moveit_msgs.msg import Grasp  # noqa: F401 - the outputs' element type
        except ImportError as exc:
            node.get_logger().warning(f"moveit_msgs / grasping_msgs not installed ({exc.name}): running "
                                      "without grasps_moveit and plan_grasps")
            return None
        return cls(node, p, tool)

    def grasps(self, grasps: GraspGroup, header: Header) -> list:
        """The ranked grasps as moveit_msgs/Grasp (see conversions.grasps_to_moveit)."""
        p = self.p
        return cv.grasps_to_moveit(
            grasps, self.tool, header.stamp, finger_joints=list(p["moveit.finger_joints"]),
            open_width=p["moveit.open_width"], max_effort=p["moveit.max_effort"],
            approach_distance=p["moveit.approach_distance"], min_approach=p["moveit.min_approach"],
            retreat_distance=p["moveit.retreat_distance"], min_retreat=p["moveit.min_retreat"])

    def publish(self, grasps: GraspGroup, header: Header) -> None:
        from grasping_msgs.msg import GraspableObject, Object

        self.pub.publish(GraspableObject(object=Object(header=header), grasps=self.grasps(grasps, header)))

    def _on_plan_grasps(self, goal_handle):
        """grasping_msgs/GraspPlanning: grasps on the goal object's point_cluster, or on the latest
        input when it is empty; feedback carries the grasps once found, the result the same list."""
        from grasping_msgs.action import GraspPlanning

        cloud = goal_handle.request.object.point_cluster
        msg = cloud if cloud.width * cloud.height > 0 else self.node.inputs.latest
        if msg is None:
            self.node.get_logger().error("plan_grasps: empty point_cluster and no input received yet")
            goal_handle.abort()
            return GraspPlanning.Result()
        grasps, header, error = self.node.detect(msg)
        if error:
            goal_handle.abort()
            return GraspPlanning.Result()
        found = self.grasps(grasps, header)
        goal_handle.publish_feedback(GraspPlanning.Feedback(grasps=found))
        goal_handle.succeed()
        return GraspPlanning.Result(grasps=found)

    def destroy(self) -> None:
        self.server.destroy()
