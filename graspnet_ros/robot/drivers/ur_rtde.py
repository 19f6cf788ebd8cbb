"""Universal Robots (CB3 / e-Series) through ``ur_rtde``, with a Robotiq 2F gripper.

NOT TESTED ON HARDWARE: this adapter was written against the public
``ur_rtde`` API (``RTDEControlInterface.moveL(pose, speed, acceleration,
asynchronous)``, ``stopL``, ``getAsyncOperationProgress``, ``reconnect``,
``reuploadScript``; ``RTDEReceiveInterface.getActualTCPPose`` /
``isProtectiveStopped``; ``DashboardClient.unlockProtectiveStop``) and the
Robotiq URCap socket protocol (port 63352: ``SET``/``GET`` of ``ACT``,
``GTO``, ``POS``, ``SPE``, ``FOR``, ``STA``, ``OBJ``, ``PRE``). Its motion,
stop, recovery and gripper handshake run in this project's tests against fake
SDK modules and a fake gripper socket server reproducing the documented
behaviour. Check it on the robot at low speed first.

Motion and stop: a synchronous ``moveL`` blocks the calling thread until the
segment ends and a stop from another thread cannot interrupt it, so
:meth:`URRtdeArm.move_tool` sends ``moveL(..., asynchronous=True)`` and polls
``getAsyncOperationProgress`` (< 0: done), the link and the protective stop;
:meth:`URRtdeArm.stop` sends ``stopL(a, asynchronous=True)`` at once and the
polling motion call raises :class:`MotionStopped`. :meth:`URRtdeArm.recover`
reconnects a dropped link, unlocks a protective stop through the dashboard
server and re-uploads the control script.

Gripper handshake (Robotiq): activation waits for ``STA`` = 3; a move sends
``SET POS p SPE s FOR f GTO 1``, waits until ``PRE`` echoes ``p`` (the
gripper took the command), then until ``OBJ`` != 0 (motion ended: 1/2 =
stopped on an object, 3 = at the position); either wait past its timeout
raises :class:`GripperTimeout`, so the lift never starts before the jaws
have closed.

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

from ..base import (MAX_ACCELERATION, MAX_LINEAR_SPEED, ConnectionLost, GripperTimeout, MotionStopped, ProtectiveStop,
                    RobotError, RobotUnreachable, SpeedLimits, as_pose)

#: Deceleration of a requested stop, m/s^2 (stopL's ``a``).
STOP_DECELERATION = 2.0


def _import_sdk():
    try:
        import rtde_control
        import rtde_receive
    except ImportError as exc:
        raise ImportError("the ur_rtde driver needs the Universal Robots RTDE SDK: pip install ur_rtde") from exc
    return rtde_control, rtde_receive


def _import_dashboard():
    try:
        import dashboard_client
    except ImportError as exc:
        raise ImportError("unlocking a UR protective stop needs ur_rtde's dashboard_client: pip install ur_rtde") \
            from exc
    return dashboard_client


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
    ``max_width`` .. 0 m. Object status (``GET OBJ``): 0 = moving, 1 = stopped
    on contact while opening, 2 = while closing, 3 = at the requested position.
    Every wait has a timeout (s) and raises :class:`GripperTimeout` past it.
    """

    def __init__(self, host: str, port: int = 63352, max_width: float = 0.085, timeout: float = 2.0,
                 activation_timeout: float = 5.0, poll: float = 0.01) -> None:
        self.max_width = max_width
        self.host, self.port, self.timeout, self.poll = host, port, timeout, poll
        self._lock = threading.Lock()
        self._sock = None
        self.connect()
        self.activate(activation_timeout)

    def connect(self) -> None:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ConnectionLost(f"Robotiq gripper at {self.host}:{self.port} not reachable: {exc}") from exc

    def activate(self, timeout: float = 5.0) -> None:
        """Activate (``ACT 1``, ``GTO 1``) and wait for ``STA`` = 3 (activation complete)."""
        if self._get("STA") == 3 and self._get("ACT") == 1:
            return
        self._set("ACT 1")
        self._wait(lambda: self._get("STA") == 3, timeout, "activation (STA = 3)")
        self._set("GTO 1")

    def _cmd(self, line: str) -> str:
        with self._lock:
            try:
                self._sock.sendall((line + "\n").encode())
                reply = self._sock.recv(1024).decode().strip()
            except (OSError, AttributeError) as exc:
                raise ConnectionLost(f"Robotiq gripper connection lost during '{line}': {exc}") from exc
        if not reply:
            raise ConnectionLost(f"Robotiq gripper closed the connection during '{line}'")
        return reply

    def _set(self, assignments: str) -> None:
        reply = self._cmd(f"SET {assignments}")
        if reply != "ack":
            raise RobotError(f"Robotiq gripper did not acknowledge 'SET {assignments}' (reply {reply!r})")

    def _get(self, var: str) -> int:
        reply = self._cmd(f"GET {var}")
        parts = reply.split()
        if len(parts) != 2 or parts[0] != var or not parts[1].lstrip("-").isdigit():
            raise RobotError(f"Robotiq gripper answered 'GET {var}' with {reply!r}")
        return int(parts[1])

    def _wait(self, done, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise GripperTimeout(f"Robotiq gripper: no {what} within {timeout:.1f} s")
            time.sleep(self.poll)

    def move(self, width: float, force: float = 0.5, speed: float = 0.5, timeout: float = 5.0) -> int:
        """Go to ``width`` m (force, speed in [0, 1]); wait for the acknowledgement (``PRE``) and the
        end of motion (``OBJ`` != 0). Returns the final object status (1, 2 or 3)."""
        pos = int(round(255 * (1.0 - np.clip(width / self.max_width, 0.0, 1.0))))
        self._set(f"POS {pos} SPE {int(255 * np.clip(speed, 0, 1))} FOR {int(255 * np.clip(force, 0, 1))} GTO 1")
        t0 = time.monotonic()
        self._wait(lambda: self._get("PRE") == pos, timeout, f"acknowledgement of position {pos} (PRE)")
        status = {}

        def ended() -> bool:
            # a stale OBJ 3 ("at the requested position") from the previous move only counts when the
            # fingers really are at this move's position
            status["obj"] = self._get("OBJ")
            return status["obj"] in (1, 2) or (status["obj"] == 3 and abs(self._get("POS") - pos) <= 3)

        self._wait(ended, max(0.0, timeout - (time.monotonic() - t0)), f"end of motion to position {pos} (OBJ)")
        return status["obj"]

    def width(self) -> float:
        return self.max_width * (1.0 - self._get("POS") / 255.0)

    def contact(self) -> bool:
        return self._get("OBJ") in (1, 2)

    def reconnect(self) -> None:
        """Reopen the socket (after a lost link) and re-activate if needed."""
        try:
            if self._sock is not None:
                self._sock.close()
        except OSError:
            pass
        self.connect()
        self.activate()


class URRtdeArm:
    """A UR arm (+ Robotiq gripper) implementing :class:`~graspnet_ros.robot.base.Arm`.

    host: controller IP; tcp: TCP offset [x, y, z, rx, ry, rz] sent to the
    controller (None keeps the controller's); gripper_max_width (m) and
    max_force (N, the Robotiq's maximum force, used to scale force requests);
    gripper_timeout: s a gripper command may take (acknowledgement + motion).
    """

    def __init__(self, host: str, tcp: list[float] | None = None, gripper_port: int = 63352,
                 gripper_max_width: float = 0.085, max_force: float = 235.0, gripper_timeout: float = 5.0,
                 poll: float = 0.004) -> None:
        rtde_control, rtde_receive = _import_sdk()
        self.host = host
        try:
            self._ctrl = rtde_control.RTDEControlInterface(host)
            self._recv = rtde_receive.RTDEReceiveInterface(host)
        except RuntimeError as exc:
            raise ConnectionLost(f"UR controller at {host} not reachable: {exc}") from exc
        self._tcp = None if tcp is None else list(map(float, tcp))
        if self._tcp is not None:
            self._ctrl.setTcp(self._tcp)
        self._gripper = RobotiqSocket(host, gripper_port, gripper_max_width)
        self.max_width = gripper_max_width
        self._max_force = max_force
        self._gripper_timeout = gripper_timeout
        self._poll = poll
        self._ctrl_lock = threading.Lock()  # RTDEControlInterface is not thread-safe
        self._stop_requested = threading.Event()

    def _check_link(self) -> None:
        if not (self._ctrl.isConnected() and self._recv.isConnected()):
            raise ConnectionLost("RTDE connection to the UR controller lost; call reset to reconnect")
        if self._recv.isProtectiveStopped() or self._recv.isEmergencyStopped():
            raise ProtectiveStop("the UR controller is in a protective or emergency stop; call reset to recover")

    def tool_pose(self) -> np.ndarray:
        self._check_link()
        return ur_to_pose(self._recv.getActualTCPPose())

    def move_tool(self, pose: np.ndarray, speed: SpeedLimits = SpeedLimits()) -> None:
        """Asynchronous moveL, polled until it ends; a stop() from any thread ends it at once."""
        if self._stop_requested.is_set():
            raise MotionStopped("UR arm is stopped; call reset to continue")
        self._check_link()
        target = pose_to_ur(pose)
        try:
            with self._ctrl_lock:
                ok = self._ctrl.moveL(target, min(speed.linear, MAX_LINEAR_SPEED),
                                      min(speed.acceleration, MAX_ACCELERATION), asynchronous=True)
        except RuntimeError as exc:
            raise ConnectionLost(f"moveL failed: {exc}") from exc
        if not ok:
            self._check_link()
            raise RobotUnreachable(f"moveL to {np.round(target, 4).tolist()} was rejected by the controller")
        while True:
            if self._stop_requested.is_set():
                raise MotionStopped("UR motion stopped on request (stopL)")
            self._check_link()
            try:
                with self._ctrl_lock:
                    progress = self._ctrl.getAsyncOperationProgress()
            except RuntimeError as exc:
                raise ConnectionLost(f"RTDE link lost during moveL: {exc}") from exc
            if progress < 0:  # no asynchronous operation running: the segment ended
                break
            time.sleep(self._poll)
        if self._stop_requested.is_set():
            raise MotionStopped("UR motion stopped on request (stopL)")
        self._check_link()

    def open_gripper(self, width: float) -> None:
        self._gripper.move(width, force=0.2, timeout=self._gripper_timeout)

    def close_gripper(self, force: float) -> None:
        self._gripper.move(0.0, force=force / self._max_force, timeout=self._gripper_timeout)

    def gripper_width(self) -> float:
        return self._gripper.width()

    def gripper_contact(self) -> bool:
        return self._gripper.contact()

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def stop(self) -> None:
        """stopL (asynchronous): returns at once, the motion call in progress raises MotionStopped."""
        self._stop_requested.set()
        try:
            with self._ctrl_lock:
                self._ctrl.stopL(STOP_DECELERATION, asynchronous=True)
        except RuntimeError as exc:
            raise ConnectionLost(f"stopL failed (the controller stops the arm itself on link loss): {exc}") from exc

    def recover(self) -> None:
        """Reconnect, unlock a protective stop (dashboard), re-upload the control script; clear the stop."""
        try:
            if not self._recv.isConnected():
                self._recv.reconnect()
            if not self._ctrl.isConnected():
                with self._ctrl_lock:
                    self._ctrl.reconnect()
        except RuntimeError as exc:
            raise ConnectionLost(f"UR controller at {self.host} still not reachable: {exc}") from exc
        if not (self._ctrl.isConnected() and self._recv.isConnected()):
            raise ConnectionLost(f"UR controller at {self.host} still not reachable")
        if self._recv.isEmergencyStopped():
            raise ProtectiveStop("the UR is emergency-stopped: release the e-stop on the pendant, then reset")
        if self._recv.isProtectiveStopped():
            dash = _import_dashboard().DashboardClient(self.host)
            dash.connect()
            dash.unlockProtectiveStop()
            dash.disconnect()
            if self._recv.isProtectiveStopped():
                raise ProtectiveStop("the UR protective stop could not be unlocked yet (the controller needs 5 s "
                                     "after the stop); clear its cause and reset again")
        with self._ctrl_lock:
            if not self._ctrl.isProgramRunning():
                self._ctrl.reuploadScript()
            if self._tcp is not None:
                self._ctrl.setTcp(self._tcp)
        try:
            self._gripper.width()
        except ConnectionLost:
            self._gripper.reconnect()
        self._stop_requested.clear()
