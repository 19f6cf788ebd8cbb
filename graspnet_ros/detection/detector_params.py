"""grasp_detector_node's parameter table (ROS-free: the node declares it; the
offline evaluate_bag and the real-arm trials read its defaults and build the
node's pipeline from it). Documented in docs/nodes.md;
``config/grasp_detector_node.yaml`` overrides the defaults."""

from __future__ import annotations

from pathlib import Path

from ..params import Param, default_config_dir, read_node_parameters
from .detectors import DETECTOR_KINDS, make_detector
from .runner import DetectionPipeline, pipeline_config
from .segment import SEGMENTATION_PARAMETERS

NODE_NAME = "grasp_detector_node"

PARAMETERS = [
    Param("input", "cloud", "Input: cloud (PointCloud2) or depth (depth Image + CameraInfo)."),
    Param("cloud_topic", "camera/depth/color/points", "PointCloud2 input topic (input: cloud)."),
    Param("depth_topic", "camera/aligned_depth_to_color/image_raw",
          "Depth image topic, 16UC1 mm or 32FC1 m (input: depth)."),
    Param("camera_info_topic", "camera/aligned_depth_to_color/camera_info",
          "CameraInfo of the depth image (input: depth)."),
    Param("input_qos", "auto", "Input subscription QoS: auto (best effort as soon as a best-effort "
          "publisher appears, else reliable), sensor_data (best effort: matches any publisher, but Fast DDS "
          "loses messages over ~0.5 MB between processes) or reliable (reliable publishers only)."),
    Param("depth_stride", 1, "Use every n-th depth pixel in both directions (input: depth).", (1, 16)),
    Param("detector", "auto", f"Detector: {' | '.join(DETECTOR_KINDS)} (auto: model if a checkpoint is "
          "given, else the model-free baseline)."),
    Param("checkpoint", "", "Network checkpoint file, or 'shipped' for the package's trained cpu "
          "checkpoint ('' = none)."),
    Param("device", "cpu", "Torch device of the network."),
    Param("score_calibration", "auto", "Map of the detector's raw scores to the friction label they predict "
          "(1.1 - mu): auto (the baseline's shipped map, or NAME.scores.json beside checkpoint NAME.pt), none "
          "(raw scores) or a JSON file (bench/bench_score_calibration.py fits one)."),
    Param("workspace.lower", [-0.5, -0.5, 0.1], "Workspace box lower corner in the input frame (m)."),
    Param("workspace.upper", [0.5, 0.5, 1.5], "Workspace box upper corner in the input frame (m)."),
    Param("voxel_size", 0.005, "Voxel downsampling edge (m, 0 = off).", (0.0, 0.1)),
    Param("max_points", 20000, "Points kept after downsampling (random subsample).", (100, 1000000)),
    Param("max_input_points", 3000000, "Larger clouds are rejected with an error.", (1000, 100000000)),
    Param("max_grasps", 50, "Grasps published after NMS (best first).", (1, 10000)),
    Param("min_score", 0.0, "Grasps scoring below are dropped.", (-10.0, 10.0)),
    Param("nms_translation", 0.03, "Pose-NMS distance threshold (m, 0 = no NMS).", (0.0, 1.0)),
    Param("nms_rotation_deg", 30.0, "Pose-NMS angle threshold (degrees).", (0.0, 180.0)),
    Param("tool_frame.convention", "z_approach", "best_grasp pose convention: graspnet | z_approach."),
    Param("tool_frame.tcp_offset", 0.0, "Tool-frame origin behind the fingertip centre along the approach (m).",
          (-1.0, 1.0)),
    Param("moveit.enabled", True, "Publish grasps_moveit (grasping_msgs/GraspableObject with moveit_msgs/Grasp[]) "
          "and serve the plan_grasps action (grasping_msgs/GraspPlanning), where those packages exist."),
    Param("moveit.finger_joints", ["panda_finger_joint1", "panda_finger_joint2"],
          "Gripper finger joints (prismatic, one per finger) of pre_grasp_posture / grasp_posture."),
    Param("moveit.open_width", 0.08, "Jaw opening of pre_grasp_posture (m; each finger at half).", (0.0, 1.0)),
    Param("moveit.max_effort", 20.0, "Finger effort of grasp_posture and max_contact_force (N, 0 = unset).",
          (0.0, 10000.0)),
    Param("moveit.approach_distance", 0.10, "pre_grasp_approach desired distance along the approach (m).",
          (0.0, 1.0)),
    Param("moveit.min_approach", 0.05, "pre_grasp_approach minimum distance (m).", (0.0, 1.0)),
    Param("moveit.retreat_distance", 0.10, "post_grasp_retreat desired distance back along the approach (m).",
          (0.0, 1.0)),
    Param("moveit.min_retreat", 0.05, "post_grasp_retreat minimum distance (m).", (0.0, 1.0)),
    Param("markers.max", 20, "Grasps drawn in the MarkerArray.", (0, 1000)),
    Param("markers.line_width", 0.003, "Marker line width (m).", (0.0001, 0.1)),
    Param("seed", 0, "Seed of the random subsampling and of the model-free detector.", (0, 2**31 - 1)),
    Param("fusion.views", 1, "Multi-view fusion (a camera on the arm): detect on the last n input clouds, each "
          "placed by TF (fusion.fixed_frame <- cloud frame at its stamp) and merged in the newest cloud's frame; "
          "1 = off.", (1, 32)),
    Param("fusion.fixed_frame", "base_link", "Frame that stays put while the camera moves (TF root side of the "
          "camera chain), in which the views are registered."),
    Param("fusion.max_age", 10.0, "Clouds stamped more than this before the newest are not fused (s).",
          (0.01, 3600.0)),
    Param("fusion.tf_timeout", 0.5, "How long a cloud waits for its camera pose on /tf before it is refused (s).",
          (0.0, 10.0)),
] + SEGMENTATION_PARAMETERS


def default_detector_config() -> Path:
    """``config/grasp_detector_node.yaml`` of the source tree or the ament share folder."""
    return default_config_dir() / f"{NODE_NAME}.yaml"


def detector_params(config: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The live node's parameters: its declared defaults, then the YAML's
    ``/**`` and ``grasp_detector_node`` sections (also namespaced), then ``overrides``."""
    params = {p.name: p.default for p in PARAMETERS}
    params.update(read_node_parameters(config or default_detector_config(), NODE_NAME, required=False))
    for key, value in (overrides or {}).items():
        if key not in params:
            raise ValueError(f"unknown detector parameter '{key}'; known: {sorted(params)}")
        params[key] = value
    return params


def build_pipeline(params: dict, **model_options) -> DetectionPipeline:
    """DetectionPipeline built exactly as ``GraspDetectorNode.__init__`` builds it (``model_options``:
    see :func:`.detectors.make_detector`)."""
    options = {"score_calibration": params["score_calibration"], **model_options}
    detector = make_detector(params["detector"], params["checkpoint"] or None, params["device"],
                             seed=params["seed"], **options)
    return DetectionPipeline(detector, pipeline_config(params))
