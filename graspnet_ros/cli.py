"""The ``graspnet-ros`` command: every job of the package, without a ROS install."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graspnet-ros", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".commands.{name}", __package__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.commands.{name}":
                continue  # command not part of this build
            raise
        module.register(sub)
    return parser


def _fs_error(exc: OSError) -> str:
    """One line for a file-system error: what failed, on which path, and why."""
    what = {FileNotFoundError: "not found", IsADirectoryError: "is a directory",
            NotADirectoryError: "a parent of the path is not a directory (a file is in the way)",
            PermissionError: "permission denied", FileExistsError: "already exists"}
    reason = next((v for k, v in what.items() if isinstance(exc, k)), exc.strerror or str(exc))
    path = exc.filename if exc.filename is not None else ""
    if not path:
        return str(exc)
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and os.path.isfile(path):
        reason = "is a file, not a folder (choose another output path)"
    return f"{path}: {reason}" + (f" (-> {exc.filename2})" if exc.filename2 else "")


def main(argv: list[str] | None = None) -> int:
    # DDS stays on this machine unless the user set ROS_AUTOMATIC_DISCOVERY_RANGE (README: Network traffic).
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        print(f"graspnet-ros {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # file-system errors of every command: one clear line, no traceback
        message = _fs_error(exc) if exc.filename is not None else str(exc)
        print(f"graspnet-ros {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
