"""Azure Kinect (live or ``.mkv`` playback) through libk4a / libk4arecord.

Status on this project's machines, said plainly:

* The libraries: Debian has no libk4a. ``pyk4a-bundle`` (PyPI, 1.5.0) ships
  libk4a and libk4arecord 1.4.2 (its own compiled module needs numpy < 2 and
  is not used); ``pykinect-azure`` 0.0.4 (install with ``--no-deps``: it
  would replace opencv-contrib) provides the ctypes signatures. This module
  calls those ctypes functions directly and checks every result code,
  because pykinect-azure's own wrappers call ``sys.exit`` on any error,
  which would kill a node.
* libk4a's ``depth_image_to_color_camera`` needs an OpenGL context (it works
  under ``xvfb-run``, not headless), so depth is registered to colour with
  :func:`graspnet_ros.cameras.registration.register_depth` (numpy + OpenCV,
  tested against librealsense's aligner) and the colour image is undistorted
  to a pinhole model with the calibration's Brown-Conrady coefficients.
* Tested here: library discovery, the clean errors when no device or no
  recording exists (the camera node then logs and retries), and playback of
  a real recording (``../shared/data/kinect/recording.mkv``, test
  ``test_kinect_recording.py``): every capture, the file's own intrinsics,
  depth in metres, and depth registered to colour (the mug's depth
  silhouette matches a hand-drawn mask of it in the colour image, IoU >= 0.8).
  NOT tested here: a live device (none is attached).

Colour formats handled: BGRA32 and MJPG. Depth: DEPTH16 millimetres.
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path

import numpy as np

from .base import CameraError, CameraFrame, CameraIntrinsics, DeviceLost, EndOfStream
from .registration import register_depth

__all__ = ["KinectCamera", "find_k4a_libraries"]

_STREAM_SUCCEEDED, _STREAM_EOF = 0, 2
_WAIT_OK, _WAIT_TIMEOUT = 0, 2


def find_k4a_libraries() -> tuple[str, str]:
    """Paths of (libk4a, libk4arecord): $K4A_LIB / $K4ARECORD_LIB, the system, or pyk4a-bundle."""
    env = os.environ.get("K4A_LIB"), os.environ.get("K4ARECORD_LIB")
    if all(env):
        return env  # type: ignore[return-value]
    for k4a in ("/usr/lib/x86_64-linux-gnu/libk4a.so", "/usr/lib/x86_64-linux-gnu/libk4a.so.1.4"):
        rec = k4a.replace("libk4a.", "libk4arecord.")
        if os.path.exists(k4a) and os.path.exists(rec):
            return k4a, rec
    try:
        import importlib.util

        spec = importlib.util.find_spec("pyk4a")
        roots = [os.path.dirname(os.path.dirname(spec.origin))] if spec and spec.origin else []
    except (ImportError, ValueError):
        roots = []
    for root in roots:
        k4a = sorted(glob.glob(os.path.join(root, "pyk4a_bundle.libs", "libk4a-*.so*")))
        rec = sorted(glob.glob(os.path.join(root, "pyk4a_bundle.libs", "libk4arecord-*.so*")))
        if k4a and rec:
            return k4a[0], rec[0]
    raise CameraError("libk4a not found: pip install --no-deps pyk4a-bundle==1.5.0 pykinect-azure==0.0.4 "
                      "(or install the Azure Kinect SDK, or set K4A_LIB and K4ARECORD_LIB)")


def _bindings():
    """pykinect-azure's ctypes modules with the libraries loaded."""
    try:
        from pykinect_azure.k4a import _k4a
        from pykinect_azure.k4arecord import _k4arecord
    except ImportError as exc:
        raise CameraError("pykinect-azure is not installed: pip install --no-deps pykinect-azure==0.0.4") from exc
    k4a_path, rec_path = find_k4a_libraries()
    if getattr(_k4a, "k4a_dll", None) is None:
        try:
            _k4a.setup_library(k4a_path)
            _k4arecord.setup_library(rec_path)
        except (OSError, SystemExit) as exc:
            raise CameraError(f"cannot load libk4a from {k4a_path}: {exc}") from exc
    return _k4a, _k4arecord


