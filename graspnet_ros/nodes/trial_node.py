"""trial_node: runs a success-rate trials session and publishes every trial as it ends.

A thin adapter over :func:`graspnet_ros.robot.trials.run_session` (simulated
arm). Parameters: ``config_file`` (trials YAML, empty = config defaults),
``protocol`` (score-bins | clear-table), ``trials``, ``out``. Topic out:
``trial_log`` (std_msgs/String, one JSON record per trial, the same lines as
OUT/trials.jsonl). Service ``status`` (std_srvs/Trigger): progress or the
final summary table. The node keeps running after the session so the
summary stays available.
"""

from __future__ import annotations

import json
import threading

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import Trigger

from graspnet_ros.robot.trials import SessionConfig, run_session


class TrialNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("trial_node", **kwargs)
        path = self.declare_parameter("config_file", "").value
        protocol = self.declare_parameter("protocol", "").value
        trials = self.declare_parameter("trials", 0).value
        out = self.declare_parameter("out", "").value
        self.config = SessionConfig.from_yaml(path or None, protocol=protocol or None, trials=trials or None,
                                              out=out or None)
        self._pub = self.create_publisher(String, "trial_log", 10)
        self.create_service(Trigger, "status", self._on_status)
        self.done = 0
        self.summary = ""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _publish(self, record: dict) -> None:
        self.done += 1
        self._pub.publish(String(data=json.dumps(record, default=str)))

    def _run(self) -> None:
        try:
            report = run_session(self.config, progress=self._publish)
            self.summary = report.table
            self.get_logger().info("trials finished\n" + report.table)
        except Exception as exc:  # report, do not kill the node
            self.summary = f"session failed: {type(exc).__name__}: {exc}"
            self.get_logger().error(self.summary)

    def _on_status(self, request, response):
        response.success = bool(self.summary)
        response.message = self.summary or f"running: {self.done} trials done"
        return response


def main(args=None) -> None:
    rclpy.init(args=args)
    node = TrialNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
