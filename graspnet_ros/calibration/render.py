"""Synthetic images of a calibration target seen through a pinhole camera.

For tests and the demo: the target's printable image is warped by the
homography that the pinhole model induces for the target plane
(``K [r1 r2 t]``), rendered ``supersample`` times larger and area-averaged
down, then blurred and given Gaussian noise. Pixel coordinates follow
OpenCV's convention (integer coordinates at pixel centres), so a perfect
detector recovers exactly the pose that was rendered.

Frames: ``T_cam_target`` maps target-frame points (see
:mod:`graspnet_ros.calibration.targets`) into the REP-103 optical frame of
the camera (z forward, x right, y down), metres.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ..dataset.synthetic.cameras import REALSENSE
from ..views import look_at
from .targets import CharucoTarget, MarkerTarget, Target, aruco_dictionary

__all__ = ["D435_K", "D435_SIZE", "target_image", "render_target", "look_at", "sample_view_poses"]

#: Colour intrinsics of the project's RealSense D435 at 1280x720 (pixels).
D435_K = REALSENSE.K
#: (width, height) of those images in pixels.
D435_SIZE = (1280, 720)


def _quiet_zone(target: Target) -> float:
    """White margin around the pattern, metres (one marker quarter, at least 5 mm)."""
    return max(0.005, 0.25 * target.marker_length)


@functools.lru_cache(maxsize=16)
def _target_image_cached(target: Target, ppm: float, margin: float) -> tuple[np.ndarray, np.ndarray]:
    w, h = target.size
    if isinstance(target, MarkerTarget):
        cells = aruco_dictionary(target.dictionary).markerSize + 2
        side = max(cells, int(round(w * ppm / cells)) * cells)  # whole pixels per bit cell
        pattern = cv2.aruco.generateImageMarker(aruco_dictionary(target.dictionary), int(target.marker_id),
                                                side, borderBits=1)
        ppm_x = ppm_y = side / w
    elif isinstance(target, CharucoTarget):
        sq = max(8, int(round(target.square_length * ppm)))  # whole pixels per square
        size = (sq * int(target.squares_x), sq * int(target.squares_y))
        pattern = target.board.generateImage(size, marginSize=0, borderBits=1)
        ppm_x = ppm_y = sq / target.square_length
    else:  # pragma: no cover - Target is a closed union
        raise TypeError(f"unknown target type {type(target).__name__}")
    m = int(round(margin * ppm_x))
    image = cv2.copyMakeBorder(pattern, m, m, m, m, cv2.BORDER_CONSTANT, value=255)
    # target (x, y, 1) in metres -> canonical pixel (u, v, 1), pixel centres at integers
    H = np.array([[ppm_x, 0.0, w / 2.0 * ppm_x + m - 0.5],
                  [0.0, -ppm_y, h / 2.0 * ppm_y + m - 0.5],
                  [0.0, 0.0, 1.0]])
    image.setflags(write=False)
    return image, H


def target_image(target: Target, pixels_per_metre: float, margin: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Printable grey image of the target and the homography from the target plane to it.

    pixels_per_metre: resolution (rounded so that marker cells / board squares
        are whole pixels; the returned homography has the exact value).
    margin: white quiet zone around the pattern in metres (default: a quarter
        of the marker length, at least 5 mm).
    Returns ``(image uint8 (rows, cols), H (3, 3))`` with
    ``H @ [x, y, 1]`` = homogeneous pixel of target-plane point (x, y) metres.
    """
    if not pixels_per_metre > 0:
        raise ValueError(f"pixels_per_metre must be positive, got {pixels_per_metre}")
    margin = _quiet_zone(target) if margin is None else float(margin)
    image, H = _target_image_cached(target, float(pixels_per_metre), margin)
    return image, H.copy()


