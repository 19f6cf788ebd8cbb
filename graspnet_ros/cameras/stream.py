"""A camera kept streaming: open with retries, reopen after a lost device, stop at the end of a
recording; and the cloud of one frame as the camera node publishes it. ROS-free: the camera node
calls :meth:`CameraStream.read` from its timer and reports :meth:`CameraStream.status`."""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from .base import Camera, CameraError, CameraFrame, EndOfStream
from .geometry import depth_to_points

__all__ = ["CameraStream", "Log", "frame_cloud"]


class Log(Protocol):
    """What the stream logs through (an rclpy logger or a ``logging.Logger``)."""

    def info(self, message: str) -> object: ...

    def error(self, message: str) -> object: ...


class CameraStream:
    """Reads frames from ``camera``, opening it first and again ``retry_period`` s after a failed
    open or a read error (the camera is closed then); an :class:`~.base.EndOfStream` stops it."""

    def __init__(self, camera: Camera, source: str, read_timeout: float, retry_period: float,
                 log: Log) -> None:
        self.camera, self.source, self.log = camera, source, log
        self.read_timeout, self.retry_period = float(read_timeout), float(retry_period)
        self.open_failures = 0
        self.read_errors = 0
        self.is_open = False
        self.ended = False
        self._next_open = 0.0  # time.monotonic() of the next open attempt

    def _ensure_open(self) -> bool:
        if self.is_open:
            return True
        if time.monotonic() < self._next_open:
            return False
        try:
            self.camera.open()
        except CameraError as exc:
            self.open_failures += 1
            self._next_open = time.monotonic() + self.retry_period
            self.log.error(f"cannot open {self.source} camera: {exc}; retrying in {self.retry_period:.1f} s")
            return False
        self.is_open = True
        self.log.info(f"{self.source} camera open")
        return True

    def read(self) -> CameraFrame | None:
        """The next frame, or None (not open yet, a read error, or the recording ended)."""
        if self.ended or not self._ensure_open():
            return None
        try:
            return self.camera.read(self.read_timeout)
        except EndOfStream as exc:
            self.log.info(f"{exc}; stopping (set *.loop to replay)")
            self.ended = True
        except CameraError as exc:  # DeviceLost included: close, then reopen later
            self.read_errors += 1
            self.log.error(f"{self.source} camera: {exc}; reopening in {self.retry_period:.1f} s")
            self.camera.close()
            self.is_open = False
            self._next_open = time.monotonic() + self.retry_period
        return None

    @property
    def state(self) -> str:
        """ended | open | closed."""
        return "ended" if self.ended else "open" if self.is_open else "closed"

    def status(self) -> tuple[str, str]:
        """(level ok | warn | error, message) of the device for diagnostics."""
        if self.ended:
            return "warn", "recording ended"
        if not self.is_open:
            return "error", f"{self.source} camera not open ({self.open_failures} failed attempts)"
        return "ok", "streaming"


def frame_cloud(frame: CameraFrame, stride: int = 1, organised: bool = False,
                colored: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The frame's depth back-projected to points in its optical frame (m), every ``stride``-th
    pixel in both directions, with their colours (uint8 RGB, None unless ``colored``):
    image-shaped with NaN where there is no depth (``organised``), else (N, 3) valid points only."""
    s = int(stride)
    pts = depth_to_points(frame.depth, frame.intrinsics)[::s, ::s]
    rgb = frame.rgb[::s, ::s] if colored else None
    if not organised:
        keep = np.flatnonzero(np.isfinite(pts[..., 2]))  # np.take: the fastest row gather
        pts = np.take(pts.reshape(-1, 3), keep, axis=0)
        rgb = np.take(rgb.reshape(-1, 3), keep, axis=0) if rgb is not None else None
    return pts, rgb
