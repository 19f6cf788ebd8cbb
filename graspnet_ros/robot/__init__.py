"""Robot execution: the arm protocol, the MuJoCo simulator, real drivers, safety.

ROS-free. ``base`` defines the :class:`Arm` protocol and the driver errors;
``sim`` the simulated arm (the embedded default); ``drivers`` thin adapters
over vendor SDKs (imported lazily); ``safety`` the checks run before any
motion; ``executor`` the grasp sequence; ``goal_inputs`` what an executor
goal may use (latest grasps and cloud, age limits) and ``executor_params``
executor_node's parameter table. The success-rate trials live in
:mod:`graspnet_ros.trials`, on top of this package.

Imports (graspnet_ros): calibration, grasp, gripper, params, pose_history, tool_frame, workspace.
"""

from .base import (Arm, ConnectionLost, GripperTimeout, LiftOracle, MotionStopped, ProtectiveStop, Recoverable,
                   RobotError, RobotUnreachable, SpeedLimits)

__all__ = ["Arm", "LiftOracle", "Recoverable", "SpeedLimits", "RobotError", "RobotUnreachable", "ProtectiveStop",
           "ConnectionLost", "MotionStopped", "GripperTimeout"]
