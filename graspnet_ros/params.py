"""Parameter tables of the nodes, without ROS: name, default, description, range.

Each node lists its parameters as :class:`Param` entries, in one table beside
the core it configures: ``detection/detector_params.py``,
``cameras/camera_params.py``, ``calibration/calibration_params.py``,
``robot/executor_params.py``, ``trials/trial_params.py``,
``offline/evaluate_bag_params.py``. The rclpy side
(:func:`graspnet_ros.nodes.params.declare_all`) declares them with
descriptors; ROS-free tools (offline evaluate_bag, real-arm trials) read the
same tables for their defaults, and ``docs/nodes.md`` documents them (a test
checks they agree).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARRAY_TYPES = ("int[]", "double[]", "string[]")


@dataclass(frozen=True)
class Param:
    """One parameter: name, default (its type fixes the parameter type), description,
    optional inclusive (low, high) range for numbers, and the type of an empty-list
    default ("int[]", "double[]" or "string[]")."""

    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None
    empty_type: str | None = None

    def __post_init__(self) -> None:
        if self.empty_type is not None and self.empty_type not in ARRAY_TYPES:
            raise ValueError(f"parameter {self.name}: empty_type must be one of {ARRAY_TYPES}, "
                             f"got {self.empty_type!r}")

    @property
    def type_name(self) -> str:
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, int):
            return "int"
        if isinstance(self.default, float):
            return "double"
        if isinstance(self.default, str):
            return "string"
        if not self.default:
            return self.empty_type or "string[]"
        first = self.default[0]
        return ("double[]" if isinstance(first, float) else "int[]" if isinstance(first, int)
                else "string[]")


def read_node_parameters(path: str | Path, node: str, required: bool = True) -> dict:
    """The ``ros__parameters`` of ``node`` in a ROS 2 parameter file: the ``/**`` section,
    then the node's own (``node``, ``/node`` or ``/<namespace>/node``). ``required``: a file
    without any of them is an error (else an empty dict)."""
    import yaml

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{node} parameter file not found: {path}")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a ROS 2 parameter file (/**: ros__parameters: ...)")
    sections = ["/**"] + [k for k in doc if k != "/**" and str(k).rstrip("/").split("/")[-1] == node]
    params: dict = {}
    for section in sections:
        params.update((doc.get(section) or {}).get("ros__parameters") or {})
    if required and not params:
        raise ValueError(f"{path}: no ros__parameters under '/**' or '{node}'")
    return params


def cache_root() -> Path:
    """Where the package caches what it computes once (prepared objects, SDFs):
    ``$GRASPNET_ROS_CACHE``, default ``~/.cache/graspnet_ros``."""
    root = os.environ.get("GRASPNET_ROS_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "graspnet_ros"


def default_config_dir() -> Path:
    """The package's ``config/`` (one file per node): the source tree's when present, else the
    installed ament share directory's."""
    src = Path(__file__).resolve().parents[1] / "config"
    if (src / "camera_node.yaml").is_file():
        return src
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("graspnet_ros")) / "config"
    except Exception:  # noqa: BLE001 - no ament index: report the source path
        return src
