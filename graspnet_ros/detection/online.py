"""Detection on a live stream of clouds (what grasp_detector_node does between its messages,
ROS-free): one detection at a time, optional multi-view fusion of the last clouds placed by their
camera poses, the line each detection logs, and the stream's health for diagnostics.

Points are (..., 3) in metres in their message's frame; stamps and ages in seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping

import numpy as np

from ..grasp import GraspGroup
from .accumulate import ViewAccumulator
from .runner import DetectionPipeline, DetectionResult

__all__ = ["OnlineDetector", "IDLE_WARNING_S", "INPUTS", "INPUT_QOS_CHOICES", "check_parameters"]

#: no input for longer than this (s) is a warning in the stream's status
IDLE_WARNING_S = 5.0


class OnlineDetector:
    """``pipeline`` run on a stream: ``fusion_views`` > 1 fuses the last that many clouds (within
    ``fusion_max_age`` s of the newest, voxel ``voxel_size`` m) in the newest cloud's frame;
    ``tf_timeout``: s a cloud waits for its camera pose."""

    def __init__(self, pipeline: DetectionPipeline, fusion_views: int = 1, fusion_max_age: float = 10.0,
                 voxel_size: float = 0.0, tf_timeout: float = 0.5) -> None:
        self.pipeline = pipeline
        self.accumulator = (ViewAccumulator(fusion_views, fusion_max_age, voxel_size) if fusion_views > 1
                            else None)
        self.tf_timeout = float(tf_timeout)
        self._lock = threading.Lock()  # one detection at a time (worker or service)
        self.last_result: DetectionResult | None = None
        self.last_input: float | None = None  # time.monotonic() of the last input message
        self.last_error = ""  # of the last streamed detection ('' when it ran)

    @classmethod
    def from_parameters(cls, pipeline: DetectionPipeline, p: Mapping[str, Any]) -> "OnlineDetector":
        """Configured from grasp_detector_node's parameter values (``fusion.*``, ``voxel_size``)."""
        return cls(pipeline, p["fusion.views"], p["fusion.max_age"], p["voxel_size"], p["fusion.tf_timeout"])

    def received(self) -> None:
        """An input message arrived (for :meth:`status`)."""
        self.last_input = time.monotonic()

    def fuse(self, points: np.ndarray, stamp: float, camera_pose: Callable[[], np.ndarray]) -> np.ndarray:
        """Add a cloud (its frame, m) stamped ``stamp`` s to the views; the last views fused in this
        cloud's frame. ``camera_pose()``: T_fixed<-cloud frame at the stamp, or ValueError while it is
        not known; it is retried for ``tf_timeout`` s, then the ValueError says the pose is missing."""
        if self.accumulator is None:
            raise ValueError("multi-view fusion is off (fusion.views = 1)")
        deadline = time.monotonic() + self.tf_timeout
        while True:
            try:
                T = camera_pose()
                break
            except ValueError as exc:
                if time.monotonic() >= deadline:
                    raise ValueError(f"multi-view fusion needs the camera pose: {exc}") from None
                time.sleep(0.02)
        self.accumulator.add(points, T, stamp)
        fused, _ = self.accumulator.fused()
        return fused

    def detect(self, points: np.ndarray, frame_id: str, max_grasps: int = 0, fused: bool = False,
               started: float | None = None) -> tuple[GraspGroup, str]:
        """(grasps best first, cut to ``max_grasps`` when > 0; the line to log) of one detection.
        ``fused``: the points are the fused views; ``started``: ``time.perf_counter()`` when the
        message was taken up (the logged time counts from there). The pipeline's ValueError (bad
        input) and any detector failure pass through."""
        t0 = time.perf_counter() if started is None else started
        with self._lock:
            result = self.pipeline.process(points, frame_id)
        self.last_result = result
        grasps = result.grasps if max_grasps <= 0 else result.grasps.top_k(max_grasps)
        stages = ", ".join(f"{k} {v * 1000:.0f}" for k, v in result.timings.items() if k != "total")
        best = f", best {grasps.scores[0]:.2f}" if len(grasps) else ""
        views = f" ({len(self.accumulator)} views fused)" if fused and self.accumulator is not None else ""
        return grasps, (f"{len(grasps)} grasps{best} from {result.num_input} points{views} ({result.num_used} used) "
                        f"in {(time.perf_counter() - t0) * 1000:.0f} ms [{stages} ms]")

    def status(self, topic: str) -> tuple[str, str]:
        """(level ok | warn | error, message) of the stream on input ``topic``."""
        if self.last_input is None:
            return "warn", f"no input received on {topic}"
        idle = time.monotonic() - self.last_input
        if idle > IDLE_WARNING_S:
            return "warn", f"no input on {topic} for {idle:.0f} s"
        if self.last_error:
            return "error", self.last_error
        return "ok", "detecting"


#: grasp_detector_node's input kinds and input QoS choices
INPUTS = ("cloud", "depth")
INPUT_QOS_CHOICES = ("auto", "reliable", "sensor_data")


def check_parameters(p: Mapping[str, Any]) -> None:
    """ValueError unless ``input`` and ``input_qos`` are ones the node knows."""
    if p["input"] not in INPUTS:
        raise ValueError(f"parameter input='{p['input']}' must be cloud or depth")
    if p["input_qos"] not in INPUT_QOS_CHOICES:
        raise ValueError(f"parameter input_qos='{p['input_qos']}' must be one of {list(INPUT_QOS_CHOICES)}")