def render_target(target: Target, T_cam_target: np.ndarray, K: np.ndarray = D435_K,
                  image_size: tuple[int, int] = D435_SIZE, *, noise_std: float = 2.0,
                  blur_sigma: float = 0.7, background: int = 120, black: int = 25, white: int = 230,
                  supersample: int = 3, rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """Render the target at pose ``T_cam_target`` (4x4, metres) as a BGR uint8 image.

    K: 3x3 intrinsics (pixels); image_size: (width, height) pixels.
    noise_std: Gaussian noise in grey levels; blur_sigma: Gaussian blur in
    pixels (0 = none); background/black/white: grey levels of the scene
    behind the target and of the printed black and white.
    Raises ValueError if part of the target is behind the camera.
    """
    T = np.asarray(T_cam_target, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError(f"T_cam_target must be 4x4, got {T.shape}")
    K = np.asarray(K, dtype=np.float64)
    w, h = target.size
    margin = _quiet_zone(target)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * (np.array([w, h]) / 2 + margin)
    z = (T[:3, :2] @ corners.T + T[:3, 3:4])[2]
    if (z <= 1e-3).any():
        raise ValueError("the target is (partly) behind the camera at this pose")
    ss = int(supersample)
    # canonical resolution: ~1.5 canonical pixels per supersampled camera pixel at the nearest corner
    ppm = 1.5 * ss * max(K[0, 0], K[1, 1]) / float(z.min())
    canon, H_img = target_image(target, ppm, margin)
    canon = (black + canon.astype(np.float32) * ((white - black) / 255.0))
    # camera pixel u -> supersampled pixel ss*u + (ss-1)/2 (pixel centres stay centres)
    S = np.array([[ss, 0.0, (ss - 1) / 2.0], [0.0, ss, (ss - 1) / 2.0], [0.0, 0.0, 1.0]])
    H_cam = S @ K @ np.column_stack([T[:3, 0], T[:3, 1], T[:3, 3]])
    H = H_cam @ np.linalg.inv(H_img)
    big = cv2.warpPerspective(canon, H, (image_size[0] * ss, image_size[1] * ss), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=float(background))
    img = cv2.resize(big, tuple(image_size), interpolation=cv2.INTER_AREA) if ss > 1 else big
    if blur_sigma > 0:
        img = cv2.GaussianBlur(img, (0, 0), float(blur_sigma))
    if noise_std > 0:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        img = img + gen.normal(0.0, float(noise_std), img.shape).astype(np.float32)
    gray = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def sample_view_poses(n: int, distance: tuple[float, float] = (0.35, 0.8), max_tilt_deg: float = 40.0,
                      max_roll_deg: float = 180.0, max_offset: float = 0.0,
                      rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """(n, 4, 4) random poses T_cam<-target of cameras looking at the target.

    Each camera sits at a random ``distance`` (metres) from the target origin,
    at most ``max_tilt_deg`` from the target's normal, rolled by up to
    ``max_roll_deg`` about its optical axis, aimed at a point up to
    ``max_offset`` metres from the target origin in the target plane.
    """
    if not 0.0 <= max_tilt_deg < 89.0:
        raise ValueError(f"max_tilt_deg must be in [0, 89), got {max_tilt_deg}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    out = np.empty((n, 4, 4))
    for i in range(n):
        d = gen.uniform(*distance)
        tilt = np.deg2rad(gen.uniform(0.0, max_tilt_deg))
        az = gen.uniform(0.0, 2 * np.pi)
        eye = d * np.array([np.sin(tilt) * np.cos(az), np.sin(tilt) * np.sin(az), np.cos(tilt)])
        aim = np.append(gen.uniform(-max_offset, max_offset, 2), 0.0)
        T_t_c = look_at(eye, aim, up=(0.0, -1.0, 0.0))  # never parallel: tilt < 90 deg
        roll = np.deg2rad(gen.uniform(-max_roll_deg, max_roll_deg))
        c, s = np.cos(roll), np.sin(roll)
        Rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        T_t_c[:3, :3] = T_t_c[:3, :3] @ Rz
        out[i] = np.linalg.inv(T_t_c)
    return out
