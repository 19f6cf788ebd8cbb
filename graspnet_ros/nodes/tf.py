"""Publishing (and, for lookups, listening to) transforms on ``/tf`` and ``/tf_static`` without tf2_ros.

The messages are ``tf2_msgs/msg/TFMessage``: from the ROS distribution on a
ROS install; in a pip environment from the vendored one-message package
``third_party/tf2_msgs`` that ``scripts/build_interfaces.sh`` builds into the
virtualenv (same definition, same type hash). QoS follows tf2_ros's
broadcasters: ``/tf_static`` is reliable + transient-local with depth 1 and
every static transform of the node re-sent in one message (late joiners get
the full set); ``/tf`` is reliable, volatile, depth 100.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

try:
    from tf2_msgs.msg import TFMessage
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "tf2_msgs is missing: on a ROS install `apt install ros-$ROS_DISTRO-tf2-msgs`; in a pip "
        "environment run `bash scripts/build_interfaces.sh .venv` (builds third_party/tf2_msgs)"
    ) from exc

__all__ = ["StaticTransformPublisher", "TransformPublisher", "TransformListener", "TFMessage", "STATIC_QOS",
           "DYNAMIC_QOS"]

STATIC_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL,
                        reliability=ReliabilityPolicy.RELIABLE)
DYNAMIC_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                         durability=DurabilityPolicy.VOLATILE, reliability=ReliabilityPolicy.RELIABLE)


class StaticTransformPublisher:
    """Latched static transforms on ``/tf_static`` (like tf2_ros.StaticTransformBroadcaster)."""

    def __init__(self, node: Node, topic: str = "/tf_static") -> None:
        self._pub = node.create_publisher(TFMessage, topic, STATIC_QOS)
        self._net: dict[str, TransformStamped] = {}

    def send(self, transforms: TransformStamped | Iterable[TransformStamped]) -> None:
        """Add or replace transforms (keyed by child frame) and publish the whole set."""
        if isinstance(transforms, TransformStamped):
            transforms = [transforms]
        for t in transforms:
            self._net[t.child_frame_id] = t
        self._pub.publish(TFMessage(transforms=list(self._net.values())))


class TransformPublisher:
    """Transforms on ``/tf`` (like tf2_ros.TransformBroadcaster)."""

    def __init__(self, node: Node, topic: str = "/tf") -> None:
        self._pub = node.create_publisher(TFMessage, topic, DYNAMIC_QOS)

    def send(self, transforms: TransformStamped | Iterable[TransformStamped]) -> None:
        if isinstance(transforms, TransformStamped):
            transforms = [transforms]
        self._pub.publish(TFMessage(transforms=list(transforms)))


class TransformListener:
    """Feeds ``/tf`` and ``/tf_static`` into a :class:`graspnet_ros.pose_history.TransformTree`
    (like tf2_ros.TransformListener + Buffer, for the lookups this package needs)."""

    def __init__(self, node: Node, span: float = 10.0) -> None:
        from ..pose_history import TransformTree
        from .conversions import stamp_to_seconds, transform_to_matrix

        self.tree = TransformTree(span)
        self._to_matrix, self._seconds = transform_to_matrix, stamp_to_seconds
        self._log = node.get_logger()
        node.create_subscription(TFMessage, "/tf", lambda m: self._on(m, False), DYNAMIC_QOS)
        node.create_subscription(TFMessage, "/tf_static", lambda m: self._on(m, True), STATIC_QOS)

    def _on(self, msg: TFMessage, static: bool) -> None:
        for t in msg.transforms:
            try:
                self.tree.set(t.header.frame_id, t.child_frame_id, self._seconds(t.header.stamp),
                              self._to_matrix(t.transform), static)
            except ValueError as exc:
                self._log.warning(f"ignored a transform on {'/tf_static' if static else '/tf'}: {exc}",
                                  throttle_duration_sec=1.0)

    def lookup(self, target: str, source: str, stamp: float) -> np.ndarray:
        """T_target<-source (4x4, m) at ``stamp`` s; ValueError naming what is missing."""
        return self.tree.lookup(target, source, stamp)
