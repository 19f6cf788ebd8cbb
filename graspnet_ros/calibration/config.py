"""The calibration config (``config/calibration.yaml``), shared by the node and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .detect import DetectionLimits
from .handeye import MODES, HandEyeLimits
from .targets import Target, target_from_config

__all__ = ["CalibrationConfig", "load_config", "default_config_path", "CALIBRATION_MODES"]

#: Calibration modes: the two hand-eye set-ups and per-view camera poses against a fixed target.
CALIBRATION_MODES = MODES + ("views",)

_DEFAULT_FRAMES = {"base": "base_link", "flange": "tool0", "camera": "camera_color_optical_frame",
                   "target": "calibration_target"}
_DEFAULT_TOPICS = {"image": "/camera/camera/color/image_raw", "camera_info": "/camera/camera/color/camera_info",
                   "flange_pose": "/robot/flange_pose", "debug_image": "calibration/debug_image",
                   "transform": "calibration/transform"}


@dataclass
class CalibrationConfig:
    """Parsed calibration.yaml. See the file's comments for each key."""

    target: Target
    detection: DetectionLimits = field(default_factory=DetectionLimits)
    mode: str = "eye-to-hand"
    handeye: HandEyeLimits = field(default_factory=HandEyeLimits)
    methods: tuple[str, ...] | None = None
    refine: bool = True
    frames: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_FRAMES))
    topics: dict[str, str] = field(default_factory=lambda: dict(_DEFAULT_TOPICS))
    output: Path = Path("~/.ros/graspnet_ros/camera_calibration.yaml")
    camera_serial: str = ""

    def __post_init__(self) -> None:
        if self.mode not in CALIBRATION_MODES:
            raise ValueError(f"mode must be one of {', '.join(CALIBRATION_MODES)}, got {self.mode!r}")

    def frame_pair(self, mode: str | None = None) -> tuple[str, str]:
        """(parent, child) frame names of the transform a calibration in ``mode`` produces."""
        mode = mode or self.mode
        parent = {"eye-in-hand": "flange", "eye-to-hand": "base", "views": "target"}[mode]
        return self.frames[parent], self.frames["camera"]

    @classmethod
    def from_dict(cls, cfg: dict[str, Any], source: str = "config") -> "CalibrationConfig":
        if not isinstance(cfg, dict) or "target" not in cfg:
            raise ValueError(f"{source}: a calibration config needs a 'target:' section")
        known = {"target", "detection", "mode", "handeye", "frames", "topics", "output"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"{source}: unknown top-level keys {sorted(unknown)} (known: {sorted(known)})")
        he = dict(cfg.get("handeye") or {})
        unknown = set(he) - {"methods", "refine", "limits"}
        if unknown:
            raise ValueError(f"{source}: unknown handeye keys {sorted(unknown)}")
        frames, topics = dict(_DEFAULT_FRAMES), dict(_DEFAULT_TOPICS)
        for name, given, into in (("frames", cfg.get("frames"), frames), ("topics", cfg.get("topics"), topics)):
            extra = set(given or {}) - set(into)
            if extra:
                raise ValueError(f"{source}: unknown {name} keys {sorted(extra)} (known: {sorted(into)})")
            into.update({k: str(v) for k, v in (given or {}).items()})
        out = dict(cfg.get("output") or {})
        methods = he.get("methods")
        return cls(target=target_from_config(cfg["target"]),
                   detection=DetectionLimits.from_config(cfg.get("detection")),
                   mode=str(cfg.get("mode", "eye-to-hand")),
                   handeye=HandEyeLimits.from_config(he.get("limits")),
                   methods=None if methods is None else tuple(str(m) for m in methods),
                   refine=bool(he.get("refine", True)), frames=frames, topics=topics,
                   output=Path(str(out.get("path", "~/.ros/graspnet_ros/camera_calibration.yaml"))),
                   camera_serial=str(out.get("camera_serial", "") or ""))


def load_config(path: str | Path) -> CalibrationConfig:
    """Read and validate a calibration YAML file; ValueError/FileNotFoundError name the problem."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"calibration config {path} not found (see config/calibration.yaml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    return CalibrationConfig.from_dict(data, str(path))


def default_config_path() -> Path:
    """config/calibration.yaml of the source tree, else of the installed ROS package share."""
    from ..params import default_config_dir

    return default_config_dir() / "calibration.yaml"
