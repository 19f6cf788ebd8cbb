"""camera_node: RGB-D frames from a synthetic scene, a RealSense, an Azure Kinect or a dataset.

Publishes (relative names; the launch files put the node in namespace ``camera``):
``color/image_raw``, ``color/camera_info``, ``aligned_depth_to_color/image_raw``,
``aligned_depth_to_color/camera_info``, ``depth/color/points`` and, for the
dataset source, ``dataset_frame``; static transforms of the mount on
``/tf_static``; ``/diagnostics`` once a second (rate, publish latency,
read errors, device state). All messages of one capture share its stamp and the colour
optical frame id. Parameters: :data:`~graspnet_ros.cameras.camera_params.PARAMETERS`
(documented in docs/nodes.md); opening, retrying and reading the device:
:class:`~graspnet_ros.cameras.stream.CameraStream`.
"""

from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from ..cameras.base import CameraFrame
from ..cameras.camera_params import PARAMETERS, check_parameters, mount_from_parameters
from ..cameras.factory import make_camera
from ..cameras.stream import CameraStream, frame_cloud
from . import conversions as cv
from .diagnostics import Diagnostics
from .params import declare_all
from .tf import StaticTransformPublisher

__all__ = ["CameraNode", "PARAMETERS", "frame_messages"]


def frame_messages(frame: CameraFrame, p: dict) -> dict[str, object]:
    """Messages of one frame, all with the frame's stamp and optical frame id."""
    stamp = cv.seconds_to_stamp(frame.stamp)
    fid = frame.frame_id
    info = cv.intrinsics_to_camera_info(frame.intrinsics, fid, stamp)
    out = {"color": cv.color_to_msg(frame.rgb, fid, stamp, p["color_encoding"]),
           "depth": cv.depth_to_msg(frame.depth, fid, stamp, p["depth_encoding"]),
           "info": info}
    if p["publish_cloud"]:
        pts, rgb = frame_cloud(frame, p["cloud_stride"], p["cloud_organised"], p["cloud_colored"])
        out["cloud"] = cv.cloud_to_msg(pts, fid, stamp, colors=rgb)
    return out


class CameraNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("camera_node", **kwargs)
        self.p = p = declare_all(self, PARAMETERS)
        check_parameters(p)
        self.mount = mount_from_parameters(p)
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
        self.stream = CameraStream(self.camera, p["source"], p["read_timeout"], p["retry_period"],
                                   self.get_logger())
        self.diagnostics = Diagnostics(self, f"{p['source']} camera", self._diagnostic_status,
                                       hardware_id=p["source"])
        self.timer = self.create_timer(1.0 / p["rate"], self.tick)
        self.get_logger().info(f"source '{p['source']}' -> {self.mount.optical_frame} at {p['rate']:.1f} Hz "
                               f"(mount {self.mount.parent_frame} -> {self.mount.link_frame})")

    def tick(self) -> None:
        self.ticks += 1
        frame = self.stream.read()
        self.diagnostics.dropped = self.stream.read_errors
        if frame is None:
            return
        t0 = time.perf_counter()
        self.publish(frame)
        self.diagnostics.tick(time.perf_counter() - t0)

    def _diagnostic_status(self):
        """(level, message, values) for /diagnostics: the device state."""
        s = self.stream
        level, message = s.status()
        return level, message, {"device_state": s.state, "open_failures": s.open_failures,
                                "read_errors": s.read_errors, "frame_id": self.mount.optical_frame}

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
