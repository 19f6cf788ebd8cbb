"""evaluate_bag: offline benchmark of a rosbag2 recording as a ROS 2 executable.

``ros2 run graspnet_ros evaluate_bag --ros-args -p bag:=BAG -p dataset_root:=ROOT``
reads its parameters, runs :func:`graspnet_ros.offline.evaluate_bag.evaluate_bag`
(the same detector code and YAML as grasp_detector_node, or a recorded
GraspArray topic with ``grasps_topic``), logs the AP table and exits
(status 0 when at least one frame was evaluated). The detector's parameter
file is ``detector_config`` (default: the package's grasp_detector_node.yaml).
"""

from __future__ import annotations

import sys

from rclpy.node import Node

from ..offline.evaluate_bag_params import PARAMETERS, options_from_parameters
from .params import declare_all

__all__ = ["EvaluateBagNode", "PARAMETERS", "main"]


class EvaluateBagNode(Node):
    """Declares the parameters; :meth:`run` does the work once."""

    def __init__(self, **kwargs) -> None:
        super().__init__("evaluate_bag", **kwargs)
        self.p = declare_all(self, PARAMETERS)

    def options(self):
        """EvaluateBagOptions of the parameters (see offline.evaluate_bag_params)."""
        return options_from_parameters(self.p)

    def run(self):
        """Evaluate the bag; returns the EvaluateBagReport."""
        from ..offline.evaluate_bag import evaluate_bag

        log = self.get_logger()
        report = evaluate_bag(self.options(), log=log.info)
        for line in report.table.splitlines():
            log.info(line)
        log.info(f"{report.num_frames} frames evaluated, {report.skipped.total} skipped "
                 f"{dict(report.skipped.counts)}; results in {report.paths.get('json')}")
        return report


def main(args: list[str] | None = None) -> int:
    import rclpy

    from .spin import ensure_loopback_default

    ensure_loopback_default()
    rclpy.init(args=args)
    node = None
    try:
        node = EvaluateBagNode()
        report = node.run()
        return 0 if report.num_frames else 1
    except (ValueError, FileNotFoundError) as exc:
        if node is not None:
            node.get_logger().error(str(exc))
        else:
            print(f"evaluate_bag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
