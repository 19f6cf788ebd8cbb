"""The package's layering, read from the imports of every module (AST, nothing imported):
the ROS-free core never imports the ROS layer (``nodes/``) or the command line (``commands/``,
``cli``); only ``nodes/`` and ``msg``/``srv``/``action`` users may import rclpy or ROS
message packages."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "graspnet_ros"
TOP = ("nodes", "commands", "cli", "__main__")  # the layers on top of the core
ROS_MODULES = ("rclpy", "sensor_msgs", "geometry_msgs", "std_msgs", "builtin_interfaces", "visualization_msgs",
               "diagnostic_msgs", "tf2_msgs", "moveit_msgs", "grasping_msgs", "rosidl_runtime_py")


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports (top level and inside functions)."""
    mod = module_name(path)
    return imports_in(path.read_text(encoding="utf-8"), mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0])


def imports_in(source: str, package: str) -> list[str]:
    """Absolute imported names of module source code that lives in ``package``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            out.append(prefix)
            out += [f"{prefix}.{a.name}" for a in node.names]
    return out


def layer(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def core_modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if layer(module_name(p)) not in TOP]


def test_the_core_never_imports_the_ros_layer_or_the_command_line():
    bad = [f"{module_name(p)} imports {name}" for p in core_modules() for name in imports(p)
           if name.startswith("graspnet_ros.") and layer(name) in TOP]
    assert not bad, "\n".join(bad)


def test_the_core_needs_no_ros_message_package():
    bad = [f"{module_name(p)} imports {name}" for p in core_modules() for name in imports(p)
           if name.split(".")[0] in ROS_MODULES or name.startswith(("graspnet_ros.msg.", "graspnet_ros.srv.",
                                                                    "graspnet_ros.action."))]
    assert not bad, "\n".join(bad)


def test_the_rule_checker_resolves_relative_and_deferred_imports():
    src = "def f():\n    from ..nodes.launcher import spin_nodes\nfrom . import segment\nimport rclpy.node\n"
    names = imports_in(src, "graspnet_ros.pipeline")
    assert "graspnet_ros.nodes.launcher.spin_nodes" in names and layer("graspnet_ros.nodes.launcher") == "nodes"
    assert "graspnet_ros.pipeline.segment" in names and "rclpy.node" in names
