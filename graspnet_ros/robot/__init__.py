"""Robot execution: the arm protocol, the MuJoCo simulator, real drivers, safety, trials.

ROS-free. ``base`` defines the :class:`Arm` protocol and the driver errors;
``sim`` the simulated arm (the embedded default); ``drivers`` thin adapters
over vendor SDKs (imported lazily); ``safety`` the checks run before any
motion; ``executor`` the grasp sequence; ``trials`` the success-rate
protocols (score bins of the paper's Table 2, table clearing).
"""

from .base import (Arm, ConnectionLost, GripperTimeout, LiftOracle, MotionStopped, ProtectiveStop, Recoverable,
                   RobotError, RobotUnreachable, SpeedLimits)

__all__ = ["Arm", "LiftOracle", "Recoverable", "SpeedLimits", "RobotError", "RobotUnreachable", "ProtectiveStop",
           "ConnectionLost", "MotionStopped", "GripperTimeout"]
