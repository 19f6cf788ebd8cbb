"""RealSense path without a device: a synthetic recording played through the real pyrealsense2 pipeline.

The recording is written with ``rs.software_device`` + ``rs.recorder``: depth
rendered from a depth camera 15 mm beside the colour camera with its own
intrinsics, colour from the colour camera. Playback goes through
``rs.pipeline`` and ``rs.align(rs.stream.color)``, so the aligned depth must
match the depth rendered directly from the colour camera, and be clearly
better than the unaligned depth image.
"""

from __future__ import annotations

import numpy as np
import pytest
from sensor_msgs.msg import Image

from graspnet_ros.cameras.base import CameraIntrinsics, EndOfStream
from graspnet_ros.cameras.realsense import RealSenseCamera, record_synthetic, write_recording
from graspnet_ros.cameras.synthetic import SyntheticCamera
from graspnet_ros.nodes import conversions as cv
from graspnet_ros.nodes.camera_node import CameraNode
from ros_helpers import RosHarness, wait_for


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    cam = SyntheticCamera(scale=0.25, seed=1)
    path = record_synthetic(tmp_path_factory.mktemp("rs") / "synthetic.db3", cam, num_frames=6)
    return cam, path


def _depth_errors(depth: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, float]:
    both = (depth > 0) & (ref > 0)
    return np.abs(depth - ref)[both], both.mean()


def test_playback_aligns_depth_to_colour(recording):
    cam, path = recording
    assert path.is_file() and path.suffix == ".db3"
    assert not list(path.parent.glob(".rsrec_*")), "temporary recording folder left behind"
    rgb_ref, depth_ref = cam.render()
    rs_cam = RealSenseCamera(playback=path, loop=False)
    rs_cam.open()
    frames = []
    try:
        while True:
            frames.append(rs_cam.read(3.0))
    except EndOfStream:
        pass
    finally:
        rs_cam.close()
    # librealsense drops the first frame of a playback, and under heavy load a few more
    assert len(frames) >= 3, len(frames)
    intr = frames[0].intrinsics
    assert (intr.width, intr.height) == (cam.intrinsics.width, cam.intrinsics.height)
    np.testing.assert_allclose([intr.fx, intr.fy, intr.cx, intr.cy],
                               [cam.intrinsics.fx, cam.intrinsics.fy, cam.intrinsics.cx, cam.intrinsics.cy],
                               rtol=1e-6)
    for f in frames:
        np.testing.assert_array_equal(f.rgb, rgb_ref)
        err, coverage = _depth_errors(f.depth, depth_ref)
        assert coverage > 0.9
        assert np.median(err) < 0.0015 and (err < 0.002).mean() > 0.75, (np.median(err), (err < 0.002).mean())
    # negative control: the depth camera's own image is not registered to colour
    c = cam.intrinsics
    d_intr = CameraIntrinsics(c.width, c.height, c.fx * 0.96, c.fy * 0.96, c.cx - 3.0, c.cy + 2.0)
    T = np.eye(4)
    T[0, 3] = 0.015
    _, raw = cam.scene.render(d_intr, cam.T_world_optical @ T)
    raw_err, _ = _depth_errors(raw, depth_ref)
    assert (raw_err < 0.002).mean() < 0.6 and np.median(raw_err) > 2 * np.median(err)


def test_write_recording_rejects_bad_input(tmp_path):
    intr = CameraIntrinsics(8, 6, 10.0, 10.0, 4.0, 3.0)
    with pytest.raises(ValueError, match=".db3"):
        write_recording(tmp_path / "x.bag", [], intr)
    with pytest.raises(ValueError, match="rgb shape"):
        write_recording(tmp_path / "x.db3", [(np.zeros((5, 5, 3), np.uint8), np.zeros((6, 8)))], intr)
    assert not (tmp_path / "x.db3").exists() and not list(tmp_path.glob(".rsrec_*"))


def test_camera_node_plays_the_recording(recording):
    cam, path = recording
    _, depth_ref = cam.render()
    ros = RosHarness()
    try:
        depth = ros.listen(Image, "/camera/aligned_depth_to_color/image_raw")
        node = ros.add(CameraNode(context=ros.ctx, namespace="camera", parameter_overrides=ros.params(
            source="realsense", realsense__playback=str(path), realsense__loop=False, rate=30.0,
            depth_encoding="16UC1")))
        # frames published before DDS discovery completes may be missed: count what was sent
        assert wait_for(lambda: node.stream.ended and node.published >= 3 and len(depth) >= 1, 30.0), \
            (node.published, len(depth), node.stream.ended)
        for msg in depth:
            err, coverage = _depth_errors(cv.msg_to_depth(msg), depth_ref)
            assert msg.header.frame_id == "camera_color_optical_frame"
            assert coverage > 0.9 and np.median(err) < 0.0015
        # at the end of the recording the node stays up and stops publishing
        n = len(depth)
        ticks = node.ticks
        assert wait_for(lambda: node.ticks > ticks + 5, 10.0) and len(depth) == n
    finally:
        ros.close()


def test_numpy_registration_matches_librealsense_align(recording):
    """graspnet_ros.cameras.registration (used for the Kinect) agrees with rs.align and the truth."""
    from graspnet_ros.cameras.registration import register_depth

    cam, path = recording
    _, depth_ref = cam.render()
    c = cam.intrinsics
    d_intr = CameraIntrinsics(c.width, c.height, c.fx * 0.96, c.fy * 0.96, c.cx - 3.0, c.cy + 2.0)
    T = np.eye(4)
    T[0, 3] = 0.015
    _, raw = cam.scene.render(d_intr, cam.T_world_optical @ T)
    raw_mm = np.rint(raw * 1000) / 1000  # what the recording stores
    ours = register_depth(raw_mm, d_intr, c, T)
    err, coverage = _depth_errors(ours, depth_ref)
    assert coverage > 0.9 and np.median(err) < 0.0015 and (err < 0.002).mean() > 0.75
    rs_cam = RealSenseCamera(playback=path, loop=False)
    rs_frame = rs_cam.read(3.0)
    rs_cam.close()
    both = (ours > 0) & (rs_frame.depth > 0)
    assert both.mean() > 0.9
    assert np.median(np.abs(ours - rs_frame.depth)[both]) < 0.0015
    with pytest.raises(ValueError, match="intrinsics"):
        register_depth(raw_mm[:-1], d_intr, c, T)
