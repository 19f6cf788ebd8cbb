"""grasp_detector_node: live grasp detection on a point cloud (or depth + CameraInfo).

Subscribes ``camera/depth/color/points`` (PointCloud2) or, with
``input: depth``, ``camera/aligned_depth_to_color/image_raw`` +
``camera/aligned_depth_to_color/camera_info``; topic names are parameters and
can also be remapped (driver conventions: ``graspnet_ros.cameras.ros_drivers``).

Publishes ``grasps`` (graspnet_ros/GraspArray, best first, in the input's
frame), ``best_grasp`` (PoseStamped of the best grasp in the configured tool
frame convention) and ``grasp_markers`` (MarkerArray); serves
``detect_grasps`` (graspnet_ros/DetectGrasps). Where moveit_msgs and
grasping_msgs are installed it also publishes ``grasps_moveit``
(grasping_msgs/GraspableObject: the ranked moveit_msgs/Grasp[]) and serves the
``plan_grasps`` action (grasping_msgs/action/GraspPlanning). Diagnostics (rate,
latency, frames dropped, input state) go to ``/diagnostics`` once a second.

Multi-view fusion (``fusion.views`` > 1, for a camera on the arm): every input
message is placed by TF (``fusion.fixed_frame`` <- its frame, at its stamp)
and the detection runs on the last n clouds merged in the NEWEST cloud's frame
(:mod:`graspnet_ros.detection.accumulate`); grasps keep that frame and stamp.
The ``detect_grasps`` service and the ``plan_grasps`` action detect on their
one cloud unfused.

Latest-frame-wins: the subscription callback only drops the message into a
one-element slot; a worker thread processes the newest message when it is
free, so a slow detector skips frames instead of queueing them. Bad input is
logged and answered with an empty GraspArray; the node stays up.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ..cameras.geometry import depth_to_points
from ..grasp import GraspGroup
from ..msg import GraspArray
from ..detection.detector_params import PARAMETERS, build_pipeline
from ..detection.latest import LatestSlot
from ..detection.runner import DetectionResult
from ..srv import DetectGrasps
from ..tool_frame import ToolFrame, grasp_to_tool_poses
from . import conversions as cv
from .diagnostics import ERROR, OK, WARN, Diagnostics
from .markers import grasp_markers
from .params import declare_all

INPUT_QOS = {"auto": None, "sensor_data": ReliabilityPolicy.BEST_EFFORT, "reliable": ReliabilityPolicy.RELIABLE}


def input_qos(reliability: ReliabilityPolicy) -> QoSProfile:
    """QoS of the input subscriptions: keep-last 1 (latest frame wins also at the DDS level),
    volatile, with ``reliability``. Best effort (sensor-data QoS) matches reliable and
    best-effort publishers; reliable matches reliable publishers only."""
    return QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


class GraspDetectorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("grasp_detector_node", **kwargs)
        self.p = p = declare_all(self, PARAMETERS)
        if p["input"] not in ("cloud", "depth"):
            raise ValueError(f"parameter input='{p['input']}' must be cloud or depth")
        if p["input_qos"] not in INPUT_QOS:
            raise ValueError(f"parameter input_qos='{p['input_qos']}' must be one of {sorted(INPUT_QOS)}")
        self.tool = ToolFrame.from_config({"convention": p["tool_frame.convention"],
                                           "tcp_offset": p["tool_frame.tcp_offset"]})
        self.pipeline = build_pipeline(p)
        self.accumulator = self.tf_listener = None
        if p["fusion.views"] > 1:
            from ..detection.accumulate import ViewAccumulator
            from .tf import TransformListener

            self.accumulator = ViewAccumulator(p["fusion.views"], p["fusion.max_age"], p["voxel_size"])
            self.tf_listener = TransformListener(self, span=max(10.0, 2 * p["fusion.max_age"]))
        self._lock = threading.Lock()  # one detection at a time (worker or service)
        self.slot: LatestSlot = LatestSlot()
        self.latest_input: PointCloud2 | Image | None = None
        self.camera_info: CameraInfo | None = None
        self.processed = 0
        self.last_result: DetectionResult | None = None

        self.pub_grasps = self.create_publisher(GraspArray, "grasps", 5)
        self.pub_best = self.create_publisher(PoseStamped, "best_grasp", 5)
        self.pub_markers = self.create_publisher(MarkerArray, "grasp_markers", 5)
        self._subs: list = []
        self.input_reliability = INPUT_QOS[p["input_qos"]] or ReliabilityPolicy.RELIABLE
        self._subscribe_input(self.input_reliability)
        if p["input_qos"] == "auto":  # follow the publishers' reliability (see _adapt_qos)
            self.create_timer(1.0, self._adapt_qos)
        self.create_service(DetectGrasps, "detect_grasps", self._on_detect,
                            callback_group=MutuallyExclusiveCallbackGroup())
        self.pub_moveit = self._moveit_server = None
        if p["moveit.enabled"]:
            self._start_moveit()
        self._last_input = None  # time.monotonic() of the last input message
        self._last_error = ""
        self.diagnostics = Diagnostics(self, "detection", self._diagnostic_status)
        self._worker = threading.Thread(target=self._work, name="grasp_detector_worker", daemon=True)
        self._worker.start()
        topic = p["cloud_topic"] if p["input"] == "cloud" else p["depth_topic"]
        self.get_logger().info(f"detector '{self.pipeline.detector.name}' on {self.resolve_topic_name(topic)}")

    # -- input ---------------------------------------------------------------
    def _input_topics(self) -> list[str]:
        p = self.p
        return [p["cloud_topic"]] if p["input"] == "cloud" else [p["depth_topic"], p["camera_info_topic"]]

    def _subscribe_input(self, reliability: ReliabilityPolicy) -> None:
        for sub in self._subs:
            self.destroy_subscription(sub)
        qos = input_qos(reliability)
        p = self.p
        if p["input"] == "cloud":
            self._subs = [self.create_subscription(PointCloud2, p["cloud_topic"], self._on_input, qos)]
        else:
            self._subs = [self.create_subscription(Image, p["depth_topic"], self._on_input, qos),
                          self.create_subscription(CameraInfo, p["camera_info_topic"], self._on_info, qos)]
        self.input_reliability = reliability

    def _adapt_qos(self) -> None:
        """input_qos 'auto': best effort once a best-effort publisher is on an input topic,
        reliable while all publishers are reliable. (A best-effort reader also matches reliable
        writers, but Fast DDS then drops every message larger than its shared-memory segment,
        about 0.5 MB, between processes: a full-resolution cloud never arrives.)"""
        infos = [i for t in self._input_topics()
                 for i in self.get_publishers_info_by_topic(self.resolve_topic_name(t))]
        if not infos:
            return
        want = (ReliabilityPolicy.BEST_EFFORT
                if any(i.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for i in infos)
                else ReliabilityPolicy.RELIABLE)
        if want != self.input_reliability:
            self.get_logger().info(f"input QoS -> {want.name.lower()} (publishers on "
                                   f"{', '.join(self._input_topics())})")
            self._subscribe_input(want)

    def _on_input(self, msg) -> None:
        self._last_input = time.monotonic()
        self.latest_input = msg
        self.slot.put(msg)

    def _on_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def points_of(self, msg) -> tuple[np.ndarray, Header]:
        """Points (H, W, 3) as stored, NaN kept (metres, in msg.header.frame_id) of a cloud or
        depth message; ValueError if the message is malformed."""
        if isinstance(msg, PointCloud2):
            pts, _ = cv.msg_to_cloud(msg, organised=True)
            return pts, msg.header
        if self.camera_info is None:
            raise ValueError(f"no CameraInfo received on {self.p['camera_info_topic']} yet")
        intr = cv.camera_info_to_intrinsics(self.camera_info)
        depth = cv.msg_to_depth(msg)
        s = int(self.p["depth_stride"])
        return depth_to_points(depth, intr)[::s, ::s], msg.header

    def fuse(self, points: np.ndarray, header: Header) -> np.ndarray:
        """Add a cloud (its frame, m) to the multi-view accumulator; the last ``fusion.views``
        clouds in this cloud's frame. ValueError when TF has no pose of the frame at the stamp
        within ``fusion.tf_timeout`` s."""
        p = self.p
        stamp = cv.stamp_to_seconds(header.stamp)
        deadline = time.monotonic() + p["fusion.tf_timeout"]
        while True:
            try:
                T = self.tf_listener.lookup(p["fusion.fixed_frame"], header.frame_id, stamp)
                break
            except ValueError as exc:
                if time.monotonic() >= deadline:
                    raise ValueError(f"multi-view fusion needs the camera pose: {exc}") from None
                time.sleep(0.02)
        self.accumulator.add(points, T, stamp)
        fused, _ = self.accumulator.fused()
        return fused

    # -- processing ------------------------------------------------------------
    def detect(self, msg, max_grasps: int = 0, fuse: bool = False) -> tuple[GraspGroup, Header, str]:
        """Run the pipeline on one message: (grasps, header, error message or ''). fuse: add it to
        the multi-view accumulator and detect on the fused views (when ``fusion.views`` > 1)."""
        header = msg.header
        t0 = time.perf_counter()
        try:
            points, header = self.points_of(msg)
            if fuse and self.accumulator is not None:
                points = self.fuse(points, header)
            with self._lock:
                result = self.pipeline.process(points, header.frame_id)
        except ValueError as exc:
            self.get_logger().error(f"bad input on frame '{header.frame_id}': {exc}")
            return GraspGroup(frame_id=header.frame_id), header, str(exc)
        except Exception as exc:  # the detector failed: keep the node alive
            self.get_logger().error(f"detection failed: {type(exc).__name__}: {exc}")
            return GraspGroup(frame_id=header.frame_id), header, f"detection failed: {exc}"
        self.last_result = result
        grasps = result.grasps if max_grasps <= 0 else result.grasps.top_k(max_grasps)
        t = result.timings
        stages = ", ".join(f"{k} {v * 1000:.0f}" for k, v in t.items() if k != "total")
        best = f", best {grasps.scores[0]:.2f}" if len(grasps) else ""
        views = f" ({len(self.accumulator)} views fused)" if fuse and self.accumulator is not None else ""
        self.get_logger().info(
            f"{len(grasps)} grasps{best} from {result.num_input} points{views} ({result.num_used} used) in "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms [{stages} ms]")
        return grasps, header, ""

    def publish(self, grasps: GraspGroup, header: Header) -> None:
        self.pub_grasps.publish(cv.grasp_group_to_msg(grasps, header.stamp))
        if len(grasps):
            T = grasp_to_tool_poses(grasps[:1], self.tool)[0]
            self.pub_best.publish(cv.matrix_to_pose_stamped(T, grasps.frame_id, header.stamp))
        if self.pub_moveit is not None:
            from grasping_msgs.msg import GraspableObject, Object

            self.pub_moveit.publish(GraspableObject(object=Object(header=header),
                                                    grasps=self.moveit_grasps(grasps, header)))
        self.pub_markers.publish(grasp_markers(grasps[: self.p["markers.max"]], header,
                                               self.p["markers.line_width"]))

    def _work(self) -> None:
        while rclpy.ok(context=self.context) and not self.slot.closed:
            msg = self.slot.take(timeout=0.2)
            if msg is None:
                continue
            t0 = time.perf_counter()
            grasps, header, self._last_error = self.detect(msg, fuse=True)
            self.diagnostics.tick(time.perf_counter() - t0)
            try:
                self.publish(grasps, header)
            except Exception as exc:  # context shut down while publishing
                if rclpy.ok(context=self.context):
                    self.get_logger().error(f"publishing failed: {exc}")
            self.processed += 1

    def _diagnostic_status(self):
        """(level, message, values) for /diagnostics."""
        topic = self.resolve_topic_name(self._input_topics()[0])
        self.diagnostics.dropped = self.slot.dropped
        values = {"input_topic": topic, "detector": self.pipeline.detector.name,
                  "input_reliability": self.input_reliability.name.lower()}
        if self._last_input is None:
            return WARN, f"no input received on {topic}", values
        idle = time.monotonic() - self._last_input
        if idle > 5.0:
            return WARN, f"no input on {topic} for {idle:.0f} s", values
        if self._last_error:
            return ERROR, self._last_error, values
        return OK, "detecting", values

    # -- MoveIt ------------------------------------------------------------------
    def _start_moveit(self) -> None:
        """grasps_moveit topic and plan_grasps action, where moveit_msgs and grasping_msgs exist."""
        try:
            from grasping_msgs.action import GraspPlanning
            from grasping_msgs.msg import GraspableObject
            from moveit_msgs.msg import Grasp  # noqa: F401 - the outputs' element type
        except ImportError as exc:
            self.get_logger().warning(f"moveit_msgs / grasping_msgs not installed ({exc.name}): running "
                                      "without grasps_moveit and plan_grasps")
            return
        from rclpy.action import ActionServer

        self.pub_moveit = self.create_publisher(GraspableObject, "grasps_moveit", 5)
        self._moveit_server = ActionServer(self, GraspPlanning, "plan_grasps", self._on_plan_grasps,
                                           callback_group=MutuallyExclusiveCallbackGroup())

    def moveit_grasps(self, grasps: GraspGroup, header: Header) -> list:
        """The ranked grasps as moveit_msgs/Grasp (see conversions.grasps_to_moveit)."""
        p = self.p
        return cv.grasps_to_moveit(
            grasps, self.tool, header.stamp, finger_joints=list(p["moveit.finger_joints"]),
            open_width=p["moveit.open_width"], max_effort=p["moveit.max_effort"],
            approach_distance=p["moveit.approach_distance"], min_approach=p["moveit.min_approach"],
            retreat_distance=p["moveit.retreat_distance"], min_retreat=p["moveit.min_retreat"])

    def _on_plan_grasps(self, goal_handle):
        """grasping_msgs/GraspPlanning: grasps on the goal object's point_cluster, or on the latest
        input when it is empty; feedback carries the grasps once found, the result the same list."""
        from grasping_msgs.action import GraspPlanning

        cloud = goal_handle.request.object.point_cluster
        msg = cloud if cloud.width * cloud.height > 0 else self.latest_input
        if msg is None:
            self.get_logger().error("plan_grasps: empty point_cluster and no input received yet")
            goal_handle.abort()
            return GraspPlanning.Result()
        grasps, header, error = self.detect(msg)
        if error:
            goal_handle.abort()
            return GraspPlanning.Result()
        found = self.moveit_grasps(grasps, header)
        goal_handle.publish_feedback(GraspPlanning.Feedback(grasps=found))
        goal_handle.succeed()
        return GraspPlanning.Result(grasps=found)

    # -- service -----------------------------------------------------------------
    def _on_detect(self, request: DetectGrasps.Request, response: DetectGrasps.Response):
        cloud = request.cloud
        msg = cloud if cloud.width * cloud.height > 0 else self.latest_input
        if msg is None:
            response.success = False
            response.message = "empty request cloud and no input received yet on " + (
                self.p["cloud_topic"] if self.p["input"] == "cloud" else self.p["depth_topic"])
            response.grasps = GraspArray(header=cloud.header)
            return response
        grasps, header, error = self.detect(msg, max(0, int(request.max_grasps)))
        response.success = not error
        response.message = error
        response.grasps = cv.grasp_group_to_msg(grasps, header.stamp)
        return response

    def destroy_node(self) -> None:
        if self._moveit_server is not None:
            self._moveit_server.destroy()
        self.slot.close()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from .spin import spin_nodes

    spin_nodes([GraspDetectorNode], args)


if __name__ == "__main__":
    main()