def _intrinsics(cam) -> tuple[CameraIntrinsics, np.ndarray]:
    """Pinhole intrinsics and OpenCV rational distortion (k1 k2 p1 p2 k3 k4 k5 k6) of a k4a camera."""
    p = cam.intrinsics.parameters.param
    intr = CameraIntrinsics(int(cam.resolution_width), int(cam.resolution_height), p.fx, p.fy, p.cx, p.cy)
    return intr, np.array([p.k1, p.k2, p.p1, p.p2, p.k3, p.k4, p.k5, p.k6], dtype=np.float64)


def _extrinsics(cam) -> np.ndarray:
    """T_cam<-depth of a k4a camera calibration: libk4a's ``extrinsics`` of a camera map a point from the
    depth camera into that camera, p_cam = R p_depth + t (rotation row-major, translation mm -> m); it is
    the same entry as ``calibration.extrinsics[DEPTH][cam]``."""
    T = np.eye(4)
    T[:3, :3] = np.array(cam.extrinsics.rotation[:], dtype=np.float64).reshape(3, 3)
    T[:3, 3] = np.array(cam.extrinsics.translation[:], dtype=np.float64) / 1000.0
    return T


class KinectCamera:
    """A :class:`~graspnet_ros.cameras.base.Camera` over libk4a (see the module docstring).

    device_index: live device to open; playback: ``.mkv`` path (wins over the
    device); loop: restart a recording at its end. Frames: undistorted colour
    with the colour camera's pinhole intrinsics, depth registered to it.
    Stamps: wall-clock seconds at ``read()``. ``frame.extras``: ``raw_depth`` (m, the depth
    camera's own grid), ``depth_intrinsics``, ``depth_distortion`` and ``T_color_depth`` (4x4, m).
    """

    name = "kinect"

    def __init__(self, device_index: int = 0, playback: str | os.PathLike | None = None, loop: bool = True,
                 frame_id: str = "camera_color_optical_frame") -> None:
        self.device_index = int(device_index)
        self.playback = Path(playback) if playback else None
        self.loop = loop
        self.frame_id = frame_id
        self._handle = None
        self._calib = None
        self._index = 0
        self._intrinsics: CameraIntrinsics | None = None

    @property
    def intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise CameraError("Kinect camera is not open")
        return self._intrinsics

    def open(self) -> None:
        k4a, rec = _bindings()
        calib = k4a.k4a_calibration_t()
        if self.playback is not None:
            if not self.playback.is_file():
                raise CameraError(f"Azure Kinect recording not found: {self.playback}")
            handle = rec.k4a_playback_t()
            if rec.k4a_playback_open(str(self.playback).encode(), handle) != 0:
                raise CameraError(f"libk4arecord cannot open {self.playback} (not an Azure Kinect .mkv?)")
            if rec.k4a_playback_get_calibration(handle, calib) != 0:
                rec.k4a_playback_close(handle)
                raise CameraError(f"{self.playback} has no calibration attachment")
        else:
            count = k4a.k4a_device_get_installed_count()
            if count <= self.device_index:
                raise DeviceLost(f"no Azure Kinect at index {self.device_index} ({count} connected); "
                                 "set 'kinect.playback' to play a recording")
            handle = k4a.k4a_device_t()
            if k4a.k4a_device_open(self.device_index, handle) != 0:
                raise DeviceLost(f"cannot open Azure Kinect {self.device_index} (in use or no permission)")
            config = k4a.k4a_device_configuration_t()
            config.color_format = k4a.K4A_IMAGE_FORMAT_COLOR_BGRA32
            config.color_resolution = k4a.K4A_COLOR_RESOLUTION_720P
            config.depth_mode = k4a.K4A_DEPTH_MODE_NFOV_UNBINNED
            config.camera_fps = k4a.K4A_FRAMES_PER_SECOND_30
            config.synchronized_images_only = True
            if (k4a.k4a_device_start_cameras(handle, config) != 0 or
                    k4a.k4a_device_get_calibration(handle, config.depth_mode, config.color_resolution,
                                                   calib) != 0):
                k4a.k4a_device_close(handle)
                raise DeviceLost(f"cannot start the Azure Kinect {self.device_index} cameras")
        self._k4a, self._rec, self._handle, self._calib = k4a, rec, handle, calib
        self._color, self._color_dist = _intrinsics(calib.color_camera_calibration)
        self._depth, self._depth_dist = _intrinsics(calib.depth_camera_calibration)
        self._T_color_depth = _extrinsics(calib.color_camera_calibration)
        self._intrinsics = self._color

    def close(self) -> None:
        if self._handle is None:
            return
        if self.playback is not None:
            self._rec.k4a_playback_close(self._handle)
        else:
            self._k4a.k4a_device_stop_cameras(self._handle)
            self._k4a.k4a_device_close(self._handle)
        self._handle = None

    def _image(self, capture, depth: bool) -> np.ndarray | None:
        k4a = self._k4a
        img = (k4a.k4a_capture_get_depth_image if depth else k4a.k4a_capture_get_color_image)(capture)
        if not img:
            return None
        try:
            w, h = k4a.k4a_image_get_width_pixels(img), k4a.k4a_image_get_height_pixels(img)
            size, stride = k4a.k4a_image_get_size(img), k4a.k4a_image_get_stride_bytes(img)
            buf = np.ctypeslib.as_array(k4a.k4a_image_get_buffer(img), shape=(size,)).copy()
            fmt = k4a.k4a_image_get_format(img)
        finally:
            k4a.k4a_image_release(img)
        if depth:
            return buf[:h * stride].reshape(h, stride)[:, :2 * w].copy().view("<u2")
        import cv2

        if fmt == k4a.K4A_IMAGE_FORMAT_COLOR_BGRA32:
            bgr = buf[:h * stride].reshape(h, stride)[:, :4 * w].reshape(h, w, 4)[..., :3]
        elif fmt == k4a.K4A_IMAGE_FORMAT_COLOR_MJPG:
            bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        else:
            raise CameraError(f"unsupported Azure Kinect colour format {fmt}; record BGRA32 or MJPG")
        return bgr[..., ::-1]

    def read(self, timeout: float = 1.0) -> CameraFrame:
        if self._handle is None:
            self.open()
        k4a = self._k4a
        capture = k4a.k4a_capture_t()
        if self.playback is not None:
            result = self._rec.k4a_playback_get_next_capture(self._handle, capture)
            if result == _STREAM_EOF:
                if not self.loop:
                    raise EndOfStream(f"no more captures in {self.playback}")
                self._rec.k4a_playback_seek_timestamp(self._handle, 0, 0)
                result = self._rec.k4a_playback_get_next_capture(self._handle, capture)
            if result != _STREAM_SUCCEEDED:
                raise CameraError(f"cannot read a capture from {self.playback}")
        else:
            result = k4a.k4a_device_get_capture(self._handle, capture, int(timeout * 1000))
            if result != _WAIT_OK:
                raise DeviceLost(f"no capture from the Azure Kinect within {timeout:.1f} s")
        try:
            depth_mm = self._image(capture, depth=True)
            rgb = self._image(capture, depth=False)
        finally:
            k4a.k4a_capture_release(capture)
        if depth_mm is None or rgb is None:
            raise CameraError("Azure Kinect capture without depth or colour (use synchronized images)")
        import cv2

        rgb = cv2.undistort(np.ascontiguousarray(rgb), self._color.K, self._color_dist)
        raw = depth_mm.astype(np.float32) / 1000.0
        depth = register_depth(raw, self._depth, self._color, self._T_color_depth, self._depth_dist)
        # the unregistered depth and its camera model, for tools that re-register or check it
        extras = {"raw_depth": raw, "depth_intrinsics": self._depth, "depth_distortion": self._depth_dist,
                  "T_color_depth": self._T_color_depth.copy()}
        frame = CameraFrame(rgb, depth, self._color, time.time(), self.frame_id, self._index, extras)
        self._index += 1
        return frame
