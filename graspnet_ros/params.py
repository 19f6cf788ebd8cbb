"""Parameter tables of the nodes, without ROS: name, default, description, range.

Each node lists its parameters as :class:`Param` entries. The rclpy side
(:func:`graspnet_ros.nodes.params.declare_all`) declares them with
descriptors; ROS-free tools (offline evaluate_bag, real-arm trials) read the
same tables for their defaults, and ``docs/nodes.md`` documents them (a test
checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass
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
