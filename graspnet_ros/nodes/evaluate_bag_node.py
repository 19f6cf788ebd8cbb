"""evaluate_bag: offline benchmark of a rosbag2 recording as a ROS 2 executable.

``ros2 run graspnet_ros evaluate_bag --ros-args -p bag:=BAG -p dataset_root:=ROOT``
reads its parameters, runs :func:`graspnet_ros.offline.evaluate_bag.evaluate_bag`
(the same detector code and YAML as grasp_detector_node, or a recorded
GraspArray topic with ``grasps_topic``), logs the AP table and exits
(status 0 when at least one frame was evaluated). The detector's parameter
file is ``detector_config`` (default: the package's grasp_detector_node.yaml).
"""

from __future__ import annotations

import sys

from rclpy.node import Node

from .params import Param, declare_all

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


class EvaluateBagNode(Node):
    """Declares the parameters; :meth:`run` does the work once."""

    def __init__(self, **kwargs) -> None:
        super().__init__("evaluate_bag", **kwargs)
        self.p = declare_all(self, PARAMETERS)

    def options(self):
        from ..bags import BagTopics
        from ..offline.evaluate_bag import EvaluateBagOptions

        p = self.p
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

    def run(self):
        """Evaluate the bag; returns the EvaluateBagReport."""
        from ..offline.evaluate_bag import evaluate_bag

        log = self.get_logger()
        report = evaluate_bag(self.options(), log=log.info)
        for line in report.table.splitlines():
            log.info(line)
        log.info(f"{report.num_frames} frames evaluated, {report.skipped.total} skipped "
                 f"{dict(report.skipped.counts)}; results in {report.paths.get('json')}")
        return report


def main(args: list[str] | None = None) -> int:
    import rclpy

    from .spin import ensure_loopback_default

    ensure_loopback_default()
    rclpy.init(args=args)
    node = None
    try:
        node = EvaluateBagNode()
        report = node.run()
        return 0 if report.num_frames else 1
    except (ValueError, FileNotFoundError) as exc:
        if node is not None:
            node.get_logger().error(str(exc))
        else:
            print(f"evaluate_bag: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
