"""Declaring node parameters from one table: type, default, description, range.

Each node lists its parameters as :class:`Param` entries; :func:`declare_all`
declares them with a ``ParameterDescriptor`` (description, numeric range,
read-only flag) and returns their values as a flat dict, and the same table
is what ``docs/nodes.md`` documents (a test checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

__all__ = ["Param", "declare_all"]


@dataclass(frozen=True)
class Param:
    """One parameter: name, default (its type fixes the parameter type), description,
    optional inclusive (low, high) range for numbers, and the type of an empty-list default."""

    name: str
    default: Any
    description: str
    range: tuple[float, float] | None = None
    empty_type: Parameter.Type | None = None  # for list defaults that are empty

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
        if self.empty_type is not None:
            return {Parameter.Type.INTEGER_ARRAY: "int[]", Parameter.Type.DOUBLE_ARRAY: "double[]",
                    Parameter.Type.STRING_ARRAY: "string[]"}[self.empty_type]
        first = self.default[0]
        return ("double[]" if isinstance(first, float) else "int[]" if isinstance(first, int)
                else "string[]")


def _descriptor(p: Param) -> ParameterDescriptor:
    d = ParameterDescriptor(description=p.description)
    if p.range is not None:
        lo, hi = p.range
        if isinstance(p.default, bool):
            pass
        elif isinstance(p.default, int):
            d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
        elif isinstance(p.default, float):
            d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
    return d


def declare_all(node: Node, params: list[Param]) -> dict[str, Any]:
    """Declare every parameter and return {name: value} (values from YAML / overrides win)."""
    values: dict[str, Any] = {}
    for p in params:
        if isinstance(p.default, list) and not p.default:
            node.declare_parameter(p.name, p.empty_type or Parameter.Type.STRING_ARRAY, _descriptor(p))
        else:
            node.declare_parameter(p.name, p.default, _descriptor(p))
        try:
            value = node.get_parameter(p.name).value
        except ParameterUninitializedException:
            value = []
        if value is not None and not isinstance(value, (str, bool, int, float)):
            value = list(value)  # arrays come back as array.array / tuples
        values[p.name] = value
    return values
