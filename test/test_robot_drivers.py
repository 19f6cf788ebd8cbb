"""Real-arm drivers against fake SDKs that reproduce the vendors' documented behaviour.

ur_rtde (fake rtde_control / rtde_receive / dashboard_client modules), the
Robotiq URCap socket (a fake server on loopback) and xArm (a fake XArmAPI):
a stop interrupts a motion at once from another thread, recovery works after
a stop, a protective stop and a lost link, and the Robotiq handshake waits
for the acknowledgement and the end of motion or fails with a reason.
"""

import threading
import time

import numpy as np
import pytest
from fake_robot_sdks import FakeRobotiqServer, FakeURController, FakeXArmAPI, install_ur_rtde, install_xarm

from graspnet_ros.robot.base import (ConnectionLost, GripperTimeout, MotionStopped, ProtectiveStop, Recoverable,
                                     SpeedLimits)
from graspnet_ros.robot.executor import ExecutorConfig, GraspExecutor
from graspnet_ros.robot.safety import SafetyConfig

DOWN = np.diag([1.0, -1.0, -1.0])


def pose(x, y, z) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = DOWN
    T[:3, 3] = (x, y, z)
    return T


@pytest.fixture
def gripper_server():
    srv = FakeRobotiqServer()
    yield srv
    srv.close()


@pytest.fixture
def ur(monkeypatch, gripper_server):
    from graspnet_ros.robot.drivers.ur_rtde import URRtdeArm

    ctl = FakeURController()
    install_ur_rtde(monkeypatch, ctl)
    arm = URRtdeArm("127.0.0.1", gripper_port=gripper_server.port)
    return arm, ctl


@pytest.fixture
def xarm(monkeypatch):
    from graspnet_ros.robot.drivers.xarm import XArm

    install_xarm(monkeypatch)
    arm = XArm("127.0.0.1")
    return arm, FakeXArmAPI.instances[-1]


def move_in_thread(arm, target, speed=SpeedLimits(0.25, 1.0, 0.5)):
    out = {}

    def run():
        t0 = time.monotonic()
        try:
            arm.move_tool(target, speed)
            out["error"] = None
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out["error"] = exc
        out["seconds"] = time.monotonic() - t0

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, out


@pytest.mark.parametrize("driver", ["ur", "xarm"])
def test_stop_interrupts_a_motion_from_another_thread(driver, request):
    arm, ctl = request.getfixturevalue(driver)
    th, out = move_in_thread(arm, pose(0.0, 0.0, 0.1))  # 0.3 m at 0.25 m/s: 1.2 s
    time.sleep(0.15)
    t0 = time.monotonic()
    arm.stop()
    # the motion would take 1.2 s; margins leave room for a loaded 2-core machine
    assert time.monotonic() - t0 < 0.5, "stop() must not wait for the motion to end"
    th.join(timeout=2.0)
    assert not th.is_alive()
    assert isinstance(out["error"], MotionStopped), out
    assert out["seconds"] < 0.9
    z = arm.tool_pose()[2, 3]
    assert 0.25 < z < 0.4, f"the arm went on to z = {z:.3f} m after the stop"
    with pytest.raises(MotionStopped):  # latched until recover
        arm.move_tool(pose(0.0, 0.0, 0.35))
    assert isinstance(arm, Recoverable)
    arm.recover()
    arm.move_tool(pose(0.0, 0.0, 0.35), SpeedLimits(0.5, 1.0, 0.5))
    np.testing.assert_allclose(arm.tool_pose()[:3, 3], (0.0, 0.0, 0.35), atol=1e-6)


def test_ur_protective_stop_and_lost_link_recover(ur):
    arm, ctl = ur
    th, out = move_in_thread(arm, pose(0.0, 0.0, 0.1))
    time.sleep(0.1)
    ctl.protective_stop()
    th.join(timeout=2.0)
    assert isinstance(out["error"], ProtectiveStop), out
    arm.recover()  # unlocks through the dashboard and re-uploads the script
    assert not ctl.protective and ctl.program_running
    arm.move_tool(pose(0.0, 0.0, 0.3), SpeedLimits(0.5, 1.0, 0.5))
    th, out = move_in_thread(arm, pose(0.0, 0.0, 0.1))
    time.sleep(0.1)
    ctl.drop_link()
    th.join(timeout=2.0)
    assert isinstance(out["error"], ConnectionLost), out
    with pytest.raises(ConnectionLost):
        arm.tool_pose()
    arm.recover()
    arm.move_tool(pose(0.0, 0.0, 0.35), SpeedLimits(0.5, 1.0, 0.5))
    np.testing.assert_allclose(arm.tool_pose()[:3, 3], (0.0, 0.0, 0.35), atol=1e-6)


