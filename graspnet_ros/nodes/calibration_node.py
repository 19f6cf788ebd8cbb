"""calibration_node: camera extrinsics from an ArUco marker / ChArUco board and robot poses.

Subscribes (names from ``topics:`` in the calibration config):
``image`` (sensor_msgs/Image: rgb8, bgr8, rgba8, bgra8, mono8), ``camera_info``
(sensor_msgs/CameraInfo) and, for the hand-eye modes, ``flange_pose``
(geometry_msgs/PoseStamped, T_base<-flange in metres; TF lookups need
tf2_ros, which a pip install lacks, so the robot driver or a relay publishes
the flange pose).

Publishes ``debug_image`` (sensor_msgs/Image bgr8: detected markers, corners,
target axes, or the rejection reason) and the result as a static transform
T_parent<-camera: on ``/tf_static`` as tf2_msgs/TFMessage when tf2_msgs is
importable (:mod:`graspnet_ros.nodes.tf`), otherwise as
geometry_msgs/TransformStamped on ``topics.transform`` (reliable,
transient-local: late subscribers get it). A calibration file already at the
output path is published at start-up.

Services (std_srvs/Trigger): ``~/collect`` detects the target in the latest
image and stores it with the latest flange pose (rejects stale or
mismatched messages, an image already used, failed detections, repeated
robot poses); ``~/solve``
solves, saves (never over a better calibration unless ``force_save``) and
publishes; ``~/reset`` drops the samples
(:class:`~graspnet_ros.calibration.samples.SampleCollector`: the acceptance rules, the solve and the
save). Parameters: :data:`~graspnet_ros.calibration.calibration_params.PARAMETERS`.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import PoseStamped, TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from ..calibration.calibration_params import PARAMETERS, collector_from_parameters
from ..calibration.result import CalibrationResult, load_calibration
from ..calibration.samples import debug_image
from . import conversions as cv
from .params import declare_all
from .services import answer_trigger

try:  # tf2_msgs: ROS install, or third_party/tf2_msgs built by scripts/build_interfaces.sh
    from .tf import StaticTransformPublisher
except ImportError:  # pragma: no cover - depends on the environment
    StaticTransformPublisher = None

__all__ = ["CalibrationNode", "PARAMETERS"]

LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                         reliability=ReliabilityPolicy.RELIABLE)


class CalibrationNode(Node):
    """Collects (image, flange pose) samples on request, solves, saves and publishes the result."""

    def __init__(self, **kwargs) -> None:
        super().__init__("calibration_node", **kwargs)
        self.p = declare_all(self, PARAMETERS)
        self.config, self.collector = collector_from_parameters(self.p)
        self.mode, self.output = self.collector.mode, self.collector.output
        self._image: Image | None = None
        self._image_time = None
        self._info: CameraInfo | None = None
        self._pose: PoseStamped | None = None
        self._last_debug = None
        topics = self.config.topics
        self.create_subscription(Image, topics["image"], self._on_image, qos_profile_sensor_data)
        self.create_subscription(CameraInfo, topics["camera_info"], self._on_info, qos_profile_sensor_data)
        if self.mode != "views":
            self.create_subscription(PoseStamped, topics["flange_pose"], self._on_pose, 10)
        self.debug_pub = self.create_publisher(Image, topics["debug_image"], 2)
        if StaticTransformPublisher is not None:
            self._static = StaticTransformPublisher(self)
            self._tf_pub = None
        else:
            self._static = None
            self._tf_pub = self.create_publisher(TransformStamped, topics["transform"], LATCHED_QOS)
        log = self.get_logger()
        self.create_service(Trigger, "~/collect", lambda _q, r: answer_trigger(log, r, self.collect, "warning"))
        self.create_service(Trigger, "~/solve", lambda _q, r: answer_trigger(log, r, self.solve, "error"))
        self.create_service(Trigger, "~/reset", self._on_reset)
        if self.p["publish_existing"] and self.output.is_file():
            try:
                self.publish_result(load_calibration(self.output))
            except ValueError as exc:
                self.get_logger().warning(f"not publishing {self.output}: {exc}")
        self.get_logger().info(f"{self.mode} calibration with {self.config.target.describe()}; "
                               f"result -> {self.output}")

    # -- inputs -------------------------------------------------------------
    def _on_info(self, msg: CameraInfo) -> None:
        self._info = msg

    def _on_pose(self, msg: PoseStamped) -> None:
        self._pose = msg

    def _on_image(self, msg: Image) -> None:
        self._image, self._image_time = msg, self.get_clock().now()
        period = self.p["debug_period"]
        due = self._last_debug is None or (self._image_time - self._last_debug).nanoseconds * 1e-9 >= period
        if due and self._info is not None and self.debug_pub.get_subscription_count() > 0:
            self._last_debug = self._image_time
            try:
                drawn = debug_image(cv.msg_to_color(msg)[..., ::-1], self.config, *self._intrinsics())
                self.debug_pub.publish(cv.color_to_msg(np.ascontiguousarray(drawn[..., ::-1]), msg.header.frame_id,
                                                       msg.header.stamp, "bgr8"))
            except ValueError as exc:
                self.get_logger().warning(f"debug image: {exc}", throttle_duration_sec=5.0)

    def _intrinsics(self) -> tuple[np.ndarray, np.ndarray]:
        intr = cv.camera_info_to_intrinsics(self._info)
        return intr.K, np.asarray(intr.distortion, dtype=np.float64)

    # -- services -----------------------------------------------------------
    def collect(self) -> str:
        """Store one sample from the latest messages; ValueError says why not."""
        topics, c = self.config.topics, self.collector
        if self._image is None:
            raise ValueError(f"no image received yet on {topics['image']}")
        if self._info is None:
            raise ValueError(f"no CameraInfo received yet on {topics['camera_info']}")
        image = self._image
        c.check_image(image, (self.get_clock().now() - self._image_time).nanoseconds * 1e-9)
        flange = None
        if c.hand_eye:
            if self._pose is None:
                raise ValueError(f"no flange pose received yet on {topics['flange_pose']}")
            c.check_stamps(cv.stamp_to_seconds(image.header.stamp), cv.stamp_to_seconds(self._pose.header.stamp))
            flange = cv.pose_to_matrix(self._pose)
            c.check_moved(flange)
        K, dist = self._intrinsics()
        return c.add(image, cv.msg_to_color(image)[..., ::-1], K, dist, flange)

    def solve(self) -> str:
        """Solve with the stored samples, save and publish; ValueError says why not."""
        result, message = self.collector.solve()
        self.publish_result(result)
        return message

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success, response.message = True, self.collector.reset()
        return response

    # -- output -------------------------------------------------------------
    def publish_result(self, result: CalibrationResult) -> None:
        """Publish T_parent<-child of ``result`` as a latched static transform."""
        msg = cv.matrix_to_transform_stamped(result.transform, result.parent_frame, result.child_frame,
                                             self.get_clock().now().to_msg())
        if self._static is not None:
            self._static.send(msg)
        else:
            self._tf_pub.publish(msg)


def main(args: list[str] | None = None) -> None:
    from .spin import spin_nodes

    spin_nodes([CalibrationNode], args, multi_threaded=False)


if __name__ == "__main__":
    main()
