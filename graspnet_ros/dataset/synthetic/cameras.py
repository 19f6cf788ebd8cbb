"""Camera models of the synthetic dataset: intrinsics, viewpoints, depth noise.

Frames: the table frame (origin at the table-top centre, z up, metres) and
REP-103 optical camera frames (z forward, x right, y down). Poses are 4x4
``T_table<-camera``. Pixel coordinates follow OpenCV: the centre of pixel
(u, v) projects from the ray ((u - cx) / fx, (v - cy) / fy, 1).

Two models like the paper's cameras, with their colour-stream intrinsics
at 1280x720 and distinct depth noise:

* ``realsense`` (Intel D435, active stereo): depth error grows with depth
  squared (a disparity error of ``disparity_sigma`` px, plus a smooth
  correlated part), stereo shadows beside foreground edges (background that
  the second imager cannot see), missing blobs where matching fails, flying
  and missing pixels along depth edges, nothing below ``min_depth``;
* ``kinect`` (Azure Kinect, time of flight): lower noise that grows slowly
  with depth and with a weak return (dark or grazing surfaces), invalid pixels
  where the return signal is too weak, mixed pixels along edges (mostly
  removed, as the camera's filter does) and a narrow shadow from the offset
  between its depth and colour cameras.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...cameras.base import CAMERA_MODELS as INTRINSICS
from ...views import look_at


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics (pixels) and depth-noise parameters of one camera."""

    name: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    kind: str  # "stereo" or "tof": which noise model applies
    min_depth: float  # m, nearer surfaces read 0 (invalid)
    max_depth: float  # m
    baseline: float  # m, stereo baseline (stereo) or depth-to-colour offset (tof), along +x

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def _model(name: str, kind: str, min_depth: float, max_depth: float, baseline: float) -> CameraModel:
    i = INTRINSICS[name]  # the one home of the two cameras' intrinsics
    return CameraModel(name, i.width, i.height, i.fx, i.fy, i.cx, i.cy, kind, min_depth, max_depth, baseline)


REALSENSE = _model("realsense", "stereo", 0.28, 3.0, 0.050)
KINECT = _model("kinect", "tof", 0.25, 3.86, 0.032)
CAMERA_MODELS = {c.name: c for c in (REALSENSE, KINECT)}


def camera_model(name: str) -> CameraModel:
    if name not in CAMERA_MODELS:
        raise ValueError(f"unknown camera '{name}'; use one of {sorted(CAMERA_MODELS)}")
    return CAMERA_MODELS[name]


# ---------------------------------------------------------------------------
# viewpoints


@dataclass(frozen=True)
class ViewSettings:
    """Viewpoints on a quarter sphere (half of the upper hemisphere) around the table centre."""

    distance: tuple[float, float] = (0.5, 0.8)  # m, from the highest to the lowest row
    elevation: tuple[float, float] = (np.deg2rad(75.0), np.deg2rad(30.0))  # rad above the table
    azimuth_span: float = np.pi  # rad swept by each row
    target_jitter: float = 0.02  # m, random shift of the look-at point in x and y


