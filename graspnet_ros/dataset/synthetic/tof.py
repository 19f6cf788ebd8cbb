"""Azure Kinect time of flight (NFOV unbinned), simulated, registered to the colour camera.

The depth camera (640x576, 75 x 65 degrees through a wide-angle lens with
the recording's distortion, its optical frame: x right, y down, z forward,
metres) measures the range along each pixel's ray from
the phase of its own modulated illumination (co-located with the sensor, so
no projector shadow). Per pixel, from a ray-cast render
(:class:`~graspnet_ros.dataset.synthetic.render.SceneRaycaster`):

* field of view: only the hexagon the NFOV illuminator covers is valid
  (fitted to the real recording's raw depth, ``../shared/data/kinect``);
* mixed pixels: a pixel whose footprint straddles a depth edge mixes two
  returns; the sensor drops them (a few survive, at an intermediate depth);
* multipath: in concave corners light also arrives after a second bounce,
  which lengthens the measured range; the bias grows with how much nearby
  surface faces the point (planes and convex edges get none);
* signal = albedo x cos(incidence) / range^2: below ``min_signal`` the
  pixel is invalid (dark or grazing surfaces, far ones);
* noise: Gaussian along the ray, sigma = ``noise_at_1m`` x range /
  sqrt(albedo x cos), so it grows with distance, plus the "wiggling" error
  of time-of-flight cameras (a smooth periodic function of range, from the
  modulation not being a pure sine); 1 mm output unit.

The depth image is then registered to the colour camera with
:func:`graspnet_ros.cameras.registration.register_depth`, using the
recording's depth-to-colour extrinsics (32 mm along -x, tilted about 5
degrees), as libk4a's ``depth_image_to_color_camera`` does.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .cameras import CameraModel
from .render import RayHits, SceneRaycaster

__all__ = ["ToFSensor", "AZURE_KINECT_NFOV", "ToFFrame", "nfov_mask", "simulate_tof", "tof_depth"]


def _recording_extrinsics() -> np.ndarray:
    """T_colour<-depth of the real recording's calibration, rounded (rotation of -4.94 deg about x)."""
    a = np.deg2rad(-4.94)
    T = np.eye(4)
    T[1:3, 1:3] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    T[:3, 3] = (-0.0321, -0.0022, 0.0039)
    return T


@dataclass(frozen=True)
class ToFSensor:
    """An Azure Kinect depth camera in NFOV unbinned mode (pixels, metres)."""

    width: int = 640
    height: int = 576
    fx: float = 504.6  # px, the recording's calibration
    fy: float = 504.7
    cx: float = 332.8
    cy: float = 348.8
    #: OpenCV rational model (k1, k2, p1, p2, k3, k4, k5, k6) of the recording: a wide-angle lens
    distortion: tuple[float, ...] = (0.548, -0.0210, 0.0000206, -0.0000721, -0.00265, 0.890, 0.0861, -0.0139)
    hexagon_centre: tuple[float, float] = (325.0, 288.0)  # px, where the illuminated hexagon is centred
    hexagon_half_top: float = 173.0  # px, half-width of its top and bottom edges
    hexagon_slope: float = 0.5625  # px of half-width gained per row towards the middle
    min_depth: float = 0.25  # m
    max_depth: float = 3.86  # m
    edge_jump: float = 0.025  # m: a 3x3 neighbourhood spanning more than this (+ 2% of range) is mixed
    mixed_keep: float = 0.05  # share of mixed pixels that survive the sensor's filter, at a blended depth
    multipath_gain: float = 1.0  # bias per metre of mean height of the facing surroundings
    multipath_max: float = 0.015  # m, largest multipath bias
    multipath_radii: tuple[float, ...] = (4.0, 10.0, 20.0)  # px, neighbours looked at
    multipath_reach: float = 0.03  # m, how far a second bounce still counts
    min_signal: float = 0.03  # albedo x cos / (range / 1 m)^2 below this is dropped
    signal_spread: float = 0.35  # log-normal spread of the signal threshold per pixel
    noise_at_1m: float = 0.0008  # m, range noise at 1 m for albedo x cos = 1
    wiggle_amplitude: float = 0.0015  # m, systematic range error from the non-sinusoidal modulation
    wiggle_period: float = 0.35  # m of range
    depth_unit: float = 0.001  # m
    T_colour_depth: np.ndarray = field(default_factory=_recording_extrinsics, compare=False, hash=False)

    def scaled(self, scale: float) -> "ToFSensor":
        """The same sensor at ``scale`` times the resolution."""
        s = scale
        return replace(self, width=int(round(self.width * s)), height=int(round(self.height * s)), fx=self.fx * s,
                       fy=self.fy * s, cx=self.cx * s, cy=self.cy * s,
                       hexagon_centre=(self.hexagon_centre[0] * s, self.hexagon_centre[1] * s),
                       hexagon_half_top=self.hexagon_half_top * s,
                       multipath_radii=tuple(max(1.0, r * s) for r in self.multipath_radii))

    @property
    def intrinsics(self):
        """:class:`~graspnet_ros.cameras.base.CameraIntrinsics` of the depth camera (pinhole part)."""
        from ...cameras.base import CameraIntrinsics

        return CameraIntrinsics(self.width, self.height, self.fx, self.fy, self.cx, self.cy)

    @property
    def camera(self) -> CameraModel:
        return CameraModel("k4a_nfov", self.width, self.height, self.fx, self.fy, self.cx, self.cy, "tof",
                           self.min_depth, self.max_depth, 0.0)


