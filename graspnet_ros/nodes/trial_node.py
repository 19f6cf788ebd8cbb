"""trial_node: runs a success-rate trials session and publishes every trial as it ends.

A thin adapter over :func:`graspnet_ros.robot.trials.run_session` (simulated
arm). Parameters: ``config_file`` (trials YAML, empty = config defaults),
``protocol`` (score-bins | clear-table), ``trials``, ``out``. Topic out:
``trial_log`` (std_msgs/String, one JSON record per trial, the same lines as
OUT/trials.jsonl). Service ``status`` (std_srvs/Trigger): progress or the
final summary table. The node keeps running after the session so the
summary stays available.

Real-arm outcome path (parameter ``operator_confirm`` true, or the YAML key):
after each lift the gripper-width proposal is published on
``trial_proposal`` (std_msgs/String, JSON) and logged; the operator answers
with the service ``confirm_trial`` (std_srvs/SetBool: data=true success,
false failure). Without an answer within ``confirm_timeout`` s the
width-based proposal is kept and the record says ``verdict: timeout``.
"""

from __future__ import annotations

import json
import threading

from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from graspnet_ros.robot.trials import SessionConfig, run_session


class ServiceConfirm:
    """A trials ``Confirm`` answered through the ``confirm_trial`` service (thread-safe).

    The session thread blocks in ``__call__`` until the service delivers a
    verdict or ``timeout`` s pass (then None: the proposal is kept).
    """

    def __init__(self, node: Node, publisher, timeout: float) -> None:
        self._node, self._pub, self.timeout = node, publisher, float(timeout)
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._answer: bool | None = None
        self.pending: dict | None = None

    def __call__(self, proposal: dict) -> bool | None:
        with self._lock:
            self.pending, self._answer = dict(proposal), None
            self._answered.clear()
        self._pub.publish(String(data=json.dumps(proposal, default=str)))
        verdict = "SUCCESS" if proposal["proposed_success"] else "FAILURE"
        self._node.get_logger().info(
            f"{proposal['key']}: gripper width {proposal['measured_width']:.4f} m after the lift "
            f"(threshold {proposal['threshold']:.4f} m) -> proposed {verdict}; confirm with "
            f"'ros2 service call confirm_trial std_srvs/srv/SetBool \"{{data: true}}\"' (true = success, "
            f"false = failure) within {self.timeout:g} s")
        self._answered.wait(self.timeout)
        with self._lock:  # an answer that raced the timeout still counts (the service said so)
            answer, self.pending = self._answer, None
        if answer is None:
            self._node.get_logger().warning(
                f"{proposal['key']}: no operator answer on confirm_trial within {self.timeout:g} s; "
                f"keeping the width-based proposal ({verdict}), logged as verdict 'timeout'")
            return None
        return answer

    def on_service(self, request, response):
        with self._lock:
            if self.pending is None:
                response.success = False
                response.message = "no trial is awaiting confirmation"
                return response
            self._answer = bool(request.data)
            key = self.pending["key"]
            self._answered.set()
        response.success = True
        response.message = f"{key}: operator verdict {'success' if request.data else 'failure'} recorded"
        self._node.get_logger().info(response.message)
        return response


class TrialNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("trial_node", **kwargs)
        path = self.declare_parameter("config_file", "").value
        protocol = self.declare_parameter("protocol", "").value
        trials = self.declare_parameter("trials", 0).value
        out = self.declare_parameter("out", "").value
        operator = self.declare_parameter("operator_confirm", False).value
        timeout = self.declare_parameter("confirm_timeout", 0.0).value
        self.config = SessionConfig.from_yaml(path or None, protocol=protocol or None, trials=trials or None,
                                              out=out or None, operator_confirm=True if operator else None,
                                              confirm_timeout=timeout or None)
        self._pub = self.create_publisher(String, "trial_log", 10)
        self.create_service(Trigger, "status", self._on_status)
        self.confirm = ServiceConfirm(self, self.create_publisher(String, "trial_proposal", 10),
                                      self.config.confirm_timeout)
        self.create_service(SetBool, "confirm_trial", self.confirm.on_service)
        self.done = 0
        self.summary = ""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _publish(self, record: dict) -> None:
        self.done += 1
        self._pub.publish(String(data=json.dumps(record, default=str)))

    def _run(self) -> None:
        try:
            report = run_session(self.config, progress=self._publish,
                                 confirm=self.confirm if self.config.operator_confirm else None)
            self.summary = report.table
            self.get_logger().info("trials finished\n" + report.table)
        except Exception as exc:  # report, do not kill the node
            self.summary = f"session failed: {type(exc).__name__}: {exc}"
            self.get_logger().error(self.summary)

    def _on_status(self, request, response):
        response.success = bool(self.summary)
        pending = self.confirm.pending
        response.message = self.summary or f"running: {self.done} trials done" + (
            f"; {pending['key']} awaits confirm_trial" if pending else "")
        return response


def main(args: list[str] | None = None) -> None:
    from .launcher import spin_nodes

    spin_nodes([TrialNode], args, multi_threaded=False)


if __name__ == "__main__":
    main()
