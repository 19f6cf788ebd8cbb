"""trial_node: runs a success-rate trials session and publishes every trial as it ends.

A thin adapter over :func:`graspnet_ros.trials.session.run_session`: the
simulated arm, or a real arm when the executor config's ``robot.driver`` is
ur_rtde or xarm (:mod:`graspnet_ros.trials.real_arm`). Parameters:
``config_file`` (trials YAML, empty = config defaults), ``protocol``
(score-bins | clear-table), ``trials``, ``out``, ``executor_config``,
``camera_config``, ``detector_config``, ``checkpoint`` (empty = the YAML's).
Topic out:
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

A real-arm session asks the operator more through the same pair: the
steps to do by hand (set up a scene, take the picked object out of the
gripper, place the object) and yes/no questions (is the table clear?) are
published on ``trial_proposal`` with ``kind`` ready / question and wait,
without a timeout, for ``confirm_trial`` (true = done / yes, false = no).
The number of objects per scene is the config's ``objects_per_scene``.
"""

from __future__ import annotations

import json
import threading

from rclpy.node import Node
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from graspnet_ros.trials.config import SessionConfig
from graspnet_ros.trials.session import run_session


class ServiceConfirm:
    """A trials ``Confirm`` answered through the ``confirm_trial`` service (thread-safe).

    The session thread blocks in ``__call__`` until the service delivers a
    verdict or ``timeout`` s pass (then None: the proposal is kept). It is also
    the :class:`~graspnet_ros.trials.operator.SessionOperator` of real-arm
    sessions (``ready`` / ``ask`` wait for the service without a timeout).
    """

    def __init__(self, node: Node, publisher, timeout: float) -> None:
        self._node, self._pub, self.timeout = node, publisher, float(timeout)
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._answer: bool | None = None
        self.pending: dict | None = None

    def _wait(self, payload: dict, timeout: float | None, line: str) -> bool | None:
        """Publish ``payload`` on trial_proposal, log ``line`` and wait for confirm_trial (None: timeout)."""
        with self._lock:
            self.pending, self._answer = dict(payload), None
            self._answered.clear()
        self._pub.publish(String(data=json.dumps(payload, default=str)))
        self._node.get_logger().info(f"{payload['key']}: {line}")
        self._answered.wait(timeout)
        with self._lock:  # an answer that raced the timeout still counts (the service said so)
            answer, self.pending = self._answer, None
        return answer

    def __call__(self, proposal: dict) -> bool | None:
        verdict = "SUCCESS" if proposal["proposed_success"] else "FAILURE"
        answer = self._wait(proposal, self.timeout,
                            f"gripper width {proposal['measured_width']:.4f} m after the lift "
                            f"(threshold {proposal['threshold']:.4f} m) -> proposed {verdict}; confirm with "
                            f"'ros2 service call confirm_trial std_srvs/srv/SetBool \"{{data: true}}\"' (true = "
                            f"success, false = failure) within {self.timeout:g} s")
        if answer is None:
            self._node.get_logger().warning(
                f"{proposal['key']}: no operator answer on confirm_trial within {self.timeout:g} s; "
                f"keeping the width-based proposal ({verdict}), logged as verdict 'timeout'")
            return None
        return answer

    # -- the rest of a SessionOperator (real-arm sessions, graspnet_ros.trials.real_arm) --
    def confirm(self, proposal: dict) -> bool | None:
        return self(proposal)

    def ready(self, key: str, message: str) -> None:
        self._wait({"key": key, "kind": "ready", "message": message}, None,
                   f"{message}; then call confirm_trial (std_srvs/srv/SetBool, any data)")

    def ask(self, key: str, question: str, default: bool) -> bool:
        answer = self._wait({"key": key, "kind": "question", "message": question, "default": default}, None,
                            f"{question} -- answer with confirm_trial (data: true = yes, false = no)")
        return default if answer is None else answer

    def count(self, key: str, question: str, default: int) -> int:
        self._node.get_logger().info(f"{key}: {question} -> {default} (objects_per_scene of the trials config)")
        return default

    def on_service(self, request, response):
        with self._lock:
            if self.pending is None:
                response.success = False
                response.message = "no trial is awaiting confirmation"
                return response
            self._answer = bool(request.data)
            key, kind = self.pending["key"], self.pending.get("kind", "verdict")
            self._answered.set()
        response.success = True
        if kind == "verdict":
            response.message = f"{key}: operator verdict {'success' if request.data else 'failure'} recorded"
        else:
            response.message = f"{key}: operator answer {'yes' if request.data else 'no'} recorded"
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
        files = {name: self.declare_parameter(name, "").value or None
                 for name in ("executor_config", "camera_config", "detector_config", "checkpoint")}
        self.config = SessionConfig.from_yaml(path or None, protocol=protocol or None, trials=trials or None,
                                              out=out or None, operator_confirm=True if operator else None,
                                              confirm_timeout=timeout or None, **files)
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
                                 confirm=self.confirm if self.config.operator_confirm else None,
                                 operator=self.confirm)
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
    from .spin import spin_nodes

    spin_nodes([TrialNode], args, multi_threaded=False)


if __name__ == "__main__":
    main()
