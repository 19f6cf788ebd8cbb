"""Universal Robots (CB3 / e-Series) through ``ur_rtde``, with a Robotiq 2F gripper.

NOT TESTED WITHOUT HARDWARE: this adapter was written against the public
``ur_rtde`` API (``RTDEControlInterface.moveL``, ``RTDEReceiveInterface.
getActualTCPPose`` / ``isProtectiveStopped``) and the Robotiq URCap socket
protocol (port 63352: ``SET POS``/``GET POS``/``GET OBJ``); only its import
path and error handling run in this project's tests. Check it on the robot at
low speed first.

Frames: poses are ``T_base<-tool`` of the TCP configured on the controller
(``tcp`` here, [x, y, z, rx, ry, rz] in m / rotation vector, sent with
``setTcp``); it must match ``tool_frame`` in ``config/executor.yaml``.
Install: ``pip install ur_rtde``.
"""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
from scipy.spatial.transform import Rotation

from ..base import ConnectionLost, ProtectiveStop, RobotUnreachable, SpeedLimits, as_pose


def _import_sdk():
    try:
        import rtde_control
        import rtde_receive
    except ImportError as exc:
        raise ImportError("the ur_rtde driver needs the Universal Robots RTDE SDK: pip install ur_rtde") from exc
    return rtde_control, rtde_receive


def pose_to_ur(pose: np.ndarray) -> list[float]:
    """[x, y, z, rx, ry, rz] (m, rotation vector) of a 4x4 pose."""
    T = as_pose(pose)
    return [*T[:3, 3].tolist(), *Rotation.from_matrix(T[:3, :3]).as_rotvec().tolist()]


def ur_to_pose(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(6)
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(v[3:]).as_matrix()
    T[:3, 3] = v[:3]
    return T


class RobotiqSocket:
    """Robotiq 2F-85/140 through the URCap's ASCII socket (port 63352).

    Positions 0 (open) .. 255 (closed) map linearly to widths
    ``max_width`` .. 0 m. Object status (``GET OBJ``): 2 = stopped on contact
    while closing, 1 = while opening.
    """

    def __init__(self, host: str, port: int = 63352, max_width: float = 0.085, timeout: float = 2.0) -> None:
        self.max_width = max_width
        self._lock = threading.Lock()
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise ConnectionLost(f"Robotiq gripper at {host}:{port} not reachable: {exc}") from exc
        self._cmd("SET ACT 1")
        self._cmd("SET GTO 1")

    def _cmd(self, line: str) -> str:
        with self._lock:
            try:
                self._sock.sendall((line + "\n").encode())
                reply = self._sock.recv(1024).decode().strip()
            except OSError as exc:
                raise ConnectionLost(f"Robotiq gripper connection lost during '{line}': {exc}") from exc
        if not reply:
            raise ConnectionLost(f"Robotiq gripper closed the connection during '{line}'")
        return reply

    def _get(self, var: str) -> int:
        reply = self._cmd(f"GET {var}")
        return int(reply.split()[-1])

    def move(self, width: float, force: float = 0.5, speed: float = 0.5, timeout: float = 5.0) -> None:
        pos = int(round(255 * (1.0 - np.clip(width / self.max_width, 0.0, 1.0))))
        self._cmd(f"SET SPE {int(255 * np.clip(speed, 0, 1))}")
        self._cmd(f"SET FOR {int(255 * np.clip(force, 0, 1))}")
        self._cmd(f"SET POS {pos}")
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self._get("OBJ") != 0:  # 0 = moving
                return
            time.sleep(0.02)

    def width(self) -> float:
        return self.max_width * (1.0 - self._get("POS") / 255.0)

    def contact(self) -> bool:
        return self._get("OBJ") in (1, 2)


class URRtdeArm:
    """A UR arm (+ Robotiq gripper) implementing :class:`~graspnet_ros.robot.base.Arm`.

    host: controller IP; tcp: TCP offset [x, y, z, rx, ry, rz] sent to the
    controller (None keeps the controller's); gripper_max_width (m) and
    max_force (N, the Robotiq's maximum force, used to scale force requests).
    """

    def __init__(self, host: str, tcp: list[float] | None = None, gripper_port: int = 63352,
                 gripper_max_width: float = 0.085, max_force: float = 235.0) -> None:
        rtde_control, rtde_receive = _import_sdk()
        try:
            self._ctrl = rtde_control.RTDEControlInterface(host)
            self._recv = rtde_receive.RTDEReceiveInterface(host)
        except RuntimeError as exc:
            raise ConnectionLost(f"UR controller at {host} not reachable: {exc}") from exc
        if tcp is not None:
            self._ctrl.setTcp(list(map(float, tcp)))
        self._gripper = RobotiqSocket(host, gripper_port, gripper_max_width)
        self.max_width = gripper_max_width
        self._max_force = max_force

    def _check_link(self) -> None:
        if not (self._ctrl.isConnected() and self._recv.isConnected()):
            raise ConnectionLost("RTDE connection to the UR controller lost")
        if self._recv.isProtectiveStopped() or self._recv.isEmergencyStopped():
            raise ProtectiveStop("the UR controller is in a protective or emergency stop")

    def tool_pose(self) -> np.ndarray:
        self._check_link()
        return ur_to_pose(self._recv.getActualTCPPose())

    def move_tool(self, pose: np.ndarray, speed: SpeedLimits = SpeedLimits()) -> None:
        self._check_link()
        target = pose_to_ur(pose)
        try:
            ok = self._ctrl.moveL(target, speed.linear, speed.acceleration)
        except RuntimeError as exc:
            raise ConnectionLost(f"moveL failed: {exc}") from exc
        if not ok:
            self._check_link()
            raise RobotUnreachable(f"moveL to {np.round(target, 4).tolist()} was rejected by the controller")

    def open_gripper(self, width: float) -> None:
        self._gripper.move(width, force=0.2)

    def close_gripper(self, force: float) -> None:
        self._gripper.move(0.0, force=force / self._max_force)

    def gripper_width(self) -> float:
        return self._gripper.width()

    def gripper_contact(self) -> bool:
        return self._gripper.contact()

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def stop(self) -> None:
        try:
            self._ctrl.stopL(2.0)
        except RuntimeError as exc:
            raise ConnectionLost(f"stopL failed: {exc}") from exc
