"""What the standard ROS 2 camera drivers publish, for the detector's input (ROS-free table).

``launch/grasp.launch.py camera:=<name>`` points grasp_detector_node at these
topics; the tests publish messages shaped like each driver (names, encodings,
frame ids, QoS) from this same table. Topic names are absolute, as each driver
publishes them with its default namespace and name:

- ``synthetic``: this package's camera_node in namespace ``camera``.
- ``realsense``: realsense2_camera 4.x (``camera_namespace:=camera camera_name:=camera``;
  the cloud needs ``pointcloud.enable:=true``, the aligned depth ``align_depth.enable:=true``).
  Depth ``16UC1`` in millimetres; its cloud is in the depth optical frame.
- ``kinect``: the Azure Kinect ROS driver (``depth_to_rgb`` needs the colour camera on).
  Depth ``32FC1`` in metres; ``points2`` is in ``depth_camera_link`` (z forward, like
  an optical frame), ``depth_to_rgb`` in ``rgb_camera_link``.

Both drivers publish with reliable QoS by default and can be switched to
best effort (sensor-data QoS); the detector subscribes best effort by default,
which matches either.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DriverTopics", "DRIVERS", "CAMERA_CHOICES", "driver_topics"]


@dataclass(frozen=True)
class DriverTopics:
    """Topics, encodings and frame ids of one driver's depth output."""

    cloud_topic: str  #: sensor_msgs/PointCloud2, metres
    depth_topic: str  #: sensor_msgs/Image aligned to the colour camera
    camera_info_topic: str  #: sensor_msgs/CameraInfo of depth_topic
    depth_encoding: str  #: "16UC1" (mm) or "32FC1" (m)
    cloud_frame: str  #: frame_id of the cloud
    depth_frame: str  #: frame_id of the aligned depth image

    def detector_parameters(self) -> dict[str, str]:
        """grasp_detector_node parameters that subscribe to this driver."""
        return {"cloud_topic": self.cloud_topic, "depth_topic": self.depth_topic,
                "camera_info_topic": self.camera_info_topic}


DRIVERS: dict[str, DriverTopics] = {
    "synthetic": DriverTopics("/camera/depth/color/points", "/camera/aligned_depth_to_color/image_raw",
                              "/camera/aligned_depth_to_color/camera_info", "16UC1",
                              "camera_color_optical_frame", "camera_color_optical_frame"),
    "realsense": DriverTopics("/camera/camera/depth/color/points",
                              "/camera/camera/aligned_depth_to_color/image_raw",
                              "/camera/camera/aligned_depth_to_color/camera_info", "16UC1",
                              "camera_depth_optical_frame", "camera_color_optical_frame"),
    "kinect": DriverTopics("/points2", "/depth_to_rgb/image_raw", "/depth_to_rgb/camera_info", "32FC1",
                           "depth_camera_link", "rgb_camera_link"),
}

#: values of the launch argument ``camera``: a driver above, or ``topics`` (the detector's own
#: topic parameters / launch arguments, no camera started)
CAMERA_CHOICES = (*DRIVERS, "topics")


def driver_topics(camera: str) -> DriverTopics:
    """The table entry of ``camera``; ValueError naming the choices otherwise."""
    if camera not in DRIVERS:
        raise ValueError(f"camera '{camera}' has no driver convention; choose one of {sorted(DRIVERS)} "
                         "(or 'topics' to give the topic names yourself)")
    return DRIVERS[camera]
