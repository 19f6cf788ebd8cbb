"""Safety checks refuse bad grasps with a reason and before any motion."""

from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.robot.executor import (ExecutorConfig, GraspExecutor, MotionConfig, SafetyViolation,
                                        load_calibration)
from graspnet_ros.robot.safety import SafetyChecker, SafetyConfig
from graspnet_ros.workspace import Workspace
from graspnet_ros.robot.sim import SimArm, SimObject

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def arm():
    mesh = trimesh.creation.box((0.05, 0.05, 0.08))
    T = np.eye(4)
    T[:3, 3] = (0.1, 0.05, 0.04)
    return SimArm([SimObject(mesh, T, name="box")])


def grasp_at(point, approach=(0.0, 0.0, -1.0), width=0.06, frame_id="base_link") -> GraspGroup:
    return GraspGroup.from_approach(np.array([point], float), np.array([approach], float), np.array([0.0]),
                                    depth=0.02, width=width, frame_id=frame_id)


def refused_without_motion(arm, executor, grasp, cloud=None):
    arm.reset(0)
    start = arm.tool_pose()
    result = executor.execute(grasp, cloud)
    assert result.refused and not result.success
    assert arm.motion_commands == 0 and arm.gripper_commands == 0  # the arm was never commanded
    np.testing.assert_allclose(arm.tool_pose(), start, atol=1e-9)
    return result.reason


def test_outside_workspace_refused_before_motion(arm):
    reason = refused_without_motion(arm, GraspExecutor(arm), grasp_at((0.9, 0.0, 0.05)))
    assert "outside the workspace" in reason


def test_approach_from_below_refused(arm):
    reason = refused_without_motion(arm, GraspExecutor(arm), grasp_at((0.1, 0.05, 0.0), approach=(0, 0, 1)))
    assert "from below the table" in reason


def test_too_wide_refused(arm):
    reason = refused_without_motion(arm, GraspExecutor(arm), grasp_at((0.1, 0.05, 0.08), width=0.12))
    assert "exceeds the gripper's maximum opening" in reason


def test_forbidden_zone_on_the_path_refused(arm):
    # a zone the straight descent onto the box passes through
    zone = Workspace((0.05, 0.0, 0.15), (0.15, 0.1, 0.2), "camera_mount")
    cfg = ExecutorConfig(safety=SafetyConfig(forbidden_zones=(zone,)))
    reason = refused_without_motion(arm, GraspExecutor(arm, cfg), grasp_at((0.1, 0.05, 0.08)))
    assert "forbidden zone 'camera_mount'" in reason


def test_reach_limit_refused(arm):
    cfg = ExecutorConfig(safety=SafetyConfig(reach_center=(-0.5, 0.0, 0.0), reach_radius=0.5))
    reason = refused_without_motion(arm, GraspExecutor(arm, cfg), grasp_at((0.1, 0.05, 0.08)))
    assert "out of reach" in reason


def test_pre_grasp_clearance_against_cloud(arm):
    ex = GraspExecutor(arm)
    grasp = grasp_at((0.1, 0.05, 0.08))
    cloud = arm.scene_points()
    _, report = ex.check(grasp, cloud)
    assert report.ok.all(), report.reasons
    # an obstacle (a shelf of points) right where the pre-grasp gripper will be
    xs, ys = np.meshgrid(np.linspace(0.05, 0.15, 20), np.linspace(0.0, 0.1, 20))
    shelf = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 0.19)], axis=1)
    reason = refused_without_motion(arm, ex, grasp, np.concatenate([cloud, shelf]))
    assert "pre-grasp pose" in reason and "collides" in reason


def test_every_command_is_guarded(arm):
    arm.reset(0)
    ex = GraspExecutor(arm)
    outside = arm.tool_pose()
    outside[0, 3] = 2.0
    with pytest.raises(SafetyViolation, match="outside the workspace"):
        ex._move(outside, ex.config.motion.free)
    assert arm.motion_commands == 0


def test_path_check_catches_a_segment_through_a_zone():
    zone = Workspace((-0.05, -0.05, 0.0), (0.05, 0.05, 0.5), "pillar")
    checker = SafetyChecker(SafetyConfig(forbidden_zones=(zone,)))
    ends = np.array([[[-0.3, 0.0, 0.2], [0.3, 0.0, 0.2]], [[-0.3, 0.2, 0.2], [0.3, 0.2, 0.2]]])
    bad, reasons = checker.check_paths(ends)
    assert bad.tolist() == [True, False]
    assert "pillar" in reasons[0] and reasons[1] == ""


def test_camera_grasps_use_the_calibration(tmp_path, arm):
    T = np.eye(4)
    T[:3, :3] = np.diag([1.0, -1.0, -1.0])  # camera looking straight down
    T[:3, 3] = (0.1, 0.05, 0.6)
    (tmp_path / "calib.yaml").write_text(yaml.safe_dump({"transform": T.tolist()}))
    from scipy.spatial.transform import Rotation

    (tmp_path / "calib_q.yaml").write_text(yaml.safe_dump(
        {"translation": T[:3, 3].tolist(), "quaternion": Rotation.from_matrix(T[:3, :3]).as_quat().tolist()}))
    np.testing.assert_allclose(load_calibration(tmp_path / "calib.yaml"), T)
    np.testing.assert_allclose(load_calibration(tmp_path / "calib_q.yaml"), T, atol=1e-12)
    cfg = ExecutorConfig.from_mapping({"calibration": {"file": "calib.yaml"}}, base_dir=tmp_path)
    ex = GraspExecutor(arm, cfg)
    # the box-top grasp as the camera sees it: 0.52 m in front, approach along +z (camera)
    cam = grasp_at((0.0, 0.0, 0.52), approach=(0, 0, 1), frame_id="camera_color_optical_frame")
    base = ex.to_base(cam)
    np.testing.assert_allclose(base.translations[0], (0.1, 0.05, 0.08), atol=1e-12)
    np.testing.assert_allclose(base.approaches[0], (0, 0, -1), atol=1e-12)
    arm.reset(0)
    assert ex.execute(cam, arm.scene_points()).success
    reason = refused_without_motion(arm, ex, grasp_at((0, 0, 0.5), frame_id="some_other_frame"))
    assert "unknown frame 'some_other_frame'" in reason


