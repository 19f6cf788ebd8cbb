"""The ROS-free cores of the nodes, without rclpy: camera stream, remote operator, calibration
sample rules, executor goal inputs, eye-in-hand capture poses, the online detector's health and
the parameter checks (the nodes' own tests run them over real DDS)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from graspnet_ros.calibration.calibration_params import collector_from_parameters
from graspnet_ros.calibration.calibration_params import PARAMETERS as CALIBRATION_PARAMETERS
from graspnet_ros.cameras.base import CameraError, CameraFrame, CameraIntrinsics, EndOfStream
from graspnet_ros.cameras.camera_params import PARAMETERS as CAMERA_PARAMETERS
from graspnet_ros.cameras.camera_params import check_parameters as check_camera
from graspnet_ros.cameras.stream import CameraStream, frame_cloud
from graspnet_ros.detection.online import OnlineDetector
from graspnet_ros.detection.online import check_parameters as check_detector
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.pose_history import CaptureFlange
from graspnet_ros.robot.executor import InputLimits
from graspnet_ros.robot.goal_inputs import GoalInputs, Refused
from graspnet_ros.trials.remote import RemoteOperator
from graspnet_ros.trials.trial_params import PARAMETERS as TRIAL_PARAMETERS
from graspnet_ros.trials.trial_params import session_config


class Log:
    """A logger that keeps (severity, message)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, m: str) -> None:
        self.lines.append(("info", m))

    def warning(self, m: str) -> None:
        self.lines.append(("warning", m))

    def error(self, m: str) -> None:
        self.lines.append(("error", m))


def defaults(table) -> dict:
    return {p.name: p.default for p in table}


def small_frame() -> CameraFrame:
    intr = CameraIntrinsics(4, 3, 100.0, 100.0, 2.0, 1.5)
    depth = np.full((3, 4), 0.5, np.float32)
    depth[0, 0] = 0.0  # no data
    return CameraFrame(np.zeros((3, 4, 3), np.uint8), depth, intr, 1.0)


class FlakyCamera:
    """Fails to open once, then reads: a frame, a lost device, a frame, the end of the recording."""

    def __init__(self) -> None:
        self.opens, self.closes = 0, 0
        self.script: list = [small_frame(), CameraError("lost"), small_frame(), EndOfStream("recording ended")]

    def open(self) -> None:
        self.opens += 1
        if self.opens == 1:
            raise CameraError("no device")

    def read(self, timeout: float = 1.0) -> CameraFrame:
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self.closes += 1


def test_camera_stream_retries_opens_reopens_after_a_read_error_and_stops_at_the_end():
    cam, log = FlakyCamera(), Log()
    stream = CameraStream(cam, "realsense", 1.0, 0.0, log)
    assert stream.read() is None and stream.open_failures == 1 and stream.status()[0] == "error"
    assert log.lines[-1] == ("error", "cannot open realsense camera: no device; retrying in 0.0 s")
    assert isinstance(stream.read(), CameraFrame) and stream.state == "open" and stream.status() == ("ok", "streaming")
    assert stream.read() is None and stream.read_errors == 1 and cam.closes == 1 and stream.state == "closed"
    assert isinstance(stream.read(), CameraFrame) and cam.opens == 3
    assert stream.read() is None and stream.ended and stream.status() == ("warn", "recording ended")
    assert stream.read() is None and cam.opens == 3  # ended: nothing more is read


def test_frame_cloud_keeps_valid_points_or_the_image_shape():
    pts, rgb = frame_cloud(small_frame())
    assert pts.shape == (11, 3) and rgb.shape == (11, 3) and np.allclose(pts[:, 2], 0.5)
    pts, rgb = frame_cloud(small_frame(), stride=2, organised=True, colored=False)
    assert pts.shape == (2, 2, 3) and rgb is None and np.isnan(pts[0, 0]).all()


def test_parameter_checks_keep_their_messages():
    p = defaults(CAMERA_PARAMETERS)
    check_camera(p)
    with pytest.raises(ValueError, match="parameter source='usb' is not one of"):
        check_camera({**p, "source": "usb"})
    with pytest.raises(ValueError, match="input_qos='fast' must be one of \\['auto', 'reliable', 'sensor_data'\\]"):
        check_detector({"input": "cloud", "input_qos": "fast"})
    with pytest.raises(ValueError, match="parameter input='points' must be cloud or depth"):
        check_detector({"input": "points", "input_qos": "auto"})


def test_remote_operator_waits_for_the_answer_and_refuses_one_nothing_awaits():
    published, log = [], Log()
    op = RemoteOperator(published.append, log, timeout=0.05)
    assert op.answer(True) == (False, "no trial is awaiting confirmation")
    assert op({"key": "t1", "proposed_success": True, "measured_width": 0.03, "threshold": 0.002}) is None
    assert log.lines[-1][0] == "warning" and "verdict 'timeout'" in log.lines[-1][1]
    got: list = []
    asker = threading.Thread(target=lambda: got.append(op.ask("scene 2", "Is the table clear?", False)))
    asker.start()
    while op.pending is None:
        time.sleep(0.01)
    assert '"kind": "question"' in published[-1]
    assert op.answer(True) == (True, "scene 2: operator answer yes recorded")
    asker.join(5.0)
    assert got == [True] and op.pending is None


