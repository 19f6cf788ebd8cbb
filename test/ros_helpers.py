"""Small helpers for rclpy tests: a Context with an executor spinning in a daemon thread."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any, Callable

import rclpy
from rclpy.action import ActionClient
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter


class SafeActionClient(ActionClient):
    """rclpy's ActionClient for a node that is already spinning: rclpy 9.x adds the client to the node's
    waitables before it creates the client's lock, so an executor thread that looks at it in between dies
    with "'ActionClient' object has no attribute '_lock'" (seen in CI). The lock exists from the start here."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)


class RosHarness:
    """One Context + MultiThreadedExecutor in a daemon thread; nodes added on the fly.

    ``listen(type, topic)`` records every message of a topic in a list.
    """

    def __init__(self) -> None:
        self.ctx = Context()
        rclpy.init(context=self.ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
        self.node = Node(f"test_listener_{uuid.uuid4().hex[:8]}", context=self.ctx)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.ctx)
        self.executor.add_node(self.node)
        self.nodes: list[Node] = [self.node]
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def add(self, node: Node) -> Node:
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def params(self, **values: Any) -> list[Parameter]:
        """parameter_overrides from keyword arguments (``__`` stands for ``.``)."""
        return [Parameter(k.replace("__", "."), value=v) for k, v in values.items()]

    def listen(self, msg_type, topic: str, qos=10) -> list:
        received: list = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5.0)
        for n in reversed(self.nodes):
            n.destroy_node()
        rclpy.try_shutdown(context=self.ctx)
        self._thread.join(timeout=5.0)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, period: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return predicate()


def require_ros_cli() -> str:
    """Path of the ``ros2`` command (with ``launch``, ``run`` and ``launch_ros``), else fail when
    GRASPNET_REQUIRE_ROS_CLI=1 (CI, .ci/run) or skip, saying what is missing."""
    import importlib.util
    import shutil
    import sys
    from pathlib import Path

    exe = shutil.which("ros2") or str(Path(sys.executable).with_name("ros2"))
    missing = [m for m in ("launch_ros", "ros2launch", "ros2run") if importlib.util.find_spec(m) is None]
    if Path(exe).is_file() and not missing:
        return exe
    import pytest

    message = ("the ROS 2 command-line tools are not installed (" + ", ".join(missing or ["ros2"]) +
               "): source a ROS 2 install, or set GRASPNET_ROS2_UPSTREAM to the upstream sources "
               "(../shared/ros2-upstream) before scripts/setup.sh")
    if os.environ.get("GRASPNET_REQUIRE_ROS_CLI") == "1":
        pytest.fail(message + " and GRASPNET_REQUIRE_ROS_CLI=1 requires them")
    pytest.skip(message)


def interruptible() -> None:
    """``preexec_fn`` of a child that the test stops with SIGINT, as a terminal's Ctrl-C would: the
    default SIGINT action, even when the test run itself was started in the background by a
    non-interactive shell (which ignores SIGINT, and an ignored signal stays ignored across exec)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def ros_cli_env(**extra: str) -> dict[str, str]:
    """The environment of a shell where the user typed ``ros2 ...``: this venv first on PATH,
    its prefix on AMENT_PREFIX_PATH, the session's domain / LOCALHOST discovery / log dir."""
    import sys
    from pathlib import Path

    env = dict(os.environ)
    env.pop("_ROS_WHEELS_BOOTSTRAP_COMPLETE", None)
    venv = str(Path(sys.executable).parent.parent)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "/usr/bin:/bin")])
    if venv not in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        env["AMENT_PREFIX_PATH"] = os.pathsep.join(p for p in (venv, env.get("AMENT_PREFIX_PATH")) if p)
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    env.update(extra)
    return env
