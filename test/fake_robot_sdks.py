"""Fake vendor SDKs for driver tests: the documented behaviour, no robot.

* :class:`FakeURController` + :func:`install_ur_rtde` provide modules
  ``rtde_control``, ``rtde_receive`` and ``dashboard_client`` shaped like
  ur_rtde's: ``moveL(pose, speed, acceleration, asynchronous=False)`` blocks
  the caller until the segment ends and holds the interface's command lock
  meanwhile, so a ``stopL`` from another thread waits for the segment to
  end (ur_rtde's synchronous behaviour); with ``asynchronous=True`` it
  returns at once and ``getAsyncOperationProgress`` is >= 0 while the motion
  runs, -1 after; ``stopL(a, asynchronous=True)`` ends it at once. A dropped
  link makes every control call raise RuntimeError and ``isConnected`` false
  until ``reconnect``; a protective stop halts the motion, ``isProtectiveStopped``
  stays true until the dashboard's ``unlockProtectiveStop``, after which the
  control script must be re-uploaded (``isProgramRunning`` false).
* :class:`FakeRobotiqServer`: the Robotiq URCap socket on a loopback TCP port
  (``SET``/``GET`` of ACT, GTO, POS, SPE, FOR, STA, OBJ, PRE). Activation
  takes ``activation_s``; a new position request is echoed in PRE only after
  ``ack_s`` (until then OBJ keeps the previous move's status, as the real
  gripper's registers do), then OBJ = 0 while the fingers move at ``speed``
  counts/s, then 2 (contact while closing, at ``object_pos``), 1 or 3.
* :class:`FakeXArmAPI` + :func:`install_xarm`: ``xarm.wrapper.XArmAPI``:
  ``set_position(..., wait=True)`` blocks until the motion ends and returns
  -9 (APIState.EMERGENCY_STOP) when the state becomes 4 (stop); motion calls
  return -2 (NOT_READY) while the state is 4 or 5 until ``set_state(0)``
  after ``motion_enable``; -1 when disconnected.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import types

import numpy as np

DT = 0.002


class FakeURController:
    """The UR controller's state shared by the fake control, receive and dashboard interfaces."""

    def __init__(self, pose=(0.0, 0.0, 0.4, np.pi, 0.0, 0.0)) -> None:
        self.pose = np.asarray(pose, dtype=np.float64)
        self.connected = True
        self.protective = False
        self.emergency = False
        self.program_running = True
        self.commands: list[tuple] = []  # every moveL target as sent
        self._motion_stop = threading.Event()
        self._motion: threading.Thread | None = None
        self.progress = -1
        self.state_lock = threading.Lock()

    # -- fault injection ----------------------------------------------------
    def drop_link(self) -> None:
        self.connected = False
        self._motion_stop.set()

    def protective_stop(self) -> None:
        self.protective = True
        self.program_running = False
        self._motion_stop.set()

    # -- motion ----------------------------------------------------------------
    def run_motion(self, target: np.ndarray, speed: float) -> None:
        """Move the TCP position straight to ``target`` at ``speed`` m/s (orientation set at once)."""
        self._motion_stop.clear()
        start = self.pose[:3].copy()
        dist = float(np.linalg.norm(target[:3] - start))
        n = max(1, int(np.ceil(dist / speed / DT)))
        self.pose[3:] = target[3:]
        for k in range(1, n + 1):
            if self._motion_stop.is_set():
                break
            with self.state_lock:
                self.pose[:3] = start + (target[:3] - start) * k / n
                self.progress = int(100 * k / n)
            time.sleep(DT)
        self.progress = -1


