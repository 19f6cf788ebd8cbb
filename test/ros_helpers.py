"""Small helpers for rclpy tests: a Context with an executor spinning in a daemon thread."""

from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Any, Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter


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
