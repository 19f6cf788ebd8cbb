"""calibration_node's parameter table (ROS-free: the node declares it) and the sample collector its
values configure. The calibration itself (target, topics, frames, hand-eye limits, output path) is
in the calibration YAML that ``config_file`` names (:mod:`.config`)."""

from __future__ import annotations

from typing import Any, Mapping

from ..params import Param
from .config import CalibrationConfig, default_config_path, load_config
from .samples import SampleCollector

__all__ = ["NODE_NAME", "PARAMETERS", "collector_from_parameters"]

NODE_NAME = "calibration_node"

PARAMETERS = [
    Param("config_file", "", "Calibration YAML ('' = the package's config/calibration.yaml)."),
    Param("mode", "", "eye-in-hand | eye-to-hand | views ('' = the config's mode)."),
    Param("output_path", "", "Result YAML ('' = the config's output.path)."),
    Param("camera_serial", "", "Camera serial recorded in the result ('' = the config's)."),
    Param("force_save", False, "Save even over a better or different calibration at the output path."),
    Param("debug_period", 0.2, "Seconds between debug images (0 = every image).", (0.0, 60.0)),
    Param("max_image_age", 2.0, "A sample needs an image received at most this many seconds ago.", (0.0, 3600.0)),
    Param("max_stamp_difference", 0.5, "Largest |image stamp - flange pose stamp| of a sample (s); "
          "negative disables the check.", (-1.0, 3600.0)),
    Param("publish_existing", True, "Publish the calibration already at the output path at start-up."),
]


def collector_from_parameters(p: Mapping[str, Any]) -> tuple[CalibrationConfig, SampleCollector]:
    """The calibration config (``config_file`` or the package's) and the collector the node's
    parameter values configure (empty values: the config's mode, output path and camera serial)."""
    config = load_config(p["config_file"] or default_config_path())
    collector = SampleCollector(config, p["mode"] or config.mode, p["output_path"] or config.output,
                                p["camera_serial"] or None, p["force_save"], p["max_image_age"],
                                p["max_stamp_difference"])
    return config, collector
