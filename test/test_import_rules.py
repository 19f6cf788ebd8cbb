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


def module_level_imports(path: Path) -> list[str]:
    """The imports a module runs when it is imported (top-level statements; no TYPE_CHECKING blocks,
    no imports deferred into functions)."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    return imports_in("\n".join(ast.unparse(n) for n in top), package)


def test_no_import_cycle_at_import_time():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for name in module_level_imports(path):
            parts = name.split(".")
            target = next((".".join(parts[:k]) for k in range(len(parts), 0, -1)
                           if ".".join(parts[:k]) in modules), None)
            if target and target != mod:
                edges[mod].add(target)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def cycle_from(mod: str, path: list[str]) -> list[str] | None:
        state[mod] = 1
        for nxt in sorted(edges[mod]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [mod, nxt]
            if nxt not in state and (found := cycle_from(nxt, path + [nxt])):
                return found
        state[mod] = 2
        return None

    for mod in sorted(modules):
        if mod not in state:
            found = cycle_from(mod, [mod])
            assert found is None, " -> ".join(found)


def test_the_robot_package_never_imports_the_trials_on_top_of_it():
    bad = [f"{module_name(p)} imports {name}" for p in (PACKAGE / "robot").rglob("*.py") for name in imports(p)
           if name.startswith("graspnet_ros.trials")]
    assert not bad, "\n".join(bad)


def test_the_rule_checker_resolves_relative_and_deferred_imports():
    src = "def f():\n    from ..nodes.launcher import spin_nodes\nfrom . import segment\nimport rclpy.node\n"
    names = imports_in(src, "graspnet_ros.detection")
    assert "graspnet_ros.nodes.launcher.spin_nodes" in names and layer("graspnet_ros.nodes.launcher") == "nodes"
    assert "graspnet_ros.detection.segment" in names and "rclpy.node" in names


def declared_imports(package: Path) -> set[str] | None:
    """The graspnet_ros packages and modules a package's ``__init__`` docstring says it may import
    (its "Imports (graspnet_ros): a, b (why), c." paragraph); None for "any core package"."""
    import re

    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    found = re.search(r"Imports \(graspnet_ros\):(.*?)\.\s*$", doc, re.S)
    assert found, f"{package.name}/__init__.py: the docstring does not say what the package may import"
    text = re.sub(r"\([^)]*\)", "", " ".join(found.group(1).split()))
    if text.strip().startswith("any core package"):
        return None
    return {name.strip() for name in text.split(",") if name.strip()}


def test_every_package_imports_only_what_its_docstring_declares():
    packages = sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))
    assert len(packages) >= 10
    bad = []
    for package in packages:
        allowed = declared_imports(package)
        if allowed is None:
            continue
        for path in package.rglob("*.py"):
            for name in imports(path):
                target = layer(name)
                if name.startswith("graspnet_ros.") and target != package.name and target not in allowed:
                    bad.append(f"{module_name(path)} imports {name}, not declared in {package.name}/__init__.py")
    assert not bad, "\n".join(bad)
