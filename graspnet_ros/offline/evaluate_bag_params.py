"""The evaluate_bag executable's parameter table (ROS-free: the node declares it) and the options
its values give :func:`graspnet_ros.offline.evaluate_bag.evaluate_bag`. Times are seconds from
the bag's start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..params import Param

if TYPE_CHECKING:
    from .evaluate_bag import EvaluateBagOptions

__all__ = ["NODE_NAME", "PARAMETERS", "options_from_parameters"]

NODE_NAME = "evaluate_bag"

PARAMETERS = [
    Param("bag", "", "rosbag2 folder to evaluate (mcap or sqlite3)."),
    Param("dataset_root", "", "GraspNet-1Billion root holding the frames' ground truth."),
    Param("out", "output/evaluate_bag", "Results folder (frames.jsonl, results.json, ap_table.txt, plot)."),
    Param("grasps_topic", "", "Evaluate this recorded GraspArray topic instead of running the detector."),
    Param("input", "depth", "Detector input: depth (Image + CameraInfo) or cloud (PointCloud2)."),
    Param("depth_topic", "/camera/aligned_depth_to_color/image_raw", "Depth image topic in the bag."),
    Param("camera_info_topic", "/camera/aligned_depth_to_color/camera_info", "CameraInfo topic in the bag."),
    Param("cloud_topic", "/camera/depth/color/points", "PointCloud2 topic in the bag (input: cloud)."),
    Param("identity_topic", "/graspnet/dataset_frame", "DatasetFrame identity topic in the bag."),
    Param("detector_config", "", "grasp_detector_node YAML ('' = the package's)."),
    Param("every_n", 1, "Evaluate every n-th frame.", (1, 1000000)),
    Param("start", -1.0, "Window start, s from the bag's start (< 0 = open)."),
    Param("end", -1.0, "Window end, s from the bag's start (< 0 = open)."),
    Param("rate", 0.0, "0 = as fast as possible, 1 = recorded rate.", (0.0, 1000.0)),
    Param("workers", 1, "Frames processed in parallel.", (1, 64)),
    Param("write_bag", "", "New bag with the input topics and the detected grasps ('' = none)."),
    Param("plot", True, "Write precision_at_k.png."),
]


def options_from_parameters(p: Mapping[str, Any]) -> "EvaluateBagOptions":
    """The :class:`~graspnet_ros.offline.evaluate_bag.EvaluateBagOptions` of the parameter values;
    ValueError when ``bag`` or ``dataset_root`` is missing."""
    from ..bags import BagTopics
    from .evaluate_bag import EvaluateBagOptions

    if not p["bag"] or not p["dataset_root"]:
        raise ValueError("parameters 'bag' and 'dataset_root' are required "
                         "(--ros-args -p bag:=BAG -p dataset_root:=ROOT)")
    topics = BagTopics(depth=p["depth_topic"], camera_info=p["camera_info_topic"],
                       cloud=p["cloud_topic"], identity=p["identity_topic"])
    return EvaluateBagOptions(
        bag=p["bag"], root=p["dataset_root"], out=p["out"], topics=topics,
        grasps_topic=p["grasps_topic"] or None, input=p["input"],
        detector_config=p["detector_config"] or None, every_n=p["every_n"],
        start=p["start"] if p["start"] >= 0 else None, end=p["end"] if p["end"] >= 0 else None,
        rate=p["rate"], workers=p["workers"], write_bag=p["write_bag"] or None, plot=p["plot"])
