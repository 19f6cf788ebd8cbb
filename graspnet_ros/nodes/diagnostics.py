"""``/diagnostics`` (diagnostic_msgs/DiagnosticArray) for the package's nodes.

Each node owns one :class:`Diagnostics`: it counts events (frames in, frames
out, frames dropped) and latencies, and a 1 Hz timer publishes one
DiagnosticStatus named ``<node name>: <what>`` with the rate over the last
period (Hz), the last and mean latency (ms), the drop count and the node's own
state values (device state, input topic, ...), at the level the node's
``level`` callback gives (OK / WARN / ERROR with a message).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

__all__ = ["Diagnostics", "LEVELS", "OK", "WARN", "ERROR"]

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR
#: the core's level names (ok | warn | error) as DiagnosticStatus levels
LEVELS = {"ok": OK, "warn": WARN, "error": ERROR}

#: () -> (level: a DiagnosticStatus level or ok | warn | error, message, extra key/values)
StatusFn = Callable[[], tuple[bytes | str, str, dict[str, object]]]


class Diagnostics:
    """Counters + a periodic DiagnosticArray publisher on ``/diagnostics``."""

    def __init__(self, node: Node, what: str, status: StatusFn, period: float = 1.0,
                 hardware_id: str = "") -> None:
        self.node, self.what, self.status, self.hardware_id = node, what, status, hardware_id
        self._lock = threading.Lock()
        self.count = 0  # events (frames published / processed) since start
        self.dropped = 0
        self.latencies: list[float] = []  # s, since the last publication
        self._last_count = 0
        self._last_time = time.monotonic()
        self.last_latency = float("nan")
        self.pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.timer = node.create_timer(period, self.publish)

    def tick(self, latency: float | None = None) -> None:
        """One event (a frame published or processed), with its latency in seconds."""
        with self._lock:
            self.count += 1
            if latency is not None:
                self.latencies.append(float(latency))
                self.last_latency = float(latency)

    def status_msg(self) -> DiagnosticStatus:
        now = time.monotonic()
        with self._lock:
            rate = (self.count - self._last_count) / max(now - self._last_time, 1e-6)
            self._last_count, self._last_time = self.count, now
            lat, self.latencies = self.latencies, []
            count, last = self.count, self.last_latency
        level, message, extra = self.status()
        level = LEVELS[level] if isinstance(level, str) else level
        values = {"rate_hz": f"{rate:.2f}", "frames": count, "frames_dropped": self.dropped,
                  "latency_ms": f"{last * 1000:.1f}",
                  "latency_mean_ms": f"{(sum(lat) / len(lat)) * 1000:.1f}" if lat else "nan", **extra}
        return DiagnosticStatus(level=level, name=f"{self.node.get_name()}: {self.what}", message=message,
                                hardware_id=self.hardware_id,
                                values=[KeyValue(key=k, value=str(v)) for k, v in values.items()])

    def publish(self) -> None:
        msg = DiagnosticArray(status=[self.status_msg()])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.pub.publish(msg)
