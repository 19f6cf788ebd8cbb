"""Intel RealSense through pyrealsense2: a live device or a recording, depth aligned to colour.

:class:`RealSenseCamera` opens either a live camera (``serial``, or the first
device found) streaming ``z16`` depth and ``rgb8`` colour, or a recording
file (``playback``: ``.db3`` written by librealsense >= 2.58, or a ROS 1
``.bag`` from older versions) through the same ``rs.pipeline``. Every frame
set goes through ``rs.align(rs.stream.color)``, so the depth image is
registered to the colour image and both use the colour intrinsics and the
colour optical frame (like realsense2_camera's ``aligned_depth_to_color``).

:func:`write_recording` makes a recording without a device: a
``rs.software_device`` with a depth and a colour sensor (real intrinsics,
the depth-to-colour extrinsics and depth units) feeds ``rs.recorder``; the
recorder's own sensors are opened and started, frames are pushed through the
software sensors, and deleting the recorder flushes the file. With
:func:`record_synthetic` this turns a synthetic scene into a recording whose
playback exercises the real pipeline and aligner (used by the tests).

Device loss: ``read`` raises :class:`~graspnet_ros.cameras.base.DeviceLost`
when no frame set arrives within the timeout; the caller closes and reopens.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from .base import CameraError, CameraFrame, CameraIntrinsics, DeviceLost, EndOfStream

__all__ = ["RealSenseCamera", "write_recording", "record_synthetic", "import_realsense"]


def import_realsense():
    """Import pyrealsense2 (libusb is loaded first when the system has none)."""
    from .._native import ensure_libusb

    ensure_libusb()
    try:
        import pyrealsense2 as rs
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise CameraError("pyrealsense2 is not installed: pip install pyrealsense2") from exc
    return rs


def _rs_intrinsics(rs, intr: CameraIntrinsics):
    out = rs.intrinsics()
    out.width, out.height = intr.width, intr.height
    out.fx, out.fy, out.ppx, out.ppy = intr.fx, intr.fy, intr.cx, intr.cy
    out.model = rs.distortion.brown_conrady
    out.coeffs = list(intr.distortion[:5]) + [0.0] * (5 - len(intr.distortion[:5]))
    return out


def _from_rs_intrinsics(i) -> CameraIntrinsics:
    return CameraIntrinsics(i.width, i.height, i.fx, i.fy, i.ppx, i.ppy, tuple(i.coeffs))


class RealSenseCamera:
    """A :class:`~graspnet_ros.cameras.base.Camera` over pyrealsense2.

    serial: device serial number ('' = first device). playback: path of a
    recording (takes precedence over ``serial``). width, height, fps: stream
    settings of a live device (both streams). realtime: play a recording at
    its recorded pace (False: as fast as frames are read). loop: restart a
    recording at its end (else :class:`EndOfStream`).
    Stamps: the device's global time when it provides it, else wall-clock
    seconds at ``read()``.
    """

    name = "realsense"

    def __init__(self, serial: str = "", playback: str | os.PathLike | None = None,
                 width: int = 1280, height: int = 720, fps: int = 30, realtime: bool = False,
                 loop: bool = False, frame_id: str = "camera_color_optical_frame") -> None:
        self.serial = serial or ""
        self.playback = Path(playback) if playback else None
        self.width, self.height, self.fps = int(width), int(height), int(fps)
        self.realtime, self.loop = realtime, loop
        self.frame_id = frame_id
        self._pipeline = None
        self._align = None
        self._depth_scale = 0.001
        self._intrinsics: CameraIntrinsics | None = None
        self._index = 0

    @property
    def intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise CameraError("RealSense camera is not open")
        return self._intrinsics

    def open(self) -> None:
        rs = import_realsense()
        cfg = rs.config()
        if self.playback is not None:
            if not self.playback.is_file():
                raise CameraError(f"RealSense recording not found: {self.playback}")
            cfg.enable_device_from_file(str(self.playback), repeat_playback=self.loop)
        else:
            serials = [d.get_info(rs.camera_info.serial_number) for d in rs.context().query_devices()]
            if not serials:
                raise DeviceLost("no RealSense device connected (check the USB cable, or set "
                                 "'realsense.playback' to a recording file)")
            if self.serial and self.serial not in serials:
                raise DeviceLost(f"RealSense device {self.serial} not found; connected: {serials}")
            if self.serial:
                cfg.enable_device(self.serial)
            cfg.enable_stream(rs.stream.depth, self.width, self.height, rs.format.z16, self.fps)
            cfg.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, self.fps)
        pipeline = rs.pipeline()
        try:
            profile = pipeline.start(cfg)
        except RuntimeError as exc:
            raise CameraError(f"cannot start the RealSense pipeline: {exc}") from exc
        device = profile.get_device()
        if self.playback is not None:
            device.as_playback().set_real_time(self.realtime)
        self._depth_scale = float(device.first_depth_sensor().get_depth_scale())
        color = profile.get_stream(rs.stream.color).as_video_stream_profile()
        self._intrinsics = _from_rs_intrinsics(color.get_intrinsics())
        self._align = rs.align(rs.stream.color)
        self._pipeline = pipeline
        self._rs = rs

    def close(self) -> None:
        if self._pipeline is not None:
            try:
                self._pipeline.stop()
            except RuntimeError:
                pass
            self._pipeline = None

    def read(self, timeout: float = 1.0) -> CameraFrame:
        if self._pipeline is None:
            self.open()
        rs = self._rs
        ok, frames = self._pipeline.try_wait_for_frames(int(max(timeout, 0.001) * 1000))
        if not ok:
            if self.playback is not None:
                raise EndOfStream(f"no more frames in {self.playback}")
            raise DeviceLost(f"no frames from RealSense {self.serial or '(first device)'} "
                             f"within {timeout:.1f} s")
        aligned = self._align.process(frames)
        depth_frame, color_frame = aligned.get_depth_frame(), aligned.get_color_frame()
        if not depth_frame or not color_frame:
            raise DeviceLost("RealSense frame set without depth or colour")
        depth = np.asanyarray(depth_frame.get_data()).astype(np.float32) * np.float32(self._depth_scale)
        rgb = np.asanyarray(color_frame.get_data())
        fmt = color_frame.get_profile().format()
        if fmt == rs.format.bgr8:
            rgb = rgb[..., ::-1]
        elif fmt in (rs.format.rgba8, rs.format.bgra8):
            rgb = rgb[..., [0, 1, 2]] if fmt == rs.format.rgba8 else rgb[..., [2, 1, 0]]
        elif fmt != rs.format.rgb8:
            raise CameraError(f"unsupported RealSense colour format {fmt}; record rgb8 or bgr8")
        intr = _from_rs_intrinsics(color_frame.get_profile().as_video_stream_profile().get_intrinsics())
        self._intrinsics = intr
        stamp = (color_frame.get_timestamp() / 1000.0
                 if color_frame.get_frame_timestamp_domain() == rs.timestamp_domain.global_time
                 else time.time())
        frame = CameraFrame(np.ascontiguousarray(rgb), depth, intr, stamp, self.frame_id, self._index,
                            extras={"device_timestamp_ms": color_frame.get_timestamp(),
                                    "frame_number": color_frame.get_frame_number()})
        self._index += 1
        return frame


def write_recording(path: str | os.PathLike, frames: Iterable[tuple[np.ndarray, np.ndarray]],
                    color_intrinsics: CameraIntrinsics, depth_intrinsics: CameraIntrinsics | None = None,
                    T_color_depth: np.ndarray | None = None, depth_scale: float = 0.001,
                    fps: int = 30) -> Path:
    """Record (rgb, depth) frames to a librealsense recording without a device.

    frames: (rgb (H, W, 3) uint8 in the colour camera, depth (h, w) metres in
    the depth camera; 0 = no data). T_color_depth: 4x4 pose of the depth
    camera in the colour camera's optical frame (p_color = R p_depth + t),
    identity by default. depth_scale: metres per z16 unit. The file is
    written next to ``path`` under a temporary name and renamed when
    complete. Returns the path. librealsense >= 2.58 writes ROS 2 ``.db3``.
    """
    rs = import_realsense()
    path = Path(path)
    if path.suffix != ".db3":
        raise ValueError(f"librealsense >= 2.58 records only .db3 files, got '{path.name}'")
    depth_intrinsics = depth_intrinsics or color_intrinsics
    T = np.eye(4) if T_color_depth is None else np.asarray(T_color_depth, dtype=np.float64)

    device = rs.software_device()
    depth_sensor, color_sensor = device.add_sensor("Depth"), device.add_sensor("Color")
    depth_sensor.add_read_only_option(rs.option.depth_units, float(depth_scale))

    def stream(kind, uid, intr, bpp, fmt):
        s = rs.video_stream()
        s.type, s.index, s.uid = kind, 0, uid
        s.width, s.height, s.fps, s.bpp, s.fmt = intr.width, intr.height, fps, bpp, fmt
        s.intrinsics = _rs_intrinsics(rs, intr)
        return s

    depth_profile = depth_sensor.add_video_stream(stream(rs.stream.depth, 0, depth_intrinsics, 2, rs.format.z16))
    color_profile = color_sensor.add_video_stream(stream(rs.stream.color, 1, color_intrinsics, 3, rs.format.rgb8))
    extr = rs.extrinsics()
    extr.rotation = T[:3, :3].T.ravel().tolist()  # column-major
    extr.translation = T[:3, 3].tolist()
    depth_profile.register_extrinsics_to(color_profile, extr)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".rsrec_", dir=path.parent))
    tmp = tmp_dir / path.name
    count = 0
    try:
        recorder = rs.recorder(str(tmp), device)
        sensors = recorder.query_sensors()
        for s in sensors:
            s.open(s.get_stream_profiles())
            s.start(lambda f: None)
        for i, (rgb, depth) in enumerate(frames):
            rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
            if rgb.shape != (color_intrinsics.height, color_intrinsics.width, 3):
                raise ValueError(f"frame {i}: rgb shape {rgb.shape} does not match the colour intrinsics")
            d = np.asarray(depth, dtype=np.float64)
            if d.shape != (depth_intrinsics.height, depth_intrinsics.width):
                raise ValueError(f"frame {i}: depth shape {d.shape} does not match the depth intrinsics")
            units = np.where(np.isfinite(d) & (d > 0), np.rint(d / depth_scale), 0)
            z16 = np.ascontiguousarray(np.clip(units, 0, 65535).astype(np.uint16))
            ts = i * 1000.0 / fps
            for sensor, profile, pixels, bpp in ((depth_sensor, depth_profile, z16, 2),
                                                 (color_sensor, color_profile, rgb, 3)):
                f = rs.software_video_frame()
                f.pixels, f.bpp, f.stride = pixels, bpp, bpp * pixels.shape[1]
                f.timestamp, f.frame_number = ts, i
                f.domain = rs.timestamp_domain.hardware_clock
                f.profile = profile.as_video_stream_profile()
                if sensor is depth_sensor:
                    f.depth_units = float(depth_scale)
                sensor.on_video_frame(f)
            count += 1
            time.sleep(0.03)  # let the recorder's writer thread keep up (it drops frames otherwise)
        for s in sensors:
            s.stop()
            s.close()
        del s, sensors, recorder  # flushes and closes the file
        if count == 0:
            raise ValueError("no frames to record")
        os.replace(tmp, path)
    finally:
        for leftover in tmp_dir.glob("*"):
            leftover.unlink()
        tmp_dir.rmdir()
    return path


def record_synthetic(path: str | os.PathLike, camera, num_frames: int = 5,
                     T_color_depth: np.ndarray | None = None,
                     depth_intrinsics: CameraIntrinsics | None = None) -> Path:
    """Record ``num_frames`` of a :class:`~graspnet_ros.cameras.synthetic.SyntheticCamera`.

    The colour image is rendered from the camera's pose; the depth image
    from a depth camera at ``T_color_depth`` (default: 15 mm along colour x,
    like a D435's left imager) with ``depth_intrinsics`` (default: the colour
    intrinsics with a 4 % shorter focal length and shifted centre), so that
    playback must really align depth to colour.
    """
    color_intr = camera.intrinsics
    if T_color_depth is None:
        T_color_depth = np.eye(4)
        T_color_depth[0, 3] = 0.015
    if depth_intrinsics is None:
        c = color_intr
        depth_intrinsics = CameraIntrinsics(c.width, c.height, c.fx * 0.96, c.fy * 0.96,
                                            c.cx - 3.0, c.cy + 2.0)
    rgb, _ = camera.render()
    _, depth = camera.scene.render(depth_intrinsics, camera.T_world_optical @ T_color_depth)
    return write_recording(path, ((rgb, depth) for _ in range(num_frames)), color_intr,
                           depth_intrinsics, T_color_depth)