AZURE_KINECT_NFOV = ToFSensor()


@dataclass
class ToFFrame:
    """One simulated frame in the depth camera's pixel grid (H, W)."""

    depth: np.ndarray  # float32 z, m, 0 = invalid
    fov: np.ndarray  # bool: inside the illuminated hexagon
    mixed: np.ndarray  # bool: footprint straddles a depth edge
    multipath: np.ndarray  # float32 m, range bias added
    weak: np.ndarray  # bool: signal below the threshold
    hits: RayHits  # noiseless render


@functools.cache
def depth_rays(sensor: ToFSensor) -> np.ndarray:
    """(H, W, 3) float32 camera-frame directions (z = 1) through the depth
    camera's pixel centres, with its lens distortion undone; read-only."""
    u, v = np.meshgrid(np.arange(sensor.width, dtype=np.float64), np.arange(sensor.height, dtype=np.float64))
    pix = np.stack([u, v], axis=-1).reshape(-1, 1, 2)
    xy = cv2.undistortPoints(pix, sensor.intrinsics.K, np.asarray(sensor.distortion, np.float64))
    rays = np.concatenate([xy.reshape(sensor.height, sensor.width, 2),
                           np.ones((sensor.height, sensor.width, 1))], axis=-1).astype(np.float32)
    rays.flags.writeable = False
    return rays


@functools.cache
def nfov_mask(sensor: ToFSensor) -> np.ndarray:
    """bool (H, W): the NFOV hexagon (flat top and bottom, pointed left and right); read-only."""
    v, u = np.mgrid[0:sensor.height, 0:sensor.width].astype(np.float32)
    cu, cv = sensor.hexagon_centre
    dv = np.abs(v - cv)
    half = sensor.hexagon_half_top + sensor.hexagon_slope * (sensor.height / 2.0 - np.minimum(dv, sensor.height / 2))
    mask = np.abs(u - cu) <= half
    mask.flags.writeable = False
    return mask


def mixed_pixels(range_m: np.ndarray, valid: np.ndarray, jump: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mixed, near, far): pixels whose 3x3 neighbourhood spans more than
    ``jump`` + 2% of the range (m), no-hit neighbours counting as far; near /
    far are the neighbourhood's extreme ranges."""
    far_value = np.float32(20.0)
    r = np.where(valid, range_m, far_value).astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    near, far = cv2.erode(r, kernel), cv2.dilate(r, kernel)
    mixed = (far - near > np.float32(jump) + np.float32(0.02) * near) & valid
    return mixed, near, far


def multipath_bias(points: np.ndarray, normals: np.ndarray, valid: np.ndarray, sensor: ToFSensor) -> np.ndarray:
    """float32 (H, W) range bias (m, >= 0) from second bounces in concave corners.

    ``points``, ``normals``: (H, W, 3) surface points and unit normals (facing
    the camera) in the depth camera frame. For each pixel, its neighbours at
    ``multipath_radii`` px in 8 directions that lie in front of its tangent
    plane (height h = n . (q - p) > 0, i.e. surfaces that face it, as in a
    corner) count with weight exp(-|q - p|^2 / (2 s^2)), s =
    ``multipath_reach``: distant surfaces send back little light. The bias is
    ``multipath_gain`` x the weighted mean height, clipped at
    ``multipath_max``; planes and convex edges get none.
    """
    h, w = valid.shape
    acc = np.zeros((h, w), np.float32)
    wsum = np.zeros((h, w), np.float32)
    inv_2s2 = np.float32(-0.5 / sensor.multipath_reach ** 2)
    for radius in sensor.multipath_radii:
        for angle in np.arange(8) * (np.pi / 4):
            dy, dx = int(round(radius * np.sin(angle))), int(round(radius * np.cos(angle)))
            ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
            xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
            p, q = points[ys, xs], points[yd, xd]
            d = q - p
            height = np.einsum("hwc,hwc->hw", normals[ys, xs], d)
            weight = np.exp(np.einsum("hwc,hwc->hw", d, d) * inv_2s2) * valid[yd, xd]
            acc[ys, xs] += weight * np.maximum(height, np.float32(0.0))
            wsum[ys, xs] += weight
    concavity = acc / np.maximum(wsum, np.float32(1e-6))
    bias = np.clip(np.float32(sensor.multipath_gain) * concavity, 0.0, sensor.multipath_max)
    return np.where(valid, bias, np.float32(0.0)).astype(np.float32)