def test_shipped_config_loads():
    cfg = ExecutorConfig.load(REPO / "config" / "executor.yaml")
    assert cfg.robot["driver"] == "sim"
    assert cfg.safety.workspace.contains(np.array([0.0, 0.0, 0.2]))
    assert cfg.tool.tcp_offset == 0.0
    with pytest.raises(ValueError, match="unknown executor config sections"):
        ExecutorConfig.from_mapping({"safty": {}})
    with pytest.raises(FileNotFoundError):
        load_calibration(REPO / "no_such_calibration.yaml")


def test_reset_home_move_is_path_checked(arm):
    """The straight move home would cross a no-go zone: refused before anything moves."""
    arm.reset(0)
    pillar = Workspace((0.15, -0.1, 0.0), (0.25, 0.1, 0.7), "pillar")
    home = arm.tool_pose()
    home[:3, 3] = (0.4, 0.0, 0.3)
    cfg = ExecutorConfig(safety=SafetyConfig(forbidden_zones=(pillar,)))
    cfg.motion = MotionConfig(home=tuple(map(tuple, home)))
    ex = GraspExecutor(arm, cfg)
    with pytest.raises(SafetyViolation, match="forbidden zone 'pillar'"):
        ex.reset()
    assert arm.motion_commands == 0 and ex.stopped  # latched: nothing moves until a reset succeeds


def test_back_to_back_goals_check_the_move_from_where_the_arm_is(arm):
    """The second grasp's first move starts where the first one ended (the lift pose)."""
    arm.reset(0)
    ex = GraspExecutor(arm, ExecutorConfig(safety=SafetyConfig(require_cloud=False)))
    assert ex.execute(grasp_at((0.1, 0.05, 0.08))).success
    end = arm.tool_pose()[:3, 3]
    # a wall between the lift pose and the second grasp: the transit move from here crosses it
    wall = Workspace((end[0] - 0.2, end[1] - 0.2, 0.0), (end[0] + 0.2, end[1] - 0.12, 0.7), "wall")
    ex2 = GraspExecutor(arm, ExecutorConfig(safety=SafetyConfig(forbidden_zones=(wall,), require_cloud=False)))
    n = arm.motion_commands
    result = ex2.execute(grasp_at((end[0], end[1] - 0.3, 0.08)))
    assert result.refused and "wall" in result.reason
    assert arm.motion_commands == n


def test_gripper_body_is_checked_not_only_the_tool_tip(arm):
    """A zone beside the jaws: the TCP path never enters it, the fingers would."""
    arm.reset(0)
    grasp = grasp_at((0.1, 0.05, 0.08))
    plain = GraspExecutor(arm, ExecutorConfig(safety=SafetyConfig(require_cloud=False)))
    plan, _ = plain.check(grasp)
    closing = plan.grasps.rotations[0][:, 1]  # the jaw closing axis actually used (base frame)
    centre = plan.grasp[0, :3, 3] + 0.05 * closing + np.array([0, 0, 0.02])
    zone = Workspace(tuple(centre - 0.015), tuple(centre + 0.015), "bracket")
    tcp = np.concatenate([np.linspace(a, b, 200) for a, b in zip(plan.waypoints()[0][:-1], plan.waypoints()[0][1:])])
    assert not zone.contains(tcp).any()  # the tool tip never enters the zone ...
    cfg = ExecutorConfig(safety=SafetyConfig(forbidden_zones=(zone,), require_cloud=False))
    reason = refused_without_motion(arm, GraspExecutor(arm, cfg), grasp)
    assert "gripper body 'fingers'" in reason and "bracket" in reason  # ... the fingers would


def test_no_cloud_fails_closed_unless_configured(arm):
    reason = refused_without_motion(arm, GraspExecutor(arm), grasp_at((0.1, 0.05, 0.08)))
    assert "no point cloud" in reason and "require_cloud" in reason
    cfg = ExecutorConfig.from_mapping({"safety": {"clearance": {"enabled": True, "require_cloud": False}}})
    arm.reset(0)
    assert GraspExecutor(arm, cfg).execute(grasp_at((0.1, 0.05, 0.08))).success


def test_empty_frame_id_is_refused_not_taken_as_the_base(arm):
    reason = refused_without_motion(arm, GraspExecutor(arm), grasp_at((0.1, 0.05, 0.08), frame_id=""))
    assert "empty frame_id" in reason
    with pytest.raises(ValueError, match="empty frame_id"):
        GraspExecutor(arm).cloud_to_base(np.zeros((3, 3)), "")


@pytest.mark.parametrize("key, value", [("linear", 1.5), ("angular", 5.0), ("acceleration", 4.0)])
def test_speed_limits_are_bounded_by_hard_maxima(key, value):
    with pytest.raises(ValueError, match="hard maximum"):
        ExecutorConfig.from_mapping({"motion": {"speeds": {"free": {key: value}}}})