class _Control:
    def __init__(self, ctl: FakeURController) -> None:
        self.c = ctl
        self._cmd_lock = threading.Lock()  # the SDK serialises commands

    def _alive(self) -> None:
        if not self.c.connected:
            raise RuntimeError("RTDE control interface: not connected")

    def isConnected(self) -> bool:
        return self.c.connected

    def reconnect(self) -> bool:
        self.c.connected = True
        return True

    def isProgramRunning(self) -> bool:
        return self.c.program_running

    def reuploadScript(self) -> bool:
        self._alive()
        self.c.program_running = True
        return True

    def setTcp(self, tcp) -> bool:
        self._alive()
        return True

    def moveL(self, pose, speed=0.25, acceleration=1.2, asynchronous=False) -> bool:
        self._alive()
        if self.c.protective or not self.c.program_running:
            return False
        target = np.asarray(pose, dtype=np.float64)
        self.c.commands.append(tuple(target))
        if asynchronous:
            self.c.progress = 0
            self.c._motion = threading.Thread(target=self.c.run_motion, args=(target, speed), daemon=True)
            self.c._motion.start()
            return True
        with self._cmd_lock:  # held for the whole segment
            self.c.run_motion(target, speed)
        self._alive()
        return not self.c.protective

    def getAsyncOperationProgress(self) -> int:
        self._alive()
        return self.c.progress

    def stopL(self, a=10.0, asynchronous=False) -> None:
        self._alive()
        with self._cmd_lock:
            self.c._motion_stop.set()
        if not asynchronous and self.c._motion is not None:
            self.c._motion.join()


class _Receive:
    def __init__(self, ctl: FakeURController) -> None:
        self.c = ctl

    def isConnected(self) -> bool:
        return self.c.connected

    def reconnect(self) -> bool:
        self.c.connected = True
        return True

    def getActualTCPPose(self) -> list:
        if not self.c.connected:
            raise RuntimeError("RTDE receive interface: not connected")
        with self.c.state_lock:
            return self.c.pose.tolist()

    def isProtectiveStopped(self) -> bool:
        return self.c.protective

    def isEmergencyStopped(self) -> bool:
        return self.c.emergency


