"""trial_node's parameter table (ROS-free: the node declares it) and the session config its
values select. Empty / zero values leave the trials YAML's setting (see docs/nodes.md)."""

from __future__ import annotations

from typing import Any, Mapping

from ..params import Param
from .config import SessionConfig

__all__ = ["NODE_NAME", "PARAMETERS", "FILE_PARAMETERS", "session_config"]

NODE_NAME = "trial_node"

#: parameters naming a file ('' = the trials YAML's)
FILE_PARAMETERS = ("executor_config", "camera_config", "detector_config", "checkpoint")

PARAMETERS = [
    Param("config_file", "", "Trials YAML (config/trials.yaml); empty = the config defaults."),
    Param("protocol", "", "score-bins | clear-table ('' = the YAML's)."),
    Param("trials", 0, "Trials per object and bin (score-bins) or scenes (clear-table); 0 = the YAML's."),
    Param("out", "", "Output folder: trials.jsonl, results.json, success_rate.png ('' = the YAML's)."),
    Param("operator_confirm", False, "Real-arm outcome path: the operator confirms each width-based proposal "
          "on confirm_trial (false = the YAML's)."),
    Param("confirm_timeout", 0.0, "Seconds a proposal waits for confirm_trial before it is kept (0 = the YAML's)."),
    Param("executor_config", "", "Executor YAML; robot.driver ur_rtde or xarm runs on the real arm "
          "('' = the YAML's)."),
    Param("camera_config", "", "Real arm: camera_node.yaml-style file ('' = the YAML's)."),
    Param("detector_config", "", "Real arm: grasp_detector_node.yaml-style file ('' = the YAML's)."),
    Param("checkpoint", "", "Real arm: network checkpoint, overrides the detector file's ('' = the YAML's)."),
]


def session_config(p: Mapping[str, Any]) -> SessionConfig:
    """The session the node's parameter values select: the ``config_file`` YAML with every
    non-empty, non-zero parameter overriding it."""
    files = {name: p[name] or None for name in FILE_PARAMETERS}
    return SessionConfig.from_yaml(p["config_file"] or None, protocol=p["protocol"] or None,
                                   trials=p["trials"] or None, out=p["out"] or None,
                                   operator_confirm=True if p["operator_confirm"] else None,
                                   confirm_timeout=p["confirm_timeout"] or None, **files)
