"""UFACTORY xArm (5/6/7, Lite 6) with its gripper, through ``xarm-python-sdk``.

NOT TESTED WITHOUT HARDWARE: written against the public ``xarm.wrapper.
XArmAPI`` calls (``set_position`` in mm and radians, ``get_position``,
``set_gripper_position`` 0..850 = closed..open for the xArm Gripper,
``get_gripper_position``, ``emergency_stop``); only its import path and error
handling run in this project's tests. Check it on the robot at low speed first.

Frames: poses are ``T_base<-tool`` of the TCP set on the controller (``tcp``
offset [x, y, z, roll, pitch, yaw] in m / rad, sent with ``set_tcp_offset``);
it must match ``tool_frame`` in ``config/executor.yaml``. xArm orientations
are roll-pitch-yaw about fixed axes (R = Rz(yaw) Ry(pitch) Rx(roll)).
Install: ``pip install xarm-python-sdk``.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.spatial.transform import Rotation

from ..base import ConnectionLost, ProtectiveStop, RobotUnreachable, SpeedLimits, as_pose

#: Gripper counts for fully open (xArm Gripper: 850 counts = 85 mm).
_GRIPPER_OPEN_COUNTS = 850.0


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

    def _check(self, code: int, what: str) -> None:
        if not self._arm.connected:
            raise ConnectionLost(f"xArm connection lost during {what}")
        if code == 0:
            return
        if self._arm.has_error or self._arm.state == 4:
            raise ProtectiveStop(f"xArm stopped during {what} (code {code}, error {self._arm.error_code})")
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
        x, y, z = (1000.0 * T[:3, 3]).tolist()
        roll, pitch, yaw = Rotation.from_matrix(T[:3, :3]).as_euler("xyz").tolist()
        code = self._arm.set_position(x, y, z, roll, pitch, yaw, speed=1000.0 * speed.linear,
                                      mvacc=1000.0 * speed.acceleration, is_radian=True, wait=True)
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
        self._arm.set_state(4)
