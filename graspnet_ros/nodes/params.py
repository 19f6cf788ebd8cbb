"""Declaring node parameters from one table: type, default, description, range.

Each node lists its parameters as :class:`~graspnet_ros.params.Param` entries
(ROS-free, so offline tools read the same tables); :func:`declare_all`
declares them with a ``ParameterDescriptor`` (description, numeric range,
read-only flag) and returns their values as a flat dict, and the same table
is what ``docs/nodes.md`` documents (a test checks they agree).
"""

from __future__ import annotations

from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterUninitializedException
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..params import Param

__all__ = ["Param", "declare_all"]


_ARRAY_TYPES = {"int[]": Parameter.Type.INTEGER_ARRAY, "double[]": Parameter.Type.DOUBLE_ARRAY,
                "string[]": Parameter.Type.STRING_ARRAY}


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
            node.declare_parameter(p.name, _ARRAY_TYPES[p.type_name], _descriptor(p))
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
