"""grasp_detector_node's inputs and outputs: the input subscriptions (a PointCloud2, or a depth
Image + its CameraInfo) and the messages of one detection (GraspArray, best-grasp PoseStamped,
MarkerArray, and the MoveIt outputs where installed).

QoS (parameter ``input_qos``): keep-last 1 (latest frame wins also at the DDS level), volatile,
with reliability best effort (``sensor_data``: matches any publisher), reliable (``reliable``:
reliable publishers only) or ``auto``: reliable until a best-effort publisher appears on an input
topic, then best effort (checked once a second).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from geometry_msgs.msg import PoseStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ..cameras.geometry import depth_to_points
from ..detection.latest import LatestSlot
from ..grasp import GraspGroup
from ..msg import GraspArray
from ..tool_frame import ToolFrame, grasp_to_tool_poses
from . import conversions as cv
from .markers import grasp_markers

__all__ = ["INPUT_QOS", "input_qos", "DetectorInputs", "DetectionOutputs"]

INPUT_QOS = {"auto": None, "sensor_data": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}


def input_qos(reliability: ReliabilityPolicy) -> QoSProfile:
    """QoS of the input subscriptions: keep-last 1 (latest frame wins also at the DDS level),
    volatile, with ``reliability``. Best effort (sensor-data QoS) matches reliable and
    best-effort publishers; reliable matches reliable publishers only."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


class DetectorInputs:
    """The node's input subscriptions (parameters ``input``, ``*_topic``, ``input_qos``), the latest
    input message (``latest``, also dropped into the one-element ``slot`` the worker takes from) and
    the latest CameraInfo; ``received()`` is called on every input message."""

    def __init__(self, node: Node, p: dict[str, Any], received: Callable[[], None]) -> None:
        self.node, self.p, self.received = node, p, received
        self.slot: LatestSlot = LatestSlot()
        self.latest: PointCloud2 | Image | None = None
        self.camera_info: CameraInfo | None = None
        self._subs: list = []
        self.reliability = INPUT_QOS[p["input_qos"]] or ReliabilityPolicy.RELIABLE
        self.subscribe(self.reliability)
        if p["input_qos"] == "auto":  # follow the publishers' reliability (see adapt)
            node.create_timer(1.0, self.adapt)

    def _on_input(self, msg: PointCloud2 | Image) -> None:
        self.received()
        self.latest = msg
        self.slot.put(msg)

    def _on_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def points(self, msg: PointCloud2 | Image) -> tuple[np.ndarray, Header]:
        """Points (H, W, 3) as stored, NaN kept (metres, in msg.header.frame_id) of a cloud or
        depth message (every ``depth_stride``-th pixel); ValueError if the message is malformed."""
        if isinstance(msg, PointCloud2):
            return cv.msg_to_cloud(msg, organised=True)[0], msg.header
        if self.camera_info is None:
            raise ValueError(f"no CameraInfo received on {self.p['camera_info_topic']} yet")
        intr, s = cv.camera_info_to_intrinsics(self.camera_info), int(self.p["depth_stride"])
        return depth_to_points(cv.msg_to_depth(msg), intr)[::s, ::s], msg.header

    @property
    def topics(self) -> list[str]:
        """The input topics as given (unresolved): the cloud's, or the depth image's and its CameraInfo's."""
        p = self.p
        return [p["cloud_topic"]] if p["input"] == "cloud" else [p["depth_topic"], p["camera_info_topic"]]

    def subscribe(self, reliability: ReliabilityPolicy) -> None:
        node, p, qos = self.node, self.p, input_qos(reliability)
        for sub in self._subs:
            node.destroy_subscription(sub)
        if p["input"] == "cloud":
            self._subs = [node.create_subscription(PointCloud2, p["cloud_topic"], self._on_input, qos)]
        else:
            self._subs = [node.create_subscription(Image, p["depth_topic"], self._on_input, qos),
                          node.create_subscription(CameraInfo, p["camera_info_topic"], self._on_info, qos)]
        self.reliability = reliability

    def adapt(self) -> None:
        """input_qos 'auto': best effort once a best-effort publisher is on an input topic,
        reliable while all publishers are reliable. (A best-effort reader also matches reliable
        writers, but Fast DDS then drops every message larger than its shared-memory segment,
        about 0.5 MB, between processes: a full-resolution cloud never arrives.)"""
        node = self.node
        infos = [i for t in self.topics for i in node.get_publishers_info_by_topic(node.resolve_topic_name(t))]
        if not infos:
            return
        want = (ReliabilityPolicy.BEST_EFFORT
                if any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
                else ReliabilityPolicy.RELIABLE)
        if want != self.reliability:
            node.get_logger().info(f"input QoS -> {want.name.lower()} (publishers on {', '.join(self.topics)})")
            self.subscribe(want)


class DetectionOutputs:
    """The publishers of ``grasps`` (all, best first, in the input's frame), ``best_grasp`` (the best
    in the ``tool`` convention) and ``grasp_markers`` (the first ``markers.max``), plus ``moveit``
    (an object with ``publish(grasps, header)``: the MoveIt outputs) when given."""

    def __init__(self, node: Node, p: dict[str, Any], tool: ToolFrame) -> None:
        self.p, self.tool, self.moveit = p, tool, None
        self.pub_grasps = node.create_publisher(GraspArray, "grasps", 5)
        self.pub_best = node.create_publisher(PoseStamped, "best_grasp", 5)
        self.pub_markers = node.create_publisher(MarkerArray, "grasp_markers", 5)

    def publish(self, grasps: GraspGroup, header: Header) -> None:
        self.pub_grasps.publish(cv.grasp_group_to_msg(grasps, header.stamp))
        if len(grasps):
            T = grasp_to_tool_poses(grasps[:1], self.tool)[0]
            self.pub_best.publish(cv.matrix_to_pose_stamped(T, grasps.frame_id, header.stamp))
        if self.moveit is not None:
            self.moveit.publish(grasps, header)
        self.pub_markers.publish(grasp_markers(grasps[: self.p["markers.max"]], header, self.p["markers.line_width"]))