def test_trial_parameters_override_the_yaml_only_when_set(tmp_path):
    p = defaults(TRIAL_PARAMETERS)
    cfg = session_config(p)
    assert cfg.trials == 20 and cfg.operator_confirm is False and cfg.executor_config is None
    cfg = session_config({**p, "trials": 3, "out": str(tmp_path), "operator_confirm": True, "checkpoint": "w.pt"})
    assert cfg.trials == 3 and cfg.out == tmp_path and cfg.operator_confirm and str(cfg.checkpoint) == "w.pt"


def test_calibration_sample_rules(tmp_path):
    p = {**defaults(CALIBRATION_PARAMETERS), "mode": "eye-in-hand", "output_path": str(tmp_path / "c.yaml")}
    _, c = collector_from_parameters(p)
    with pytest.raises(ValueError, match="no samples collected"):
        c.solve()
    image = object()
    c.check_image(image, 0.1)
    with pytest.raises(ValueError, match="the latest image is 3.0 s old"):
        c.check_image(image, 3.0)
    with pytest.raises(ValueError, match="stamps differ by 0.600 s"):
        c.check_stamps(10.0, 10.6)
    c.check_stamps(10.0, 10.2)
    c.samples.append((np.eye(4), np.eye(4), 0.1))
    c.used_image = image
    with pytest.raises(ValueError, match="no new image since sample 1"):
        c.check_image(image, 0.1)
    with pytest.raises(ValueError, match="the robot has not moved since sample 1"):
        c.check_moved(np.eye(4))
    moved = np.eye(4)
    moved[0, 3] = 0.05
    c.check_moved(moved)
    assert c.reset() == "dropped 1 samples" and c.used_image is None
    with pytest.raises(ValueError, match="mode must be eye-in-hand, eye-to-hand or views"):
        collector_from_parameters({**p, "mode": "hand-in-eye"})


class FakeExecutor:
    """What GoalInputs uses of a GraspExecutor: the input limits, frames and the flange pose."""

    class config:
        inputs = InputLimits(max_cloud_age=2.0, max_grasps_age=5.0)

    def flange_pose(self) -> np.ndarray:
        return np.eye(4)

    def base_from(self, frame_id: str, flange) -> np.ndarray:
        if frame_id not in ("base_link", "camera"):
            raise ValueError(f"unknown frame '{frame_id}'")
        return np.eye(4)

    def cloud_to_base(self, points, frame_id: str, flange) -> np.ndarray:
        return np.asarray(points)


def grasps(frame_id: str = "base_link") -> GraspGroup:
    return GraspGroup.from_approach(np.array([[0.1, 0.0, 0.1]]), np.array([[0.0, 0.0, -1.0]]), np.array([0.0]),
                                    depth=0.02, width=0.05, frame_id=frame_id)


def test_goal_inputs_refuse_missing_and_stale_inputs():
    inputs = GoalInputs(FakeExecutor())
    with pytest.raises(Refused, match="no GraspArray received yet"):
        inputs.for_goal(None, 0.0, 100.0)
    with pytest.raises(ValueError, match="unknown frame"):
        inputs.add_grasps(grasps("elsewhere"), 1.0, now=100.0)
    inputs.add_grasps(grasps(), 1.0, now=100.0)
    g, flange, cloud = inputs.for_goal(None, 0.0, 104.0)
    assert len(g) == 1 and flange is None and cloud is None
    with pytest.raises(Refused, match=r"the latest GraspArray is 6.0 s old \(limit inputs.max_grasps_age = 5.0 s\)"):
        inputs.for_goal(None, 0.0, 106.0)
    inputs.add_cloud(np.zeros((3, 3)), "base_link", 1.0, now=100.0)
    with pytest.raises(Refused, match="the latest cloud is 2.5 s old, too old for the clearance check"):
        inputs.for_goal(grasps(), 1.0, 102.5)
    assert inputs.for_goal(grasps(), 1.0, 101.0)[2].shape == (3, 3)


def test_capture_flange_places_camera_frames_by_their_stamp():
    with pytest.raises(ValueError, match="flange_rate .* must be > 0"):
        CaptureFlange(0.0, 10.0, ["camera"])
    history = CaptureFlange(50.0, 10.0, ["camera"])
    inputs = GoalInputs(FakeExecutor(), history)
    inputs.sample_flange(5.0)
    inputs.sample_flange(5.1)
    assert history.period == pytest.approx(0.02) and len(history) == 2
    assert history.at_capture("base_link", 5.05) is None
    np.testing.assert_allclose(history.at_capture("camera", 5.05), np.eye(4))
    with pytest.raises(ValueError, match="is eye-in-hand but the message has no stamp"):
        history.at_capture("camera", 0.0)
    with pytest.raises(Refused, match="refused: flange pose"):
        inputs.for_goal(grasps("camera"), 1.0, 0.0)


def test_online_detector_health_and_missing_camera_pose():
    live = OnlineDetector(None, fusion_views=2, tf_timeout=0.05)
    assert live.status("/points") == ("warn", "no input received on /points")
    live.received()
    assert live.status("/points") == ("ok", "detecting")
    live.last_error = "bad input"
    assert live.status("/points") == ("error", "bad input")
    live.last_input = time.monotonic() - 6.0
    assert live.status("/points") == ("warn", "no input on /points for 6 s")

    def no_pose() -> np.ndarray:
        raise ValueError("no transform from 'cam'")

    with pytest.raises(ValueError, match="multi-view fusion needs the camera pose: no transform from 'cam'"):
        live.fuse(np.zeros((5, 3)), 1.0, no_pose)
