"""Extrinsic calibration with ArUco markers and ChArUco boards (ROS-free).

- :mod:`.targets`: marker / board definitions from config (target frame: centre,
  x right, y up as printed, z out of the face).
- :mod:`.detect`: detection, corner refinement, pose of the target in the camera
  (``T_cam<-target``) with reprojection error, rejection with reasons.
- :mod:`.poses`: per-view camera poses (``camera_poses.npy``: ``T_cam0<-cam_i``)
  and ``cam0_wrt_table`` (``T_table<-cam0``), transform helpers.
- :mod:`.handeye`: eye-in-hand (``T_flange<-cam``) and eye-to-hand (``T_base<-cam``)
  with OpenCV's methods where available and a numpy Park-Martin fallback.
- :mod:`.fusion`: multi-view point-cloud fusion with optional ICP (Open3D).
- :mod:`.result`: YAML results, never overwriting a better calibration.
- :mod:`.render`: synthetic images of a target at a known pose (tests, demo).
- :mod:`.config`, :mod:`.pipeline`: the shared config file and the steps the
  node and ``graspnet-ros calibrate`` run.
- :mod:`.samples`, :mod:`.calibration_params`: calibration_node's sample rules
  (collect, solve, save) and parameter table.

Units: metres, degrees in reports, pixels for image quantities.

Imports (graspnet_ros): _native, cameras (geometry), dataset, params, views.
"""

from .config import CALIBRATION_MODES, CalibrationConfig, default_config_path, load_config
from .detect import DetectionError, DetectionLimits, TargetPose, detect_target
from .handeye import HandEyeLimits, HandEyeResult, opencv_methods, solve_hand_eye
from .poses import cam0_wrt_table, camera_poses_from_targets, invert, pose_error
from .result import CalibrationResult, load_calibration, save_calibration
from .targets import CharucoTarget, MarkerTarget, Target, target_from_config

__all__ = ["CALIBRATION_MODES", "CalibrationConfig", "default_config_path", "load_config", "DetectionError",
           "DetectionLimits", "TargetPose", "detect_target", "HandEyeLimits", "HandEyeResult", "opencv_methods",
           "solve_hand_eye", "cam0_wrt_table", "camera_poses_from_targets", "invert", "pose_error",
           "CalibrationResult", "load_calibration", "save_calibration", "CharucoTarget", "MarkerTarget", "Target",
           "target_from_config"]
