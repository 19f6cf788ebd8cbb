"""Sub-commands of ``graspnet-ros``: one module each, exposing ``register(subparsers)``.

``register`` adds an argparse sub-parser whose ``func(args) -> int`` runs the
job. Modules import their heavy dependencies inside ``func`` so that
``graspnet-ros --help`` stays fast.

Imports (graspnet_ros): any core package and nodes/ (lazily, for the ROS jobs); nothing in the
core imports commands/.
"""

#: Module names under graspnet_ros.commands, in help order.
COMMANDS = ("demo", "data", "eval", "train", "detect", "launch", "calibrate", "markers",
            "trials", "bag", "evaluate_bag", "run")
