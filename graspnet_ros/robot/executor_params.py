"""executor_node's parameter table (ROS-free: the node declares it; every grasp setting is in the
executor YAML that ``config_file`` names, :class:`~graspnet_ros.robot.executor.ExecutorConfig`).
Documented in docs/nodes.md."""

from __future__ import annotations

from ..params import Param

__all__ = ["NODE_NAME", "PARAMETERS"]

NODE_NAME = "executor_node"

PARAMETERS = [
    Param("config_file", "", "executor YAML (config/executor.yaml); empty = built-in defaults"),
    Param("grasps_topic", "grasps", "GraspArray topic whose latest message 'best of the latest' goals use"),
    Param("cloud_topic", "camera/depth/color/points",
          "PointCloud2 for the clearance check (default: what camera_node publishes)"),
    Param("flange_rate", 50.0, "eye-in-hand: flange pose samples per second (Hz)"),
    Param("flange_history", 10.0, "eye-in-hand: seconds of flange poses kept for capture-time lookups"),
]
