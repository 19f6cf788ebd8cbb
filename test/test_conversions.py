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


# ---------------------------------------------------------------------------
# PointCloud2, Image, CameraInfo, Pose/Transform
# ---------------------------------------------------------------------------
from geometry_msgs.msg import PoseStamped, TransformStamped  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField  # noqa: E402

from graspnet_ros.cameras.base import camera_model  # noqa: E402
from graspnet_ros.cameras.geometry import depth_to_points  # noqa: E402
from graspnet_ros.nodes import conversions as cv  # noqa: E402


def _random_pose(rng) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=rng.integers(1 << 30)).as_matrix()
    T[:3, 3] = rng.normal(size=3)
    return T


@pytest.mark.parametrize("organised", [False, True])
@pytest.mark.parametrize("with_rgb", [False, True])
def test_cloud_round_trip(organised, with_rgb):
    rng = np.random.default_rng(1)
    shape = (12, 17, 3) if organised else (200, 3)
    pts = rng.normal(size=shape).astype(np.float32)
    if organised:
        pts[3, 4] = np.nan  # a pixel without data
    rgb = rng.integers(0, 256, size=shape, dtype=np.uint8) if with_rgb else None
    msg = cv.cloud_to_msg(pts, "cam", Time(sec=5, nanosec=6), colors=rgb)
    assert (msg.height, msg.width) == ((12, 17) if organised else (1, 200))
    assert msg.header.frame_id == "cam" and msg.header.stamp.sec == 5
    assert msg.is_dense == (not organised)
    assert [f.name for f in msg.fields] == ["x", "y", "z"] + (["rgb"] if with_rgb else [])
    back, colors = cv.msg_to_cloud(msg, organised=organised, with_colors=with_rgb)
    if organised:
        np.testing.assert_array_equal(back, pts)  # NaN positions compare equal
        if with_rgb:
            np.testing.assert_array_equal(colors, rgb)
    else:
        np.testing.assert_array_equal(back, pts)
        if with_rgb:
            np.testing.assert_array_equal(colors, rgb)
    # unorganised reading of an organised cloud drops the NaN pixel
    flat, _ = cv.msg_to_cloud(msg)
    assert flat.shape == (pts.reshape(-1, 3).shape[0] - int(organised), 3)


def test_cloud_foreign_layout_float64_padding_and_rgba():
    """A cloud laid out like another driver's: float64 xyz, padding, uint32 rgba, row padding."""
    rng = np.random.default_rng(2)
    h, w = 3, 5
    dt = np.dtype({"names": ["intensity", "x", "y", "z", "rgba"],
                   "formats": ["<f4", "<f8", "<f8", "<f8", "<u4"],
                   "offsets": [0, 8, 16, 24, 32], "itemsize": 40})
    rec = np.zeros((h, w), dtype=dt)
    xyz = rng.normal(size=(h, w, 3))
    rec["x"], rec["y"], rec["z"] = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint32)
    rec["rgba"] = (0xFF << 24) | (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    row_step = w * 40 + 8
    data = np.zeros((h, row_step), dtype=np.uint8)
    data[:, :w * 40] = rec.view(np.uint8).reshape(h, -1)
    msg = PointCloud2(height=h, width=w, point_step=40, row_step=row_step, is_bigendian=False)
    msg.fields = [PointField(name="intensity", offset=0, datatype=PointField.FLOAT32, count=1),
                  PointField(name="x", offset=8, datatype=PointField.FLOAT64, count=1),
                  PointField(name="y", offset=16, datatype=PointField.FLOAT64, count=1),
                  PointField(name="z", offset=24, datatype=PointField.FLOAT64, count=1),
                  PointField(name="rgba", offset=32, datatype=PointField.UINT32, count=1)]
    msg.data = data.tobytes()
    pts, colors = cv.msg_to_cloud(msg, organised=True, with_colors=True)
    np.testing.assert_allclose(pts, xyz.astype(np.float32))
    np.testing.assert_array_equal(colors, rgb.astype(np.uint8))


def test_cloud_errors_name_the_problem():
    msg = cv.cloud_to_msg(np.zeros((4, 3), np.float32), "cam")
    no_z = PointCloud2(height=1, width=4, point_step=msg.point_step, row_step=msg.row_step,
                       fields=msg.fields[:2], data=msg.data)
    with pytest.raises(ValueError, match=r"no field\(s\) \['z'\]"):
        cv.msg_to_cloud(no_z)
    short = PointCloud2(height=1, width=4, point_step=12, row_step=48, fields=msg.fields,
                        data=bytes(20))
    with pytest.raises(ValueError, match="bytes"):
        cv.msg_to_cloud(short)
    with pytest.raises(ValueError, match="rgb"):
        cv.msg_to_cloud(msg, with_colors=True)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        cv.cloud_to_msg(np.zeros((4, 2)), "cam")
    empty, _ = cv.msg_to_cloud(PointCloud2())
    assert empty.shape == (0, 3)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8"])
def test_color_round_trip(encoding):
    rgb = np.random.default_rng(3).integers(0, 256, size=(9, 13, 3), dtype=np.uint8)
    msg = cv.color_to_msg(rgb, "cam", 1.25, encoding=encoding)
    assert msg.encoding == encoding and msg.step == 39
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1, 250_000_000)
    if encoding == "bgr8":
        assert bytes(msg.data[:3]) == bytes(rgb[0, 0, ::-1])
    np.testing.assert_array_equal(cv.msg_to_color(msg), rgb)


