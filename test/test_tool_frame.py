"""Explicit GraspNet gripper frame <-> robot tool frame conversion."""

import numpy as np
import pytest

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.tool_frame import ToolFrame, grasp_to_tool_poses, tool_poses_to_grasps


def top_down_grasp(depth=0.02):
    # Approach straight down (-z of the frame), jaws closing along frame x.
    R = np.stack([[0, 0, -1.0], [1.0, 0, 0], [0, -1.0, 0]], axis=1)  # columns x, y, z
    return GraspGroup.from_components(R[None], [[0.4, 0.1, 0.05]], 0.06, depth, frame_id="base")


def test_z_approach_tool_axes():
    pose = grasp_to_tool_poses(top_down_grasp(), ToolFrame.z_approach())[0]
    np.testing.assert_allclose(pose[:3, 2], [0, 0, -1], atol=1e-12)  # tool z = approach
    np.testing.assert_allclose(pose[:3, 1], [1, 0, 0], atol=1e-12)  # tool y = closing axis
    np.testing.assert_allclose(np.linalg.det(pose[:3, :3]), 1.0)
    # TCP at the fingertip centre: depth past the grasp point along the approach
    np.testing.assert_allclose(pose[:3, 3], [0.4, 0.1, 0.05 - 0.02], atol=1e-12)


def test_tcp_offset_moves_tool_back_along_approach():
    pose = grasp_to_tool_poses(top_down_grasp(depth=0.03), ToolFrame.z_approach(tcp_offset=0.1034))[0]
    # flange is 0.1034 m behind the fingertips, i.e. above them for a top-down grasp
    np.testing.assert_allclose(pose[:3, 3], [0.4, 0.1, 0.05 - 0.03 + 0.1034], atol=1e-12)


def test_identity_convention_is_fingertip_centre():
    g = top_down_grasp()
    pose = grasp_to_tool_poses(g, ToolFrame.graspnet())[0]
    np.testing.assert_allclose(pose[:3, :3], g.rotations[0])
    np.testing.assert_allclose(pose[:3, 3], g.translations[0] + 0.02 * g.approaches[0])


def test_round_trip_random():
    rng = np.random.default_rng(0)
    n = 30
    g = GraspGroup.from_approach(rng.normal(size=(n, 3)), rng.normal(size=(n, 3)),
                                 rng.uniform(0, np.pi, n), rng.uniform(0, 0.04, n), 0.05,
                                 frame_id="camera")
    tool = ToolFrame.from_config({"convention": "z_approach", "tcp_offset": 0.08})
    poses = grasp_to_tool_poses(g, tool)
    back = tool_poses_to_grasps(poses, tool, g.depths, g.widths, g.scores, frame_id="camera")
    np.testing.assert_allclose(back.array, g.array, atol=1e-10)


def test_config_errors():
    with pytest.raises(ValueError, match="unknown tool frame convention"):
        ToolFrame.from_config({"convention": "x_forward"})
    with pytest.raises(ValueError, match="needs a 3x3 'rotation'"):
        ToolFrame.from_config({"convention": "matrix"})
    with pytest.raises(ValueError, match="not a proper rotation"):
        ToolFrame.from_config({"convention": "matrix", "rotation": np.diag([1, 1, -1]).tolist()})
