"""Safety checks refuse bad grasps with a reason and before any motion."""

from pathlib import Path

import numpy as np
import pytest
import trimesh
import yaml

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.robot.executor import (ExecutorConfig, GraspExecutor, SafetyViolation, load_calibration)
from graspnet_ros.robot.safety import Box, SafetyChecker, SafetyConfig
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
    zone = Box((0.05, 0.0, 0.15), (0.15, 0.1, 0.2), "camera_mount")
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
    zone = Box((-0.05, -0.05, 0.0), (0.05, 0.05, 0.5), "pillar")
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
