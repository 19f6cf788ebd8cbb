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
publishes; ``~/reset`` drops the samples. Parameters: :data:`PARAMETERS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal

import numpy as np
from geometry_msgs.msg import PoseStamped, TransformStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_srvs.srv import Trigger

from ..calibration.config import CalibrationConfig, default_config_path, load_config
from ..calibration.detect import DetectionError, draw_detection, estimate_pose, find_target
from ..calibration.pipeline import calibrate
from ..calibration.poses import pose_error
from ..calibration.result import CalibrationResult, load_calibration, save_calibration
from . import conversions as cv
from .params import Param, declare_all

try:  # tf2_msgs: ROS install, or third_party/tf2_msgs built by scripts/build_interfaces.sh
    from .tf import StaticTransformPublisher
except ImportError:  # pragma: no cover - depends on the environment
    StaticTransformPublisher = None

PARAMETERS = [
    Param("config_file", "", "Calibration YAML ('' = the package's config/calibration.yaml)."),
    Param("mode", "", "eye-in-hand | eye-to-hand | views ('' = the config's mode)."),
    Param("output_path", "", "Result YAML ('' = the config's output.path)."),
    Param("camera_serial", "", "Camera serial recorded in the result ('' = the config's)."),
    Param("force_save", False, "Save even over a better or different calibration at the output path."),
    Param("debug_period", 0.2, "Seconds between debug images (0 = every image).", (0.0, 60.0)),
    Param("max_image_age", 2.0, "A sample needs an image received at most this many seconds ago.", (0.0, 3600.0)),
    Param("max_stamp_difference", 0.5, "Largest |image stamp - flange pose stamp| of a sample (s); "
          "negative disables the check.", (-1.0, 3600.0)),
    Param("publish_existing", True, "Publish the calibration already at the output path at start-up."),
]

LATCHED_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                         reliability=ReliabilityPolicy.RELIABLE)


class CalibrationNode(Node):
    """Collects (image, flange pose) samples on request, solves, saves and publishes the result."""

    def __init__(self, **kwargs) -> None:
        super().__init__("calibration_node", **kwargs)
        self.p = declare_all(self, PARAMETERS)
        self.config: CalibrationConfig = load_config(self.p["config_file"] or default_config_path())
        self.mode = self.p["mode"] or self.config.mode
        if self.mode not in ("eye-in-hand", "eye-to-hand", "views"):
            raise ValueError(f"mode must be eye-in-hand, eye-to-hand or views, got {self.mode!r}")
        self.output = Path(self.p["output_path"] or self.config.output).expanduser()
        self.samples: list[tuple[np.ndarray, np.ndarray | None, float]] = []  # (T_cam_target, T_base_flange, px)
        self._image: Image | None = None
        self._image_time = None
        self._info: CameraInfo | None = None
        self._pose: PoseStamped | None = None
        self._last_debug = None
        self._used_image: Image | None = None  # the image of the last stored sample
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
        self.create_service(Trigger, "~/collect", self._on_collect)
        self.create_service(Trigger, "~/solve", self._on_solve)
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
                self._publish_debug(msg)
            except ValueError as exc:
                self.get_logger().warning(f"debug image: {exc}", throttle_duration_sec=5.0)

    def _intrinsics(self) -> tuple[np.ndarray, np.ndarray]:
        intr = cv.camera_info_to_intrinsics(self._info)
        return intr.K, np.asarray(intr.distortion, dtype=np.float64)

    def _publish_debug(self, msg: Image) -> None:
        bgr = cv.msg_to_color(msg)[..., ::-1]
        K, dist = self._intrinsics()
        obs = pose = None
        message = ""
        try:
            obs = find_target(bgr, self.config.target, self.config.detection)
            pose = estimate_pose(obs, self.config.target, K, dist, self.config.detection)
        except DetectionError as exc:
            message = f"{exc.reason}: {exc}"[:90]
        drawn = draw_detection(bgr, self.config.target, K, dist, obs, pose, message)
        out = cv.color_to_msg(np.ascontiguousarray(drawn[..., ::-1]), msg.header.frame_id, msg.header.stamp, "bgr8")
        self.debug_pub.publish(out)

    # -- services -----------------------------------------------------------
    def _answer(self, response: Trigger.Response, action: Callable[[], str],
                failure_severity: Literal["warning", "error"]) -> Trigger.Response:
        """Run ``action`` for a Trigger service and log the outcome.

        Success: its message, logged at info. A ValueError: success False,
        the error's message, logged at ``failure_severity``.
        """
        response.success, response.message = False, ""
        try:
            response.message = action()
            response.success = True
        except ValueError as exc:
            response.message = str(exc)
        # rclpy ties a severity to each logging call site: one call per severity
        logger = self.get_logger()
        if response.success:
            logger.info(response.message)
        elif failure_severity == "warning":
            logger.warning(response.message)
        else:
            logger.error(response.message)
        return response

    def _on_collect(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        return self._answer(response, self.collect, "warning")

    def collect(self) -> str:
        """Store one sample from the latest messages; ValueError says why not."""
        topics = self.config.topics
        if self._image is None:
            raise ValueError(f"no image received yet on {topics['image']}")
        if self._info is None:
            raise ValueError(f"no CameraInfo received yet on {topics['camera_info']}")
        if self._image is self._used_image:
            raise ValueError(f"no new image since sample {len(self.samples)}: wait for the next frame")
        age = (self.get_clock().now() - self._image_time).nanoseconds * 1e-9
        if age > self.p["max_image_age"]:
            raise ValueError(f"the latest image is {age:.1f} s old (max_image_age {self.p['max_image_age']:g} s): "
                             f"is the camera still publishing?")
        flange = None
        if self.mode != "views":
            if self._pose is None:
                raise ValueError(f"no flange pose received yet on {topics['flange_pose']}")
            dt = abs(cv.stamp_to_seconds(self._image.header.stamp) - cv.stamp_to_seconds(self._pose.header.stamp))
            if 0 <= self.p["max_stamp_difference"] < dt:
                raise ValueError(f"image and flange pose stamps differ by {dt:.3f} s (max_stamp_difference "
                                 f"{self.p['max_stamp_difference']:g} s): wait until the robot has stopped and "
                                 f"both topics are current")
            flange = cv.pose_to_matrix(self._pose)
            for k, (_, other, _) in enumerate(self.samples):
                rot, trans = pose_error(flange, other)
                if rot < 1.0 and trans < 0.002:
                    raise ValueError(f"the robot has not moved since sample {k + 1}: move it to a new pose "
                                     f"(rotated 15-40 deg about a different axis)")
        K, dist = self._intrinsics()
        image = self._image
        bgr = cv.msg_to_color(image)[..., ::-1]
        try:
            pose = estimate_pose(find_target(bgr, self.config.target, self.config.detection), self.config.target,
                                 K, dist, self.config.detection)
        except DetectionError as exc:
            raise ValueError(f"sample rejected ({exc.reason}): {exc}") from None
        self.samples.append((pose.T_cam_target, flange, pose.reprojection_rms_px))
        self._used_image = image
        need = self.config.handeye.min_samples if self.mode != "views" else 1
        return (f"sample {len(self.samples)} collected: target at {pose.distance_m:.3f} m, tilt "
                f"{pose.obliquity_deg:.0f} deg, reprojection {pose.reprojection_rms_px:.2f} px"
                + ("" if len(self.samples) >= need else f"; {need - len(self.samples)} more needed"))

    def _on_solve(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        return self._answer(response, self.solve, "error")

    def solve(self) -> str:
        """Solve with the stored samples, save and publish; ValueError says why not."""
        if not self.samples:
            raise ValueError("no samples collected: call ~/collect first")
        C = np.stack([s[0] for s in self.samples])
        F = None if self.mode == "views" else np.stack([s[1] for s in self.samples])
        result, extra = calibrate(self.config, C, F, self.mode, [s[2] for s in self.samples],
                                  self.p["camera_serial"] or None)
        table = extra.table() if self.mode != "views" else ""
        if not result.ok:
            raise ValueError(f"calibration failed, nothing saved: {result.failure}\n{table}")
        try:
            save_calibration(result, self.output, force=self.p["force_save"])
        except ValueError as exc:
            raise ValueError(f"solved but not saved: {exc}\n{table}") from None
        self.publish_result(result)
        t = result.translation
        return (f"saved {self.output}: {result.parent_frame} <- {result.child_frame} via {result.method}, "
                f"translation [{t[0]:.4f}, {t[1]:.4f}, {t[2]:.4f}] m\n{table}")

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        n = len(self.samples)
        self.samples.clear()
        self._used_image = None
        response.success, response.message = True, f"dropped {n} samples"
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
