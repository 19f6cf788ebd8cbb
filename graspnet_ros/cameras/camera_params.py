"""camera_node's parameter table (ROS-free: the node declares it; camera_node.yaml-style files for
the real-arm trials use the same names) and what the node derives from its values: the checks and
the camera mount. Documented in docs/nodes.md; ``config/camera_node.yaml`` overrides the defaults."""

from __future__ import annotations

from typing import Any, Mapping

from ..params import Param
from .factory import SOURCES
from .mount import CameraMount

__all__ = ["NODE_NAME", "PARAMETERS", "check_parameters", "mount_from_parameters"]

NODE_NAME = "camera_node"

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


def check_parameters(p: Mapping[str, Any]) -> None:
    """ValueError unless the source and the image encodings are ones the node knows."""
    if p["source"] not in SOURCES:
        raise ValueError(f"parameter source='{p['source']}' is not one of {SOURCES}")
    if p["depth_encoding"] not in ("16UC1", "32FC1") or p["color_encoding"] not in ("rgb8", "bgr8"):
        raise ValueError("depth_encoding must be 16UC1|32FC1 and color_encoding rgb8|bgr8")


def mount_from_parameters(p: Mapping[str, Any]) -> CameraMount:
    """The camera mount (T_parent<-link, m and rad) from the node's parameters: the
    ``mount.calibration_file`` when given, else ``mount.xyz`` / ``mount.rpy`` in ``mount.parent_frame``."""
    if p["mount.calibration_file"]:
        return CameraMount.from_calibration_file(p["mount.calibration_file"], p["camera_name"])
    return CameraMount.from_xyz_rpy(p["mount.parent_frame"], p["mount.xyz"], p["mount.rpy"],
                                    p["camera_name"])