def test_color_with_row_padding_and_bad_encoding():
    rgb = np.random.default_rng(4).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    padded = np.zeros((4, 20), np.uint8)
    padded[:, :15] = rgb.reshape(4, 15)
    msg = Image(height=4, width=5, encoding="rgb8", step=20, data=padded.tobytes())
    np.testing.assert_array_equal(cv.msg_to_color(msg), rgb)
    msg.encoding = "yuv422"
    with pytest.raises(ValueError, match="yuv422"):
        cv.msg_to_color(msg)


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_depth_round_trip(encoding):
    depth = np.random.default_rng(5).uniform(0.2, 3.0, size=(10, 8)).astype(np.float32)
    depth[2, 3] = 0.0
    depth[4, 4] = np.nan
    msg = cv.depth_to_msg(depth, "cam", encoding=encoding)
    assert msg.encoding == encoding
    back = cv.msg_to_depth(msg)
    assert back.dtype == np.float32 and back[2, 3] == 0 and back[4, 4] == 0
    expected = np.where(np.isfinite(depth), depth, 0)
    np.testing.assert_allclose(back, expected, atol=5e-4 if encoding == "16UC1" else 0)
    raw = np.frombuffer(msg.data, np.uint16 if encoding == "16UC1" else np.float32)
    if encoding == "16UC1":
        assert raw[0] == round(depth[0, 0] * 1000)  # millimetres
    else:
        assert np.isnan(raw[2 * 8 + 3])  # REP 118: NaN = no data


def test_depth_rejects_wrong_encoding():
    msg = cv.color_to_msg(np.zeros((2, 2, 3), np.uint8), "cam")
    with pytest.raises(ValueError, match="16UC1"):
        cv.msg_to_depth(msg)
    with pytest.raises(ValueError, match="depth encoding"):
        cv.depth_to_msg(np.ones((2, 2)), "cam", encoding="8UC1")


def test_camera_info_round_trip_and_backprojection():
    intr = camera_model("realsense", 0.25)
    info = cv.intrinsics_to_camera_info(intr, "cam", 3.0)
    assert isinstance(info, CameraInfo) and info.distortion_model == "plumb_bob"
    assert (info.width, info.height) == (320, 180)
    np.testing.assert_allclose(np.reshape(info.p, (3, 4))[:, :3], intr.K)
    back = cv.camera_info_to_intrinsics(info)
    assert back == intr
    info.k = [0.0] * 9  # K missing: P is used
    assert cv.camera_info_to_intrinsics(info) == intr
    info.p = [0.0] * 12
    with pytest.raises(ValueError, match="focal"):
        cv.camera_info_to_intrinsics(info)
    # a known point back-projects to where the pinhole model puts it
    depth = np.full((intr.height, intr.width), 0.5, np.float32)
    pts = depth_to_points(depth, intr)
    u, v = 100, 50
    np.testing.assert_allclose(pts[v, u], [(u - intr.cx) * 0.5 / intr.fx, (v - intr.cy) * 0.5 / intr.fy, 0.5],
                               rtol=1e-6)


def test_pose_and_transform_round_trips():
    rng = np.random.default_rng(6)
    for _ in range(5):
        T = _random_pose(rng)
        np.testing.assert_allclose(cv.pose_to_matrix(cv.matrix_to_pose(T)), T, atol=1e-12)
        ps = cv.matrix_to_pose_stamped(T, "base_link", Time(sec=2))
        assert isinstance(ps, PoseStamped) and ps.header.frame_id == "base_link"
        np.testing.assert_allclose(cv.pose_to_matrix(ps), T, atol=1e-12)
        ts = cv.matrix_to_transform_stamped(T, "world", "camera_link", 4.5)
        assert isinstance(ts, TransformStamped)
        assert (ts.header.frame_id, ts.child_frame_id) == ("world", "camera_link")
        np.testing.assert_allclose(cv.transform_to_matrix(ts), T, atol=1e-12)
    with pytest.raises(ValueError, match="rotation"):
        cv.matrix_to_pose(np.diag([2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="frame"):
        cv.matrix_to_transform_stamped(np.eye(4), "a", "a")
    assert cv.stamp_to_seconds(cv.seconds_to_stamp(12.345678912)) == pytest.approx(12.345678912, abs=1e-9)
