"""The camera protocol: what every source (synthetic, RealSense, Kinect, dataset) delivers.

A camera yields :class:`CameraFrame` objects: a colour image, a depth image
registered to it (same size, same optical frame: depth aligned to colour),
the pinhole intrinsics of that image, a capture stamp and the REP-103 optical
frame id (z forward, x right, y down). Units: metres and seconds.

Depth convention: float32 metres, 0.0 where the sensor has no measurement
(the GraspNet PNG convention; ROS ``32FC1`` images carry NaN there instead,
the conversions in :mod:`graspnet_ros.nodes.conversions` translate).

Errors: a camera that cannot be opened raises :class:`CameraError` (with what
to fix); a device that stops delivering raises :class:`DeviceLost` from
:meth:`Camera.read`, after which the caller may :meth:`Camera.close` and
:meth:`Camera.open` again. A finite source (playback, dataset) that has no
more frames raises :class:`EndOfStream`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["CameraIntrinsics", "CameraFrame", "Camera", "CameraError", "DeviceLost", "EndOfStream",
           "CAMERA_MODELS", "camera_model"]


class CameraError(RuntimeError):
    """A camera could not be opened or configured (message says how to fix it)."""


class DeviceLost(CameraError):
    """The device stopped delivering frames (unplugged, timeout); reopen to retry."""


class EndOfStream(CameraError):
    """A finite source (recording, dataset) has no more frames."""


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of an image (pixels), OpenCV convention.

    Pixel (u, v) = (fx * x / z + cx, fy * y / z + cy) for a point (x, y, z) in
    the optical frame, with the centre of the top-left pixel at (0, 0).
    ``distortion`` holds the plumb_bob coefficients (k1, k2, t1, t2, k3);
    every image this package produces is rectified (all zeros).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        vals = np.array([self.fx, self.fy, self.cx, self.cy], dtype=np.float64)
        if not np.isfinite(vals).all() or self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"focal lengths must be finite and positive, got fx={self.fx}, fy={self.fy}")
        object.__setattr__(self, "distortion", tuple(float(d) for d in self.distortion))

    @classmethod
    def from_matrix(cls, K: np.ndarray, width: int, height: int,
                    distortion: tuple[float, ...] | np.ndarray = (0.0,) * 5) -> "CameraIntrinsics":
        """From a 3x3 camera matrix K (pixels)."""
        K = np.asarray(K, dtype=np.float64)
        if K.shape != (3, 3):
            raise ValueError(f"camera matrix must be 3x3, got {K.shape}")
        return cls(int(width), int(height), float(K[0, 0]), float(K[1, 1]), float(K[0, 2]),
                   float(K[1, 2]), tuple(np.asarray(distortion, dtype=np.float64).ravel()))

    @property
    def K(self) -> np.ndarray:
        """3x3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, factor: float) -> "CameraIntrinsics":
        """Intrinsics of the image resized by ``factor`` (pixel-centre convention)."""
        if not factor > 0:
            raise ValueError(f"scale factor must be > 0, got {factor}")
        w, h = max(1, round(self.width * factor)), max(1, round(self.height * factor))
        sx, sy = w / self.width, h / self.height
        return replace(self, width=w, height=h, fx=self.fx * sx, fy=self.fy * sy,
                       cx=(self.cx + 0.5) * sx - 0.5, cy=(self.cy + 0.5) * sy - 0.5)


#: Colour-camera intrinsics of the two GraspNet-1Billion cameras at 1280x720 (RealSense D435
#: and Azure Kinect), pixels; the synthetic dataset's camera models
#: (graspnet_ros.dataset.synthetic.cameras) add their depth-noise parameters to these.
CAMERA_MODELS: dict[str, CameraIntrinsics] = {
    "realsense": CameraIntrinsics(1280, 720, 927.17, 927.37, 651.32, 349.62),
    "kinect": CameraIntrinsics(1280, 720, 631.55, 631.21, 638.43, 366.50),
}


def camera_model(name: str, scale: float = 1.0) -> CameraIntrinsics:
    """Intrinsics of a named camera model ('realsense' or 'kinect'), resized by ``scale``."""
    if name not in CAMERA_MODELS:
        raise ValueError(f"unknown camera model '{name}'; use one of {sorted(CAMERA_MODELS)}")
    base = CAMERA_MODELS[name]
    return base if scale == 1.0 else base.scaled(scale)


@dataclass
class CameraFrame:
    """One registered RGB-D capture.

    rgb: (H, W, 3) uint8, RGB order. depth: (H, W) float32 metres, 0 = no data,
    registered to ``rgb`` (same pixel grid, same optical frame).
    stamp: capture time, seconds (device clock mapped to wall time, or the
    recording's own time for playback). frame_id: REP-103 optical frame of
    both images. index: running frame number of the source.
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: CameraIntrinsics
    stamp: float
    frame_id: str = "camera_color_optical_frame"
    index: int = 0
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        rgb = np.asarray(self.rgb)
        depth = np.asarray(self.depth)
        h, w = self.intrinsics.height, self.intrinsics.width
        if rgb.shape != (h, w, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be ({h}, {w}, 3) uint8 to match the intrinsics, "
                             f"got {rgb.shape} {rgb.dtype}")
        if depth.shape != (h, w):
            raise ValueError(f"depth must be ({h}, {w}) registered to rgb, got {depth.shape}")
        depth = depth.astype(np.float32, copy=False)
        if not np.isfinite(depth).all():
            depth = np.where(np.isfinite(depth), depth, 0.0).astype(np.float32)
        self.rgb, self.depth = rgb, depth


@runtime_checkable
class Camera(Protocol):
    """A source of :class:`CameraFrame` objects.

    ``open()`` acquires the device or file (raises :class:`CameraError`);
    ``read(timeout)`` blocks up to ``timeout`` seconds for the next frame
    (raises :class:`DeviceLost` or :class:`EndOfStream`); ``close()`` is
    idempotent. ``intrinsics`` is valid after ``open()``.
    """

    name: str
    frame_id: str

    def open(self) -> None: ...

    def read(self, timeout: float = 1.0) -> CameraFrame: ...

    def close(self) -> None: ...

    @property
    def intrinsics(self) -> CameraIntrinsics: ...
