"""camera_node: RGB-D frames from a synthetic scene, a RealSense, an Azure Kinect or a dataset.

Publishes (relative names; the launch files put the node in namespace ``camera``):
``color/image_raw``, ``color/camera_info``, ``aligned_depth_to_color/image_raw``,
``aligned_depth_to_color/camera_info``, ``depth/color/points`` and, for the
dataset source, ``dataset_frame``; static transforms of the mount on
``/tf_static``; ``/diagnostics`` once a second (rate, publish latency,
read errors, device state). All messages of one capture share its stamp and the colour
optical frame id. Parameters: :data:`PARAMETERS` (documented in docs/nodes.md).
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from ..cameras.base import CameraError, CameraFrame, EndOfStream
from ..cameras.factory import SOURCES, make_camera
from ..cameras.geometry import depth_to_points
from ..cameras.mount import CameraMount
from . import conversions as cv
from .diagnostics import ERROR, OK, WARN, Diagnostics
from .params import Param, declare_all
from .tf import StaticTransformPublisher

PARAMETERS = [
    Param("source", "synthetic", "Frame source: synthetic | realsense | kinect | dataset."),
    Param("camera_model", "realsense", "Synthetic source: GraspNet camera intrinsics, realsense | kinect."),
    Param("camera_name", "camera", "Frame-id prefix: <name>_link, <name>_color_optical_frame."),
    Param("rate", 10.0, "Publishing rate (Hz); a live device publishes at most at its own rate.",
          (0.1, 120.0)),
    Param("depth_encoding", "16UC1", "Depth image encoding: 16UC1 (mm) or 32FC1 (m)."),
    Param("color_encoding", "rgb8", "Colour image encoding: rgb8 or bgr8."),
    Param("publish_cloud", True, "Publish the PointCloud2 back-projected from the aligned depth."),
    Param("cloud_organised", False, "Organised cloud (image-shaped, NaN where no depth) instead of valid points only."),
    Param("cloud_colored", True, "Add the packed rgb field to the cloud."),
    Param("cloud_stride", 1, "Use every n-th pixel in both directions for the cloud.", (1, 16)),
    Param("read_timeout", 1.0, "Seconds to wait for a frame before the device counts as lost.", (0.01, 30.0)),
    Param("retry_period", 2.0, "Seconds between attempts to reopen a lost or missing device.", (0.1, 60.0)),
    Param("mount.parent_frame", "world", "Frame the camera is mounted on (synthetic: the scene's table frame)."),
    Param("mount.xyz", [0.0, -0.30, 0.45], "Camera link position in the parent frame (m)."),
    Param("mount.rpy", [0.0, 0.95, 1.5708], "Camera link roll, pitch, yaw in the parent frame (rad, fixed axes)."),
    Param("mount.calibration_file", "", "YAML with the calibrated mount (overrides xyz/rpy; see docs/nodes.md)."),
    Param("synthetic.scene", "generator", "Synthetic scene: generator (objects settled by the dataset "
          "generator's physics) or boxes (primitives, fastest start)."),
    Param("synthetic.scale", 0.5, "Synthetic image size as a fraction of 1280x720.", (0.05, 2.0)),
    Param("synthetic.num_objects", 5, "Objects on the synthetic table.", (0, 30)),
    Param("synthetic.seed", 0, "Seed of the synthetic scene layout and noise.", (0, 2**31 - 1)),
    Param("synthetic.depth_noise", 0.0, "Synthetic depth noise std at 1 m (m), growing with distance squared.",
          (0.0, 0.1)),
    Param("synthetic.noise", "sensor", "Synthetic depth model: sensor (the RealSense's active stereo or the "
          "Kinect's time of flight simulated, 0.1-0.4 s per 640x360 frame) or simple (synthetic.depth_noise)."),
    Param("realsense.serial", "", "Serial number of the RealSense to open ('' = first found)."),
    Param("realsense.playback", "", "Recording (.db3 / .bag) to play instead of a live device."),
    Param("realsense.width", 1280, "Live stream width (px).", (1, 4096)),
    Param("realsense.height", 720, "Live stream height (px).", (1, 4096)),
    Param("realsense.fps", 30, "Live stream rate (Hz).", (1, 90)),
    Param("realsense.realtime", False, "Play a recording at its recorded pace."),
    Param("realsense.loop", True, "Restart a recording at its end."),
    Param("kinect.device_index", 0, "Index of the Azure Kinect to open.", (0, 16)),
    Param("kinect.playback", "", "Azure Kinect .mkv recording to play instead of a live device."),
    Param("kinect.loop", True, "Restart a recording at its end."),
    Param("dataset.root", "", "GraspNet-1Billion root folder (dataset source)."),
    Param("dataset.camera", "realsense", "Dataset camera: realsense | kinect."),
    Param("dataset.scenes", [], "Scene ids to replay (empty = all).", empty_type="int[]"),
    Param("dataset.loop", True, "Restart at the first frame after the last."),
]


def load_mount(p: dict) -> CameraMount:
    """The camera mount from the node's parameters (calibration file wins)."""
    if p["mount.calibration_file"]:
        return CameraMount.from_calibration_file(p["mount.calibration_file"], p["camera_name"])
    return CameraMount.from_xyz_rpy(p["mount.parent_frame"], p["mount.xyz"], p["mount.rpy"],
                                    p["camera_name"])