def test_ur_stop_through_a_dead_link_raises_connection_lost(ur):
    arm, ctl = ur
    ctl.drop_link()
    with pytest.raises(ConnectionLost, match="stopL"):
        arm.stop()


def test_xarm_lost_link_then_reconnect(xarm):
    arm, api = xarm
    api.connected = False
    with pytest.raises(ConnectionLost):
        arm.move_tool(pose(0.0, 0.0, 0.3))
    arm.recover()
    arm.move_tool(pose(0.0, 0.0, 0.3), SpeedLimits(0.5, 1.0, 0.5))
    assert api.position[2] == pytest.approx(300.0)


def test_robotiq_move_waits_for_ack_and_end_of_motion(gripper_server):
    from graspnet_ros.robot.drivers.ur_rtde import RobotiqSocket

    g = RobotiqSocket("127.0.0.1", gripper_server.port, max_width=0.085)
    g.move(0.085)  # open: leaves OBJ = 3 (at position) in the gripper's registers
    assert gripper_server.regs["OBJ"] == 3
    g.move(0.0, force=0.4)
    # returned only once the fingers stopped on the object (OBJ 2), not on the stale OBJ 3
    assert gripper_server.regs["OBJ"] == 2
    assert gripper_server.regs["POS"] >= 200
    assert g.contact()
    assert g.width() == pytest.approx(0.085 * (1 - gripper_server.regs["POS"] / 255))


def test_ur_gripper_commands_go_through_the_handshake(ur, gripper_server):
    arm, _ = ur
    arm.close_gripper(100.0)
    assert gripper_server.regs["OBJ"] == 2 and arm.gripper_contact()


def test_robotiq_without_acknowledgement_times_out_with_a_reason(monkeypatch):
    from graspnet_ros.robot.drivers.ur_rtde import RobotiqSocket

    srv = FakeRobotiqServer(acknowledge=False)
    try:
        g = RobotiqSocket("127.0.0.1", srv.port)
        t0 = time.monotonic()
        with pytest.raises(GripperTimeout, match="acknowledgement"):
            g.move(0.0, timeout=0.3)
        assert time.monotonic() - t0 < 1.0
    finally:
        srv.close()


def test_robotiq_activation_times_out_with_a_reason():
    from graspnet_ros.robot.drivers.ur_rtde import RobotiqSocket

    srv = FakeRobotiqServer(activation_s=5.0)
    try:
        with pytest.raises(GripperTimeout, match="activation"):
            RobotiqSocket("127.0.0.1", srv.port, activation_timeout=0.2)
    finally:
        srv.close()


@pytest.mark.parametrize("driver", ["ur", "xarm"])
def test_executor_reset_recovers_after_stop_and_a_failing_stop_never_raises(driver, request):
    arm, ctl = request.getfixturevalue(driver)
    home = pose(0.1, 0.0, 0.3)
    cfg = ExecutorConfig(safety=SafetyConfig(require_cloud=False))
    cfg.motion = type(cfg.motion)(home=tuple(map(tuple, home)))
    ex = GraspExecutor(arm, cfg)
    assert ex.stop() == ""
    assert ex.stopped
    ex.reset()  # recover + path-checked home move
    np.testing.assert_allclose(arm.tool_pose()[:3, 3], home[:3, 3], atol=1e-6)
    assert not ex.stopped
    if driver == "ur":
        ctl.drop_link()
    else:
        ctl.connected = False
    error = ex.stop()  # the driver's stop fails: reported, not raised
    assert "ConnectionLost" in error and ex.stopped
    if driver == "ur":
        ctl.connected = True
    ex.reset()
    assert not ex.stopped
