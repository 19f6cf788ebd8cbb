"""``main`` of every node executable: DDS kept on this machine by default, init, spin, clean shutdown."""

from __future__ import annotations

import os
from typing import Sequence

__all__ = ["spin_nodes", "ensure_loopback_default"]


def ensure_loopback_default() -> str:
    """Keep DDS on this machine unless the user chose otherwise; returns the range in force.

    Every node executable (``ros2 run``, launch files) and every
    ``graspnet-ros`` command calls this before ``rclpy.init``: without it any
    host on the ROS domain could send the executor goals. A user who sets
    ``ROS_AUTOMATIC_DISCOVERY_RANGE`` (e.g. ``SUBNET``) asks for the network
    explicitly; secure a shared network with SROS2 (``ROS_SECURITY_ENABLE``).
    """
    return os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


def spin_nodes(node_classes: Sequence[type], args: list[str] | None = None,
               multi_threaded: bool = True) -> None:
    """``main`` of a node executable: init, create the nodes, spin until Ctrl-C
    (one multi-threaded executor, or the single-threaded one ``rclpy.spin`` uses)."""
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor

    ensure_loopback_default()
    rclpy.init(args=args)
    nodes = []
    try:
        nodes = [cls() for cls in node_classes]
        executor = MultiThreadedExecutor() if multi_threaded else SingleThreadedExecutor()
        for n in nodes:
            executor.add_node(n)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        try:
            for n in nodes:
                n.destroy_node()
            rclpy.try_shutdown()
        except KeyboardInterrupt:  # a second Ctrl-C while shutting down: exit quietly
            rclpy.try_shutdown()