def viewpoints(num: int, rng: np.random.Generator, azimuth0: float = 0.0,
               centre: np.ndarray = np.zeros(2), settings: ViewSettings = ViewSettings()) -> np.ndarray:
    """``num`` camera poses T_table<-camera looking at ``centre`` (x, y on the
    table top, m; the clutter's centre), from a quarter sphere around it.

    Views form a grid of rows (elevations, high to low, distance growing from
    the first to the second value of ``settings.distance``) by columns
    (azimuths over ``azimuth_span`` starting at ``azimuth0``), visited row by
    row in a serpentine, so consecutive frames are neighbouring views as
    on the robot arm of the real dataset. 256 views make 8 rows x 32 columns.
    """
    if num < 1:
        raise ValueError(f"need at least one viewpoint, got {num}")
    rows = max(1, int(round(np.sqrt(num / 4.0))))
    cols = int(np.ceil(num / rows))
    r_idx, c_idx = np.divmod(np.arange(num), cols)
    c_idx = np.where(r_idx % 2 == 1, cols - 1 - c_idx, c_idx)
    frac_r = r_idx / max(rows - 1, 1)
    elev = settings.elevation[0] + frac_r * (settings.elevation[1] - settings.elevation[0])
    dist = settings.distance[0] + frac_r * (settings.distance[1] - settings.distance[0])
    azim = azimuth0 + (c_idx + 0.5) / cols * settings.azimuth_span
    centre3 = np.array([centre[0], centre[1], 0.0])
    eyes = centre3 + np.stack([dist * np.cos(elev) * np.cos(azim), dist * np.cos(elev) * np.sin(azim),
                               dist * np.sin(elev)], axis=1)
    targets = np.tile(centre3, (num, 1))
    targets[:, :2] += rng.uniform(-settings.target_jitter, settings.target_jitter, (num, 2))
    return np.stack([look_at(e, t) for e, t in zip(eyes, targets)])


