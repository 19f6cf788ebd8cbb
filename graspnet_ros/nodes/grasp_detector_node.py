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

Parameters: :data:`~graspnet_ros.detection.detector_params.PARAMETERS`; the
detection between messages (one at a time, fusion, log line, health):
:class:`~graspnet_ros.detection.online.OnlineDetector`; input QoS:
:mod:`.detector_io`; the MoveIt outputs: :mod:`.moveit`.
"""

from __future__ import annotations

import threading
import time

import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from std_msgs.msg import Header

from ..detection.detector_params import PARAMETERS, build_pipeline
from ..detection.online import OnlineDetector, check_parameters
from ..grasp import GraspGroup
from ..msg import GraspArray
from ..srv import DetectGrasps
from ..tool_frame import ToolFrame
from . import conversions as cv
from .detector_io import DetectionOutputs, DetectorInputs
from .diagnostics import Diagnostics
from .moveit import MoveItGrasps
from .params import declare_all

__all__ = ["GraspDetectorNode", "PARAMETERS"]


class GraspDetectorNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("grasp_detector_node", **kwargs)
        self.p = p = declare_all(self, PARAMETERS)
        check_parameters(p)
        self.tool = ToolFrame.from_config({"convention": p["tool_frame.convention"],
                                           "tcp_offset": p["tool_frame.tcp_offset"]})
        self.live = OnlineDetector.from_parameters(build_pipeline(p), p)
        self.pipeline, self.accumulator, self.tf_listener = self.live.pipeline, self.live.accumulator, None
        if self.accumulator is not None:
            from .tf import TransformListener

            self.tf_listener = TransformListener(self, span=max(10.0, 2 * p["fusion.max_age"]))
        self.processed = 0
        self.outputs = DetectionOutputs(self, p, self.tool)
        self.inputs = DetectorInputs(self, p, self.live.received)
        self.slot = self.inputs.slot
        self.create_service(DetectGrasps, "detect_grasps", self._on_detect,
                            callback_group=MutuallyExclusiveCallbackGroup())
        self.moveit = self.outputs.moveit = MoveItGrasps.start(self, p, self.tool) if p["moveit.enabled"] else None
        self.diagnostics = Diagnostics(self, "detection", self._diagnostic_status)
        self._worker = threading.Thread(target=self._work, name="grasp_detector_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"detector '{self.pipeline.detector.name}' on "
                               f"{self.resolve_topic_name(self.inputs.topics[0])}")

    def detect(self, msg, max_grasps: int = 0, fuse: bool = False) -> tuple[GraspGroup, Header, str]:
        """Run the pipeline on one message: (grasps, header, error message or ''). fuse: add it to
        the multi-view accumulator and detect on the fused views (when ``fusion.views`` > 1)."""
        header, t0, fuse = msg.header, time.perf_counter(), fuse and self.accumulator is not None
        try:
            points, header = self.inputs.points(msg)
            if fuse:
                stamp, fixed, frame = cv.stamp_to_seconds(header.stamp), self.p["fusion.fixed_frame"], header.frame_id
                points = self.live.fuse(points, stamp, lambda: self.tf_listener.lookup(fixed, frame, stamp))
            grasps, line = self.live.detect(points, header.frame_id, max_grasps, fuse, t0)
        except ValueError as exc:
            self.get_logger().error(f"bad input on frame '{header.frame_id}': {exc}")
            return GraspGroup(frame_id=header.frame_id), header, str(exc)
        except Exception as exc:  # the detector failed: keep the node alive
            self.get_logger().error(f"detection failed: {type(exc).__name__}: {exc}")
            return GraspGroup(frame_id=header.frame_id), header, f"detection failed: {exc}"
        self.get_logger().info(line)
        return grasps, header, ""

    def publish(self, grasps: GraspGroup, header: Header) -> None:
        self.outputs.publish(grasps, header)

    def _work(self) -> None:
        while rclpy.ok(context=self.context) and not self.slot.closed:
            msg = self.slot.take(timeout=0.2)
            if msg is None:
                continue
            t0 = time.perf_counter()
            grasps, header, self.live.last_error = self.detect(msg, fuse=True)
            self.diagnostics.tick(time.perf_counter() - t0)
            try:
                self.publish(grasps, header)
            except Exception as exc:  # context shut down while publishing
                if rclpy.ok(context=self.context):
                    self.get_logger().error(f"publishing failed: {exc}")
            self.processed += 1

    def _diagnostic_status(self):
        """(level, message, values) for /diagnostics."""
        topic = self.resolve_topic_name(self.inputs.topics[0])
        self.diagnostics.dropped = self.slot.dropped
        level, message = self.live.status(topic)
        return level, message, {"input_topic": topic, "detector": self.pipeline.detector.name,
                                "input_reliability": self.inputs.reliability.name.lower()}

    def _on_detect(self, request: DetectGrasps.Request, response: DetectGrasps.Response):
        cloud = request.cloud
        msg = cloud if cloud.width * cloud.height > 0 else self.inputs.latest
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
        if self.moveit is not None:
            self.moveit.destroy()
        self.slot.close()
        self._worker.join(timeout=5.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from .spin import spin_nodes

    spin_nodes([GraspDetectorNode], args)


if __name__ == "__main__":
    main()
