"""trial_node: runs a success-rate trials session and publishes every trial as it ends.

A thin adapter over :func:`graspnet_ros.trials.session.run_session`: the
simulated arm, or a real arm when the executor config's ``robot.driver`` is
ur_rtde or xarm (:mod:`graspnet_ros.trials.real_arm`). Parameters:
:data:`~graspnet_ros.trials.trial_params.PARAMETERS` (``config_file``:
trials YAML, empty = config defaults; ``protocol``, ``trials``, ``out``,
``executor_config``, ``camera_config``, ``detector_config``, ``checkpoint``:
empty = the YAML's). The operator's side: :class:`~graspnet_ros.trials.remote.RemoteOperator`.
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

from ..trials.remote import RemoteOperator
from ..trials.session import run_session
from ..trials.trial_params import PARAMETERS, session_config
from .params import declare_all

__all__ = ["TrialNode", "PARAMETERS"]


class TrialNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("trial_node", **kwargs)
        self.config = session_config(declare_all(self, PARAMETERS))
        self._pub = self.create_publisher(String, "trial_log", 10)
        self.create_service(Trigger, "status", self._on_status)
        proposals = self.create_publisher(String, "trial_proposal", 10)
        self.confirm = RemoteOperator(lambda text: proposals.publish(String(data=text)), self.get_logger(),
                                      self.config.confirm_timeout)
        self.create_service(SetBool, "confirm_trial", self._on_confirm)
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

    def _on_confirm(self, request, response):
        response.success, response.message = self.confirm.answer(request.data)
        return response

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
