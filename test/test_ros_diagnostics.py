"""/diagnostics (diagnostic_msgs/DiagnosticArray) of camera_node and grasp_detector_node over DDS."""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

from graspnet_ros.nodes.camera_node import CameraNode
from graspnet_ros.nodes.grasp_detector_node import GraspDetectorNode
from ros_helpers import wait_for


def latest(arrays: list, prefix: str) -> DiagnosticStatus | None:
    found = [s for a in arrays for s in a.status if s.name.startswith(prefix)]
    return found[-1] if found else None


def values(status: DiagnosticStatus) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}


def test_camera_and_detector_report_rate_latency_drops_and_state(ros):
    diags = ros.listen(DiagnosticArray, "/diagnostics")
    ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        cloud_topic="/cam/depth/color/points", detector="baseline", max_points=2000, max_grasps=5)))
    # before any input: a warning naming the topic
    assert wait_for(lambda: latest(diags, "grasp_detector_node"), 10.0)
    first = latest(diags, "grasp_detector_node")
    assert first.level == DiagnosticStatus.WARN and "/cam/depth/color/points" in first.message
    ros.add(CameraNode(context=ros.ctx, cli_args=["--ros-args", "-r", "__ns:=/cam"],
                       parameter_overrides=ros.params(rate=5.0, synthetic__scale=0.1, synthetic__scene="boxes")))

    def detector_ok() -> bool:
        s = latest(diags, "grasp_detector_node")
        return s is not None and s.level == DiagnosticStatus.OK and float(values(s)["rate_hz"]) > 0

    assert wait_for(detector_ok, 60.0), latest(diags, "grasp_detector_node")
    det = values(latest(diags, "grasp_detector_node"))
    assert float(det["latency_ms"]) > 0 and int(det["frames"]) >= 1 and int(det["frames_dropped"]) >= 0
    assert det["input_topic"] == "/cam/depth/color/points" and det["detector"] == "baseline"

    def camera_streaming() -> bool:  # its own 1 Hz timer: may report after the detector's
        s = latest(diags, "camera_node")
        return s is not None and s.level == DiagnosticStatus.OK and float(values(s)["rate_hz"]) > 0

    assert wait_for(camera_streaming, 30.0), latest(diags, "camera_node")
    cam = latest(diags, "camera_node")
    assert cam.hardware_id == "synthetic"
    cv = values(cam)
    assert cv["device_state"] == "open" and cv["frames_dropped"] == "0"
    assert float(cv["latency_ms"]) > 0
