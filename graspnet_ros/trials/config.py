"""The session configuration (YAML) and the detector callable of simulated clear-table runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .clear_table import Detector
from .score_bins import DEFAULT_BINS


# -- sessions: what the command, the node and the bench run ---------------------------------
@dataclass
class SessionConfig:
    """One trials session (``config/trials.yaml`` + command-line overrides).

    protocol: 'score-bins' or 'clear-table'; trials: grasps per object and bin
    (score-bins) or number of scenes when ``scenes`` is empty (clear-table);
    objects: primitive names for score-bins (all when empty); scenes: scene
    seeds for clear-table; out: output folder (trials.jsonl, results.json,
    success_rate.png); label_cache: folder for cached grasp labels.
    operator_confirm: the real-arm outcome path -- each trial's width-based
    proposal is confirmed or overridden by the operator (console or the
    trial_node's ``confirm_trial`` service, which waits ``confirm_timeout`` s
    and then keeps the proposal).

    Real-arm sessions (the executor config's ``robot.driver`` is not ``sim``;
    see :mod:`graspnet_ros.trials.real_arm`): camera_config: a
    camera_node.yaml-style file (source, camera_name, device settings);
    detector_config: a grasp_detector_node.yaml-style file (None: the
    package's); checkpoint: network weights (overrides the detector file's);
    bin_tolerance: score-bins window |predicted score - bin| (or 'nearest':
    each grasp goes to its nearest bin); objects: the names of the objects
    the operator places (score-bins); objects_per_scene: the default object
    count the operator confirms at each clear-table scene start. Real-arm
    outcomes always go through the operator, whatever ``operator_confirm`` says.
    """

    protocol: str = "score-bins"
    trials: int = 20
    objects: list[str] = field(default_factory=list)
    scenes: list[int] = field(default_factory=list)
    objects_per_scene: int = 5
    bins: tuple[float, ...] = DEFAULT_BINS
    seed: int = 0
    out: Path = Path("output/trials")
    max_consecutive_failures: int = 3
    negative_control: bool = False
    label_cache: Path | None = Path("output/trial_labels")
    labels: dict = field(default_factory=lambda: {"num_points": 60, "num_views": 120, "num_angles": 12,
                                                  "depths": [0.01, 0.02, 0.03, 0.04]})
    executor_config: Path | None = None
    operator_confirm: bool = False
    confirm_timeout: float = 120.0
    camera_config: Path | None = None
    detector_config: Path | None = None
    checkpoint: Path | None = None
    bin_tolerance: float | str = 0.05

    def __post_init__(self) -> None:
        if self.bin_tolerance != "nearest" and not (isinstance(self.bin_tolerance, (int, float))
                                                    and self.bin_tolerance > 0):
            raise ValueError(f"bin_tolerance must be a score window > 0 or 'nearest', got {self.bin_tolerance!r}")
        if self.protocol not in ("score-bins", "clear-table"):
            raise ValueError(f"unknown protocol '{self.protocol}'; use score-bins or clear-table")
        if self.trials < 1:
            raise ValueError(f"--trials must be >= 1, got {self.trials}")
        if not (self.confirm_timeout > 0):
            raise ValueError(f"confirm_timeout must be > 0 s, got {self.confirm_timeout}")
        self.out = Path(self.out)

    @classmethod
    def from_yaml(cls, path: str | Path | None, **overrides: Any) -> "SessionConfig":
        data: dict = {}
        if path is not None:
            import yaml

            path = Path(path)
            if not path.is_file():
                raise FileNotFoundError(f"trials config not found: {path}")
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown trials keys {sorted(unknown)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("out", "label_cache", "executor_config", "camera_config", "detector_config", "checkpoint"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        if "bins" in data:
            data["bins"] = tuple(float(b) for b in data["bins"])
        return cls(**data)


def load_detector(spec: str) -> Detector:
    """A detector from 'package.module:callable' (the callable takes an Observation)."""
    import importlib

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError(f"detector '{spec}' must look like 'package.module:callable'")
    obj = getattr(importlib.import_module(module), attr, None)
    if not callable(obj):
        raise ValueError(f"detector '{spec}': '{attr}' is not a callable in {module}")
    return obj