class _Dashboard:
    def __init__(self, ctl: FakeURController) -> None:
        self.c = ctl

    def connect(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def unlockProtectiveStop(self) -> None:
        self.c.protective = False


def install_ur_rtde(monkeypatch, controller: FakeURController) -> None:
    """Make ``import rtde_control`` / ``rtde_receive`` / ``dashboard_client`` return fakes bound to ``controller``."""
    control = types.ModuleType("rtde_control")
    control.RTDEControlInterface = lambda host: _Control(controller)
    receive = types.ModuleType("rtde_receive")
    receive.RTDEReceiveInterface = lambda host: _Receive(controller)
    dash = types.ModuleType("dashboard_client")
    dash.DashboardClient = lambda host: _Dashboard(controller)
    for name, mod in (("rtde_control", control), ("rtde_receive", receive), ("dashboard_client", dash)):
        monkeypatch.setitem(sys.modules, name, mod)


class FakeRobotiqServer:
    """A Robotiq URCap gripper socket on 127.0.0.1 (see the module docstring)."""

    def __init__(self, object_pos: int | None = 200, activation_s: float = 0.2, ack_s: float = 0.05,
                 speed: float = 1000.0, acknowledge: bool = True) -> None:
        self.object_pos, self.activation_s, self.ack_s, self.speed = object_pos, activation_s, ack_s, speed
        self.acknowledge = acknowledge
        self.regs = {"ACT": 0, "GTO": 0, "STA": 0, "OBJ": 3, "PRE": 0, "POS": 0, "SPE": 255, "FOR": 0}
        self.lock = threading.Lock()
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        self._closing = False
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closing = True
        self.drop_clients()
        self._srv.close()

    def drop_clients(self) -> None:
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass
        self._conns.clear()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            try:
                data = conn.recv(1024)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    conn.sendall((self._handle(line.decode().strip()) + "\n").encode())
                except OSError:
                    return

    def _handle(self, line: str) -> str:
        words = line.split()
        if words[:1] == ["GET"] and len(words) == 2:
            with self.lock:
                return f"{words[1]} {self.regs.get(words[1], 0)}"
        if words[:1] == ["SET"] and len(words) >= 3 and len(words) % 2 == 1:
            pairs = dict(zip(words[1::2], map(int, words[2::2])))
            if pairs.get("ACT") == 1 and self.regs["ACT"] == 0:
                self.regs["ACT"] = 1
                self.regs["STA"] = 1
                threading.Timer(self.activation_s, self._activated).start()
            for k in ("SPE", "FOR", "GTO"):
                if k in pairs:
                    self.regs[k] = pairs[k]
            if "POS" in pairs and self.acknowledge:
                threading.Timer(self.ack_s, self._start_move, args=(pairs["POS"],)).start()
            return "ack"
        return "?"

    def _activated(self) -> None:
        with self.lock:
            self.regs["STA"] = 3

    def _start_move(self, target: int) -> None:
        with self.lock:
            self.regs["PRE"] = target
            self.regs["OBJ"] = 0
            start = self.regs["POS"]
        threading.Thread(target=self._run, args=(start, target), daemon=True).start()

    def _run(self, start: int, target: int) -> None:
        step = 1 if target >= start else -1
        pos = start
        while pos != target:
            if step > 0 and self.object_pos is not None and pos >= self.object_pos:
                with self.lock:
                    self.regs["OBJ"] = 2
                return
            pos += step
            with self.lock:
                self.regs["POS"] = pos
            time.sleep(1.0 / self.speed)
        with self.lock:
            self.regs["OBJ"] = 3


class FakeXArmAPI:
    """``xarm.wrapper.XArmAPI`` as documented (see the module docstring); positions in mm."""

    instances: list["FakeXArmAPI"] = []

    def __init__(self, port=None, is_radian=False, **kwargs) -> None:
        self.connected = True
        self.state = 4  # stopped until set_state(0)
        self.error_code = 0
        self.has_error = False
        self.mode = 0
        self._enabled = False
        self.position = np.array([0.0, 0.0, 400.0, np.pi, 0.0, 0.0])
        self.gripper = 850.0
        self.commands: list[tuple] = []
        FakeXArmAPI.instances.append(self)

    # -- state ------------------------------------------------------------------
    def connect(self) -> None:
        self.connected = True

    def clean_error(self) -> int:
        self.error_code, self.has_error = 0, False
        return 0

    def clean_warn(self) -> int:
        return 0

    def motion_enable(self, enable=True) -> int:
        self._enabled = bool(enable)
        return 0

    def set_mode(self, mode) -> int:
        self.mode = mode
        return 0

    def set_state(self, state) -> int:
        if not self.connected:
            return -1
        if state == 0 and not (self._enabled and not self.has_error):
            return 1
        self.state = state
        if state == 4:
            self._enabled = False  # the SDK needs motion_enable again after a stop
        return 0

    def set_tcp_offset(self, offset, is_radian=True) -> int:
        return 0

    def set_gripper_enable(self, enable) -> int:
        return 0 if self.connected else -1

    def get_position(self, is_radian=True):
        if not self.connected:
            return -1, [0.0] * 6
        return 0, self.position.tolist()

    def set_position(self, x, y, z, roll, pitch, yaw, speed=100.0, mvacc=2000.0, is_radian=True, wait=False) -> int:
        if not self.connected:
            return -1
        if self.state in (4, 5):
            return -2
        target = np.array([x, y, z, roll, pitch, yaw], dtype=np.float64)
        self.commands.append(tuple(target))
        self.state = 1
        start = self.position[:3].copy()
        n = max(1, int(np.ceil(np.linalg.norm(target[:3] - start) / speed / DT)))
        self.position[3:] = target[3:]
        for k in range(1, n + 1):  # wait_move: polls the state
            if not self.connected:
                return -1
            if self.state in (4, 5):
                return -9
            self.position[:3] = start + (target[:3] - start) * k / n
            time.sleep(DT)
        self.state = 0
        return 0

    def set_gripper_position(self, pos, wait=False, **kwargs) -> int:
        if not self.connected:
            return -1
        if self.state in (4, 5):
            return -2
        self.gripper = float(pos)
        return 0

    def get_gripper_position(self):
        return (0, self.gripper) if self.connected else (-1, None)


def install_xarm(monkeypatch) -> None:
    """Make ``from xarm.wrapper import XArmAPI`` return :class:`FakeXArmAPI`."""
    xarm = types.ModuleType("xarm")
    wrapper = types.ModuleType("xarm.wrapper")
    wrapper.XArmAPI = FakeXArmAPI
    xarm.wrapper = wrapper
    monkeypatch.setitem(sys.modules, "xarm", xarm)
    monkeypatch.setitem(sys.modules, "xarm.wrapper", wrapper)
