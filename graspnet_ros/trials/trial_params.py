"""trial_node's parameter table (ROS-free: the node declares it; docs/nodes.md lists it) and the
session config its values select. Empty / zero values leave the trials YAML's setting."""

from __future__ import annotations

from typing import Any, Mapping

from ..params import Param
from .config import SessionConfig

__all__ = ["NODE_NAME", "PARAMETERS", "FILE_PARAMETERS", "session_config"]

NODE_NAME = "trial_node"

#: parameters naming a file ('' = the trials YAML's)
FILE_PARAMETERS = ("executor_config", "camera_config", "detector_config", "checkpoint")

PARAMETERS = [
    Param("config_file", "", "Trials YAML (`config/trials.yaml` layout; '' = the built-in defaults)."),
    Param("protocol", "", "score-bins | clear-table."),
    Param("trials", 0, "Score-bins: grasps per object and bin; clear-table: number of scenes."),
    Param("out", "", "Output folder (trials.jsonl, results.json, success_rate.png)."),
    Param("operator_confirm", False, "Simulation: judge outcomes by width + operator verdict (real arms always do)."),
    Param("confirm_timeout", 0.0, "Seconds a verdict is awaited on `confirm_trial` before the proposal is kept."),
    Param("executor_config", "", "Executor YAML (`config/executor.yaml` layout); `robot.driver` ur_rtde | xarm "
          "runs on that arm and needs `calibration`."),
    Param("camera_config", "", "Real arm: camera_node.yaml-style file (`source`, `camera_name`, device settings)."),
    Param("detector_config", "", "Real arm: grasp_detector_node.yaml-style file ('' = the package's)."),
    Param("checkpoint", "", "Real arm: network checkpoint (overrides the detector file's; none = the model-free "
          "baseline)."),
]


def session_config(p: Mapping[str, Any]) -> SessionConfig:
    """The session the node's parameter values select: the ``config_file`` YAML with every
    non-empty, non-zero parameter overriding it."""
    files = {name: p[name] or None for name in FILE_PARAMETERS}
    return SessionConfig.from_yaml(p["config_file"] or None, protocol=p["protocol"] or None,
                                   trials=p["trials"] or None, out=p["out"] or None,
                                   operator_confirm=True if p["operator_confirm"] else None,
                                   confirm_timeout=p["confirm_timeout"] or None, **files)
