"""GraspGroup <-> graspnet_ros/GraspArray conversions (no DDS involved)."""

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from transforms3d.quaternions import mat2quat

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes.conversions import grasp_group_to_msg, msg_to_grasp_group, msg_to_tolerances
from grasp_samples import F32_RTOL, assert_same_grasps, make_grasps

def test_round_trip_preserves_grasps_and_header():
    grasps = make_grasps(50)
    tol = np.linspace(0.0, 0.02, 50)
    msg = grasp_group_to_msg(grasps, Time(sec=12, nanosec=345), tolerances=tol)
    assert isinstance(msg, GraspArray)
    assert msg.header.frame_id == "camera_color_optical_frame"
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (12, 345)
    assert_same_grasps(msg_to_grasp_group(msg), grasps)
    np.testing.assert_allclose(msg_to_tolerances(msg), tol, rtol=F32_RTOL)


def test_pose_is_gripper_frame_in_header_frame():
    grasps = make_grasps(5, seed=3)
    msg = grasp_group_to_msg(grasps)
    for g, rot, t in zip(msg.grasps, grasps.rotations, grasps.translations):
        p, q = g.pose.position, g.pose.orientation
        np.testing.assert_allclose([p.x, p.y, p.z], t)
        w, x, y, z = mat2quat(rot)  # transforms3d: scalar first
        assert abs(np.dot([q.x, q.y, q.z, q.w], [x, y, z, w])) == pytest.approx(1.0, abs=1e-9)
    assert [g.object_id for g in msg.grasps] == grasps.object_ids.tolist()
    assert all(g.tolerance == 0.0 for g in msg.grasps)


def test_empty_group_round_trip():
    msg = grasp_group_to_msg(GraspGroup(frame_id="base_link"))
    assert msg.header.frame_id == "base_link" and len(msg.grasps) == 0
    back = msg_to_grasp_group(msg)
    assert len(back) == 0 and back.frame_id == "base_link"
    assert back.array.shape == (0, 17)
    assert msg_to_tolerances(msg).shape == (0,)


def test_rclpy_time_stamp_accepted():
    from rclpy.time import Time as RclpyTime

    msg = grasp_group_to_msg(make_grasps(1), RclpyTime(seconds=3, nanoseconds=7))
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (3, 7)


def test_bad_inputs_are_rejected():
    grasps = make_grasps(3)
    with pytest.raises(ValueError, match="tolerances"):
        grasp_group_to_msg(grasps, tolerances=[0.01, 0.02])
    with pytest.raises(TypeError, match="stamp"):
        grasp_group_to_msg(grasps, stamp=1.5)
    msg = grasp_group_to_msg(grasps)
    msg.grasps[1].pose.orientation.w = 0.0
    msg.grasps[1].pose.orientation.x = msg.grasps[1].pose.orientation.y = msg.grasps[1].pose.orientation.z = 0.0
    with pytest.raises(ValueError, match="quaternion"):
        msg_to_grasp_group(msg)


def test_unnormalised_quaternion_is_normalised():
    grasps = make_grasps(2, seed=5)
    msg = grasp_group_to_msg(grasps)
    q = msg.grasps[0].pose.orientation
    q.x, q.y, q.z, q.w = 2 * q.x, 2 * q.y, 2 * q.z, 2 * q.w
    np.testing.assert_allclose(msg_to_grasp_group(msg).rotations, grasps.rotations, atol=1e-9)