def relative_poses(poses_table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(camera_poses, cam0_wrt_table) of the layout from T_table<-cam_i (n, 4, 4):
    camera_poses[i] = T_cam0<-cam_i (identity for frame 0), cam0_wrt_table = T_table<-cam0."""
    cam0 = poses_table[0].copy()
    rel = np.linalg.inv(cam0)[None] @ poses_table
    rel[0] = np.eye(4)
    return rel, cam0


# ---------------------------------------------------------------------------
# depth noise


def smooth_field(shape: tuple[int, int], scale_px: float, rng: np.random.Generator) -> np.ndarray:
    """float32 zero-mean, unit-variance random field with features about ``scale_px`` pixels wide."""
    h, w = shape
    small = rng.standard_normal((max(2, int(h / scale_px) + 2), max(2, int(w / scale_px) + 2)), dtype=np.float32)
    field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-9)


def shadow_mask(depth: np.ndarray, focal_times_baseline: float) -> np.ndarray:
    """Pixels of the reference view hidden from a second view ``baseline`` to the
    right (+x): a pixel at column x with disparity d is hidden when some pixel
    x' > x has d' - d >= x' - x. Computed with a running maximum per row.

    ``depth``: (H, W) metres, 0 = no surface (treated as infinitely far).
    """
    valid = depth > 0
    disparity = np.where(valid, np.float32(focal_times_baseline) / np.where(valid, depth, 1), 0).astype(np.float32)
    key = disparity - np.arange(depth.shape[1], dtype=np.float32)  # hidden if max_{x' > x} key[x'] >= key[x]
    run = np.maximum.accumulate(key[:, ::-1], axis=1)[:, ::-1]
    after = np.empty_like(run)
    after[:, :-1] = run[:, 1:]
    after[:, -1] = -np.inf
    return (after >= key + 0.5) & valid


def depth_edges(depth: np.ndarray, jump: float = 0.01, radius: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(edge mask, local min, local max) of a depth image: pixels whose
    (2 radius + 1)^2 neighbourhood spans more than ``jump`` metres."""
    d = depth.astype(np.float32)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    lo = cv2.erode(np.where(d > 0, d, np.float32(10.0)), kernel)
    hi = cv2.dilate(d, kernel)
    return (hi - lo > jump) & (d > 0), lo, hi


def realsense_noise(depth: np.ndarray, cos_incidence: np.ndarray, camera: CameraModel,
                    rng: np.random.Generator, disparity_sigma: float = 0.15,
                    correlated_sigma: float = 0.08) -> np.ndarray:
    """Stereo depth noise on a noiseless z-depth image (m, 0 = none); returns float32 metres, 0 = invalid."""
    depth = depth.astype(np.float32)
    fb = np.float32(camera.fx * camera.baseline)
    valid = depth > 0
    disparity = fb / np.where(valid, depth, 1)
    disparity += rng.standard_normal(depth.shape, dtype=np.float32) * np.float32(disparity_sigma)
    disparity += smooth_field(depth.shape, 24.0, rng) * np.float32(correlated_sigma)
    noisy = fb / np.maximum(disparity, 1e-3)
    edge, lo, hi = depth_edges(depth, 0.01, 2)
    u = rng.random(depth.shape, dtype=np.float32)
    flying = edge & (u >= 0.45)
    noisy = np.where(flying, lo + (u - 0.45) / 0.55 * (hi - lo), noisy)
    invalid = ~valid | (edge & (u < 0.45)) | shadow_mask(depth, fb)
    invalid |= smooth_field(depth.shape, 30.0, rng) > 2.6  # blobs where stereo matching fails
    invalid |= cos_incidence < 0.12
    invalid |= (noisy < camera.min_depth) | (noisy > camera.max_depth)
    return np.where(invalid, np.float32(0), noisy)


def kinect_noise(depth: np.ndarray, cos_incidence: np.ndarray, albedo: np.ndarray, camera: CameraModel,
                 rng: np.random.Generator, base_sigma: float = 0.0003, range_sigma: float = 0.0006,
                 min_signal: float = 0.045) -> np.ndarray:
    """Time-of-flight depth noise (m, 0 = none); returns float32 metres, 0 = invalid.

    The return signal is albedo x cos(incidence) / (depth / 0.7 m)^2; noise
    grows as 1/sqrt(signal) and pixels below ``min_signal`` are invalid.
    """
    depth = depth.astype(np.float32)
    valid = depth > 0
    rel = np.maximum(depth * np.float32(1 / 0.7), np.float32(1e-3))
    signal = albedo.astype(np.float32) * cos_incidence.astype(np.float32) / (rel * rel)
    strength = np.sqrt(np.maximum(signal, np.float32(min_signal)))
    sigma = np.float32(base_sigma) + np.float32(range_sigma) * depth / strength
    noisy = depth + sigma * rng.standard_normal(depth.shape, dtype=np.float32)
    edge, lo, hi = depth_edges(depth, 0.01, 1)
    u = rng.random(depth.shape, dtype=np.float32)
    mixed = edge & (u >= 0.8)
    w = (u - 0.8) / 0.2
    noisy = np.where(mixed, w * lo + (1 - w) * np.minimum(hi, lo + 0.5), noisy)
    weak = signal * np.exp(np.float32(0.25) * rng.standard_normal(depth.shape, dtype=np.float32)) < min_signal
    shadow = shadow_mask(depth[:, ::-1], camera.fx * camera.baseline)[:, ::-1]  # depth camera to the left
    invalid = ~valid | weak | (edge & (u < 0.8)) | shadow
    invalid |= (noisy < camera.min_depth) | (noisy > camera.max_depth)
    return np.where(invalid, np.float32(0), noisy)


def apply_depth_noise(camera: CameraModel, depth: np.ndarray, cos_incidence: np.ndarray,
                      albedo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The camera model's depth noise on a noiseless z-depth image (metres).

    ``cos_incidence``: |cos| of the angle between ray and surface normal;
    ``albedo``: grey-level surface albedo in [0, 1] (both (H, W)).
    """
    if camera.kind == "stereo":
        return realsense_noise(depth, cos_incidence, camera, rng)
    if camera.kind == "tof":
        return kinect_noise(depth, cos_incidence, albedo, camera, rng)
    raise ValueError(f"camera '{camera.name}': unknown noise kind '{camera.kind}'")


def depth_to_png(depth: np.ndarray, factor: float = 1000.0) -> np.ndarray:
    """Metres -> uint16 depth units (millimetres), 0 stays invalid."""
    return np.clip(np.round(depth * factor), 0, 65535).astype(np.uint16)
