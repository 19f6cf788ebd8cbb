"""The operator answering from elsewhere (the trial_node's ``confirm_trial`` service): what awaits
the operator is published as JSON and the session thread waits for the answer. ROS-free: the node
hands in its publisher and logger and forwards each service call to :meth:`RemoteOperator.answer`."""

from __future__ import annotations

import json
import threading
from typing import Callable, Protocol

__all__ = ["RemoteOperator"]


class Log(Protocol):
    """What the operator logs through (an rclpy logger or a ``logging.Logger``)."""

    def info(self, message: str) -> object: ...

    def warning(self, message: str) -> object: ...


class RemoteOperator:
    """A trials ``Confirm`` answered through a service (thread-safe).

    The session thread blocks in ``__call__`` until :meth:`answer` delivers a
    verdict or ``timeout`` s pass (then None: the proposal is kept). It is also
    the :class:`~graspnet_ros.trials.operator.SessionOperator` of real-arm
    sessions (``ready`` / ``ask`` wait for an answer without a timeout).
    ``publish`` gets each pending item as a JSON string.
    """

    def __init__(self, publish: Callable[[str], object], log: Log, timeout: float) -> None:
        self._publish, self._log, self.timeout = publish, log, float(timeout)
        self._lock = threading.Lock()
        self._answered = threading.Event()
        self._answer: bool | None = None
        self.pending: dict | None = None

    def _wait(self, payload: dict, timeout: float | None, line: str) -> bool | None:
        """Publish ``payload``, log ``line`` and wait for an answer (None: timeout)."""
        with self._lock:
            self.pending, self._answer = dict(payload), None
            self._answered.clear()
        self._publish(json.dumps(payload, default=str))
        self._log.info(f"{payload['key']}: {line}")
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
            self._log.warning(
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
        self._log.info(f"{key}: {question} -> {default} (objects_per_scene of the trials config)")
        return default

    def answer(self, data: bool) -> tuple[bool, str]:
        """The operator's answer to the pending item (True: success / done / yes): (accepted, message);
        not accepted when nothing is pending. An accepted answer is logged."""
        with self._lock:
            if self.pending is None:
                return False, "no trial is awaiting confirmation"
            self._answer = bool(data)
            key, kind = self.pending["key"], self.pending.get("kind", "verdict")
            self._answered.set()
        if kind == "verdict":
            message = f"{key}: operator verdict {'success' if data else 'failure'} recorded"
        else:
            message = f"{key}: operator answer {'yes' if data else 'no'} recorded"
        self._log.info(message)
        return True, message
