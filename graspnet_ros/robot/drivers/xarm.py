"""UFACTORY xArm (5/6/7, Lite 6) with its gripper, through ``xarm-python-sdk``.

NOT TESTED WITHOUT HARDWARE: written against the public ``xarm.wrapper.
XArmAPI`` calls (``set_position`` in mm and radians, ``get_position``,
``set_gripper_position`` 0..850 = closed..open for the xArm Gripper,
``get_gripper_position``, ``set_state``, ``clean_error``); its stop and
recovery logic run in this project's tests against a fake ``XArmAPI`` that
reproduces the SDK's documented behaviour (``set_position(wait=True)``
blocks in ``wait_move`` until the motion ends and returns
``APIState.EMERGENCY_STOP`` (-9) once the state is 4 (stopped); motion
commands return ``APIState.NOT_READY`` (-2) until ``set_state(0)``; -1 = not
connected). Check it on the robot at low speed first.

Stop: :meth:`XArm.stop` puts the controller in state 4 (the SDK's stop,
non-blocking); the blocked motion call returns and raises
:class:`MotionStopped`. Recovery: :meth:`XArm.recover` reconnects if needed,
clears errors and warnings, re-enables motion and sets state 0 (ready).

Frames: poses are ``T_base<-tool`` of the TCP set on the controller (``tcp``
offset [x, y, z, roll, pitch, yaw] in m / rad, sent with ``set_tcp_offset``);
it must match ``tool_frame`` in ``config/executor.yaml``. xArm orientations
are roll-pitch-yaw about fixed axes (R = Rz(yaw) Ry(pitch) Rx(roll)).
Install: ``pip install xarm-python-sdk``.
"""

from __future__ import annotations

import threading
import time

import numpy as np
from scipy.spatial.transform import Rotation

from ..base import (MAX_ACCELERATION, MAX_LINEAR_SPEED, ConnectionLost, MotionStopped, ProtectiveStop,
                    RobotUnreachable, SpeedLimits, as_pose)

#: Gripper counts for fully open (xArm Gripper: 850 counts = 85 mm).
_GRIPPER_OPEN_COUNTS = 850.0
#: xarm.core.config.x_code.APIState values the driver interprets.
API_NOT_CONNECTED, API_NOT_READY, API_EMERGENCY_STOP = -1, -2, -9
#: Controller states (XArmAPI.state): 1 moving, 2 sleeping, 3 paused, 4 stopped, 5 (error) stopped.
STATE_READY, STATE_STOPPED = 0, (4, 5)


def _import_sdk():
    try:
        from xarm.wrapper import XArmAPI
    except ImportError as exc:
        raise ImportError("the xarm driver needs the UFACTORY SDK: pip install xarm-python-sdk") from exc
    return XArmAPI


class XArm:
    """An xArm implementing :class:`~graspnet_ros.robot.base.Arm`.

    host: controller IP; tcp: optional TCP offset [x, y, z, roll, pitch, yaw]
    (m, rad); gripper_max_width: m at 850 counts.
    """

    def __init__(self, host: str, tcp: list[float] | None = None, gripper_max_width: float = 0.085) -> None:
        XArmAPI = _import_sdk()
        self._arm = XArmAPI(host, is_radian=True)
        if not self._arm.connected:
            raise ConnectionLost(f"xArm controller at {host} not reachable")
        self._arm.clean_error()
        self._arm.motion_enable(enable=True)
        self._arm.set_mode(0)
        self._arm.set_state(0)
        if tcp is not None:
            t = list(map(float, tcp))
            self._arm.set_tcp_offset([1000 * v for v in t[:3]] + t[3:], is_radian=True)
        self._arm.set_gripper_enable(True)
        self.max_width = gripper_max_width
        self._stop_requested = threading.Event()

    def _check(self, code: int, what: str) -> None:
        if not self._arm.connected or code == API_NOT_CONNECTED:
            raise ConnectionLost(f"xArm connection lost during {what}")
        if code == 0:
            return
        if self._stop_requested.is_set():
            raise MotionStopped(f"xArm {what} interrupted by stop (code {code}); call reset to continue")
        if self._arm.has_error or self._arm.state in STATE_STOPPED or code in (API_EMERGENCY_STOP, API_NOT_READY):
            raise ProtectiveStop(f"xArm stopped during {what} (code {code}, state {self._arm.state}, "
                                 f"error {self._arm.error_code}); call reset to recover")
        raise RobotUnreachable(f"xArm refused {what} (code {code})")

    def tool_pose(self) -> np.ndarray:
        code, p = self._arm.get_position(is_radian=True)
        self._check(code, "get_position")
        T = np.eye(4)
        T[:3, 3] = np.asarray(p[:3]) / 1000.0
        T[:3, :3] = Rotation.from_euler("xyz", p[3:6]).as_matrix()
        return T

    def move_tool(self, pose: np.ndarray, speed: SpeedLimits = SpeedLimits()) -> None:
        T = as_pose(pose)
        if self._stop_requested.is_set():
            raise MotionStopped("xArm is stopped; call reset to continue")
        x, y, z = (1000.0 * T[:3, 3]).tolist()
        roll, pitch, yaw = Rotation.from_matrix(T[:3, :3]).as_euler("xyz").tolist()
        code = self._arm.set_position(x, y, z, roll, pitch, yaw, speed=1000.0 * min(speed.linear, MAX_LINEAR_SPEED),
                                      mvacc=1000.0 * min(speed.acceleration, MAX_ACCELERATION), is_radian=True,
                                      wait=True)
        self._check(code, "set_position")

    def open_gripper(self, width: float) -> None:
        counts = _GRIPPER_OPEN_COUNTS * float(np.clip(width / self.max_width, 0.0, 1.0))
        self._check(self._arm.set_gripper_position(counts, wait=True), "set_gripper_position")

    def close_gripper(self, force: float) -> None:
        # The xArm Gripper has no force setting through this call; it stops on contact.
        self._check(self._arm.set_gripper_position(0, wait=True), "set_gripper_position")

    def gripper_width(self) -> float:
        code, counts = self._arm.get_gripper_position()
        self._check(code, "get_gripper_position")
        return self.max_width * float(counts) / _GRIPPER_OPEN_COUNTS

    def gripper_contact(self) -> bool | None:
        return None  # not reported by the xArm Gripper; the executor judges by width

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def stop(self) -> None:
        """State 4 (the SDK's stop): returns at once; the blocked motion call raises MotionStopped."""
        self._stop_requested.set()
        if not self._arm.connected:
            raise ConnectionLost("xArm connection lost: cannot send stop (the controller stops on link loss)")
        self._arm.set_state(4)

    def recover(self) -> None:
        """Reconnect if needed, clear errors/warnings, enable motion, state 0 (ready)."""
        if not self._arm.connected:
            self._arm.connect()
            if not self._arm.connected:
                raise ConnectionLost("xArm controller still not reachable; check the cable and power")
        self._arm.clean_error()
        self._arm.clean_warn()
        self._arm.motion_enable(enable=True)
        self._arm.set_mode(0)
        self._arm.set_state(STATE_READY)
        if self._arm.has_error or self._arm.state in STATE_STOPPED:
            raise ProtectiveStop(f"xArm did not leave its stop state (state {self._arm.state}, error "
                                 f"{self._arm.error_code}): clear the cause on the controller first")
        self._arm.set_gripper_enable(True)
        self._stop_requested.clear()