def simulate_tof(raycaster: SceneRaycaster, T_table_depth: np.ndarray, albedo_of: np.ndarray,
                 sensor: ToFSensor = AZURE_KINECT_NFOV, rng: np.random.Generator | None = None,
                 mixed_invalid: bool = True, nthreads: int = 0) -> ToFFrame:
    """One Kinect depth frame in the depth camera's grid.

    ``T_table_depth``: 4x4 pose of the depth camera's optical frame in the
    table frame (m). ``albedo_of``: (n + 1,) near-infrared albedo in [0, 1]
    of the raycaster's objects 0..n-1 and the table (index n).
    ``mixed_invalid=False`` keeps mixed pixels (at a blended depth), for
    tests that need the effect switched off.
    """
    rng = np.random.default_rng() if rng is None else rng
    camera = sensor.camera
    rays = depth_rays(sensor)
    hits = raycaster.cast(camera, np.asarray(T_table_depth, np.float64), nthreads, rays=rays)
    valid = hits.depth > 0
    ray_len = np.linalg.norm(rays, axis=-1)  # range / z
    range_m = hits.depth * ray_len
    slot = np.where(hits.index >= 0, hits.index, len(albedo_of))
    albedo = np.append(np.asarray(albedo_of, np.float32), np.float32(0.0))[slot]
    signal = albedo * hits.cos_incidence / np.maximum(range_m * range_m, np.float32(1e-6))
    weak = signal * np.exp(np.float32(sensor.signal_spread) * rng.standard_normal(signal.shape, np.float32)) \
        < np.float32(sensor.min_signal)
    mixed, near, far = mixed_pixels(range_m, valid, sensor.edge_jump)
    points = rays * hits.depth[..., None]
    bias = multipath_bias(points, hits.normal, valid & ~mixed, sensor)
    sigma = np.float32(sensor.noise_at_1m) * range_m / np.sqrt(np.maximum(albedo * hits.cos_incidence, 1e-3))
    wiggle = np.float32(sensor.wiggle_amplitude) * np.sin(np.float32(2 * np.pi / sensor.wiggle_period) * range_m)
    measured = range_m + bias + wiggle + sigma * rng.standard_normal(signal.shape, np.float32)
    # a mixed pixel's phase blends its two returns; the few that pass the filter read in between
    u = rng.random(signal.shape, dtype=np.float32)  # which mixed pixels pass the filter
    w = rng.random(signal.shape, dtype=np.float32)  # their share of the far return
    blend = np.where(far < 19.0, near + w * (far - near), near)
    measured = np.where(mixed, blend, measured)
    z = np.round(measured / ray_len / np.float32(sensor.depth_unit)) * np.float32(sensor.depth_unit)
    fov = nfov_mask(sensor)
    ok = valid & fov & ~weak & (z >= sensor.min_depth) & (z <= sensor.max_depth)
    if mixed_invalid:
        ok &= ~mixed | (u < np.float32(sensor.mixed_keep))
    depth = np.where(ok, z, np.float32(0.0)).astype(np.float32)
    return ToFFrame(depth, fov, mixed, bias, weak & valid, hits)


def tof_depth(raycaster: SceneRaycaster, colour: CameraModel, T_table_colour: np.ndarray, albedo_of: np.ndarray,
              sensor: ToFSensor = AZURE_KINECT_NFOV, rng: np.random.Generator | None = None,
              nthreads: int = 0) -> np.ndarray:
    """float32 (H, W) Kinect depth (m, 0 = invalid) registered to ``colour``'s
    pixel grid; ``sensor.T_colour_depth`` is the depth camera's pose in the
    colour optical frame, whose pose in the table frame is ``T_table_colour``."""
    from ...cameras.base import CameraIntrinsics
    from ...cameras.registration import register_depth

    T_colour_depth = np.asarray(sensor.T_colour_depth, np.float64)
    frame = simulate_tof(raycaster, np.asarray(T_table_colour, np.float64) @ T_colour_depth, albedo_of, sensor,
                         rng, nthreads=nthreads)
    ci = CameraIntrinsics(colour.width, colour.height, colour.fx, colour.fy, colour.cx, colour.cy)
    return register_depth(frame.depth, sensor.intrinsics, ci, T_colour_depth, np.asarray(sensor.distortion))