def frame_messages(frame: CameraFrame, p: dict) -> dict[str, object]:
    """Messages of one frame, all with the frame's stamp and optical frame id."""
    stamp = cv.seconds_to_stamp(frame.stamp)
    fid = frame.frame_id
    info = cv.intrinsics_to_camera_info(frame.intrinsics, fid, stamp)
    out = {"color": cv.color_to_msg(frame.rgb, fid, stamp, p["color_encoding"]),
           "depth": cv.depth_to_msg(frame.depth, fid, stamp, p["depth_encoding"]),
           "info": info}
    if p["publish_cloud"]:
        s = int(p["cloud_stride"])
        pts = depth_to_points(frame.depth, frame.intrinsics)[::s, ::s]
        rgb = frame.rgb[::s, ::s] if p["cloud_colored"] else None
        if not p["cloud_organised"]:
            keep = np.flatnonzero(np.isfinite(pts[..., 2]))  # np.take: the fastest row gather
            pts = np.take(pts.reshape(-1, 3), keep, axis=0)
            rgb = np.take(rgb.reshape(-1, 3), keep, axis=0) if rgb is not None else None
        out["cloud"] = cv.cloud_to_msg(pts, fid, stamp, colors=rgb)
    return out


class CameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("camera_node", **kwargs)
        self.p = declare_all(self, PARAMETERS)
        p = self.p
        if p["source"] not in SOURCES:
            raise ValueError(f"parameter source='{p['source']}' is not one of {SOURCES}")
        if p["depth_encoding"] not in ("16UC1", "32FC1") or p["color_encoding"] not in ("rgb8", "bgr8"):
            raise ValueError("depth_encoding must be 16UC1|32FC1 and color_encoding rgb8|bgr8")
        self.mount = load_mount(p)
        self.camera = make_camera(p["source"], p, self.mount.optical_frame, self.mount.T_parent_optical)
        qos = 5  # reliable, keep last 5: RViz and best-effort subscribers both match
        self.pub_color = self.create_publisher(Image, "color/image_raw", qos)
        self.pub_color_info = self.create_publisher(CameraInfo, "color/camera_info", qos)
        self.pub_depth = self.create_publisher(Image, "aligned_depth_to_color/image_raw", qos)
        self.pub_depth_info = self.create_publisher(CameraInfo, "aligned_depth_to_color/camera_info", qos)
        self.pub_cloud = self.create_publisher(PointCloud2, "depth/color/points", qos)
        self.pub_dataset = None
        if p["source"] == "dataset":
            from ..msg import DatasetFrame

            self.pub_dataset = self.create_publisher(DatasetFrame, "dataset_frame", qos)
        self.tf_static = StaticTransformPublisher(self)
        now = self.get_clock().now()
        self.tf_static.send([cv.matrix_to_transform_stamped(T, parent, child, now)
                             for parent, child, T in self.mount.transforms()])
        self.published = 0
        self.ticks = 0
        self.open_failures = 0
        self._is_open = False
        self._next_open = 0.0
        self._ended = False
        self.read_errors = 0
        self.diagnostics = Diagnostics(self, f"{p['source']} camera", self._diagnostic_status,
                                       hardware_id=p["source"])
        self.timer = self.create_timer(1.0 / p["rate"], self.tick)
        self.get_logger().info(f"source '{p['source']}' -> {self.mount.optical_frame} at {p['rate']:.1f} Hz "
                               f"(mount {self.mount.parent_frame} -> {self.mount.link_frame})")

    def _ensure_open(self) -> bool:
        if self._is_open:
            return True
        if time.monotonic() < self._next_open:
            return False
        try:
            self.camera.open()
        except CameraError as exc:
            self.open_failures += 1
            self._next_open = time.monotonic() + self.p["retry_period"]
            self.get_logger().error(f"cannot open {self.p['source']} camera: {exc}; "
                                    f"retrying in {self.p['retry_period']:.1f} s")
            return False
        self._is_open = True
        self.get_logger().info(f"{self.p['source']} camera open")
        return True

    def tick(self) -> None:
        self.ticks += 1
        if self._ended or not self._ensure_open():
            return
        try:
            frame = self.camera.read(self.p["read_timeout"])
        except EndOfStream as exc:
            self.get_logger().info(f"{exc}; stopping (set *.loop to replay)")
            self._ended = True
            return
        except CameraError as exc:  # DeviceLost included: close, then reopen later
            self.read_errors += 1
            self.diagnostics.dropped = self.read_errors
            self.get_logger().error(f"{self.p['source']} camera: {exc}; reopening in "
                                    f"{self.p['retry_period']:.1f} s")
            self.camera.close()
            self._is_open = False
            self._next_open = time.monotonic() + self.p["retry_period"]
            return
        t0 = time.perf_counter()
        self.publish(frame)
        self.diagnostics.tick(time.perf_counter() - t0)

    def _diagnostic_status(self):
        """(level, message, values) for /diagnostics: the device state."""
        state = "ended" if self._ended else "open" if self._is_open else "closed"
        values = {"device_state": state, "open_failures": self.open_failures, "read_errors": self.read_errors,
                  "frame_id": self.mount.optical_frame}
        if self._ended:
            return WARN, "recording ended", values
        if not self._is_open:
            return ERROR, f"{self.p['source']} camera not open ({self.open_failures} failed attempts)", values
        return OK, "streaming", values

    def publish(self, frame: CameraFrame) -> None:
        msgs = frame_messages(frame, self.p)
        self.pub_color.publish(msgs["color"])
        self.pub_color_info.publish(msgs["info"])
        self.pub_depth.publish(msgs["depth"])
        self.pub_depth_info.publish(msgs["info"])
        if "cloud" in msgs:
            self.pub_cloud.publish(msgs["cloud"])
        if self.pub_dataset is not None and "scene_id" in frame.extras:
            from ..msg import DatasetFrame

            e = frame.extras
            self.pub_dataset.publish(DatasetFrame(header=msgs["info"].header, dataset=str(e["dataset"]),
                                                  scene_id=int(e["scene_id"]), camera=str(e["camera"]),
                                                  ann_id=int(e["ann_id"])))
        self.published += 1

    def destroy_node(self) -> None:
        self.camera.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from .spin import spin_nodes

    spin_nodes([CameraNode], args)


if __name__ == "__main__":
    main()
