"""Intel RealSense D4xx active stereo, simulated: infrared pair, dot projector, SGBM, aligned depth.

What the sensor does, step by step, and what this module does for each:

1. Two global-shutter infrared imagers, rectified, ``baseline`` (50 mm)
   apart along +x: the left imager is the depth origin (its optical frame:
   x right, y down, z forward, metres), the right one sits at (+b, 0, 0).
   Both images are ray-cast (Open3D, through
   :class:`~graspnet_ros.dataset.synthetic.render.SceneRaycaster`).
2. A laser projector between the imagers, at (``emitter_x``, 0, 0) in the
   left frame, throws a fixed pseudo-random dot pattern. A surface point is
   lit when the segment to the emitter is free (a shadow ray); its dot
   intensity is the pattern at the point's projector pixel times
   albedo x cos(incidence at the emitter) / distance^2. Glossy surfaces
   return less diffuse light and a view-dependent highlight instead. Ambient
   infrared adds albedo x ``ambient``; auto exposure (one gain for both
   imagers), shot and read noise, 8-bit output.
3. OpenCV ``StereoSGBM`` (3-way, block 5, left-right check, no speckle
   filter: the D4xx streams have none) matches the pair; pixels whose left
   block has too little texture are dropped, as the D4xx texture threshold
   does (dark parts, the projector's shadow).
4. Disparity is quantized to the D4xx's 1/32 px subpixel step (SGBM's own
   grid is 1/16 px, so in effect 1/16 px), turned into z = f b / d and
   rounded to the 1 mm depth unit.
5. The depth is registered to the colour camera (``colour_offset`` from the
   left imager along +x, 15 mm on a D435) with
   :func:`graspnet_ros.cameras.registration.register_depth`, as the aligned
   stream (``rs.align``) is.

What follows from this rather than being painted on: the invalid band left
of near objects (background the right imager cannot see, and inside it the
projector's shadow, ``f x_e (1/z_near - 1/z_far)`` px wide), edge fattening
and flying pixels from the block matcher, holes on dark, glossy and thin
parts, and a depth error that grows with z^2 (a roughly constant disparity
error sigma_d gives sigma_z = z^2 sigma_d / (f b)).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .cameras import CameraModel
from .render import RayHits, SceneRaycaster

__all__ = ["StereoSensor", "D435", "StereoFrame", "simulate_stereo", "stereo_depth"]


@dataclass(frozen=True)
class StereoSensor:
    """Geometry, optics and matcher settings of a D4xx active stereo camera.

    Intrinsics (pixels) are those of the rectified infrared pair; lengths in
    metres in the left imager's optical frame.
    """

    width: int = 1280
    height: int = 720
    fx: float = 645.0  # px; 87 x 58 degree infrared field of view at 1280x720
    fy: float = 645.0
    cx: float = 640.0
    cy: float = 360.0
    baseline: float = 0.050  # m, right imager at (+baseline, 0, 0)
    emitter_x: float = 0.025  # m, projector at (emitter_x, 0, 0): between the imagers
    colour_offset: float = 0.015  # m, colour camera at (colour_offset, 0, 0)
    num_disparities: int = 128  # px, multiple of 16 (minimum z = f b / num_disparities)
    block_size: int = 5  # px, SGBM block
    uniqueness: int = 10  # %, SGBM uniqueness ratio
    texture_threshold: float = 4.5  # grey levels: minimum std of the left block (noise alone is ~2.5)
    subpixel_steps: int = 32  # disparity quantum 1 / subpixel_steps px (D4xx: 5 bits)
    depth_unit: float = 0.001  # m
    min_depth: float = 0.0  # m, z below reads 0 (the matcher's range limits it anyway)
    max_depth: float = 6.0  # m
    dot_density: float = 0.12  # dots per projector pixel
    dot_sigma: float = 0.8  # px, dot radius (Gaussian sigma) in projector pixels
    dot_power: float = 200.0  # grey levels (before the exposure gain), albedo 1, normal incidence, 0.5 m
    ambient: float = 25.0  # grey levels of ambient infrared on albedo 1
    exposure_target: float = 60.0  # grey levels: auto exposure's mean over the surfaces
    exposure_range: tuple[float, float] = (0.25, 2.0)  # gain limits of the auto exposure
    read_noise: float = 1.5  # grey levels
    shot_gain: float = 0.3  # grey levels: shot-noise variance per grey level
    highlight_power: float = 600.0  # grey levels of the projector's specular highlight at 0.5 m
    highlight_exponent: float = 40.0
    pattern_seed: int = 4011  # the projector's fixed pattern

    def scaled(self, scale: float) -> "StereoSensor":
        """The same sensor at ``scale`` times the resolution (disparity range scaled along)."""
        return replace(self, width=int(round(self.width * scale)), height=int(round(self.height * scale)),
                       fx=self.fx * scale, fy=self.fy * scale, cx=self.cx * scale, cy=self.cy * scale,
                       num_disparities=max(16, 16 * int(np.ceil(self.num_disparities * scale / 16))))

    @property
    def camera(self) -> CameraModel:
        """The left (and right) imager as a :class:`CameraModel` for ray casting."""
        return CameraModel("d4xx_ir", self.width, self.height, self.fx, self.fy, self.cx, self.cy, "stereo",
                           self.min_depth, self.max_depth, self.baseline)

    @property
    def focal_baseline(self) -> float:
        """f b in px m: z = focal_baseline / disparity."""
        return self.fx * self.baseline


D435 = StereoSensor()


@dataclass
class StereoFrame:
    """One simulated exposure, in the left imager's pixel grid (H, W)."""

    left: np.ndarray  # uint8 infrared image of the left imager
    right: np.ndarray  # uint8 infrared image of the right imager
    disparity: np.ndarray  # float32 px, <= 0 = invalid
    depth: np.ndarray  # float32 z in the left imager frame, m, 0 = invalid
    lit: np.ndarray  # bool: left-image pixels the projector reaches (ground truth)
    hits: RayHits  # noiseless left render


def translation(x: float, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    """4x4 pose that shifts by (x, y, z) metres."""
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


@functools.cache
def dot_pattern(sensor: StereoSensor) -> np.ndarray:
    """float32 (H_p, W_p) projector image, 1 at a lone dot's centre (overlapping
    dots add, up to 1.5), with the left imager's focal length and a 15% margin
    on each side; cached, read-only."""
    rng = np.random.default_rng(sensor.pattern_seed)
    h, w = int(sensor.height * 1.3) + 8, int(sensor.width * 1.3) + 8
    img = np.zeros((h, w), np.float32)
    n = int(sensor.dot_density * h * w)
    img[rng.integers(0, h, n), rng.integers(0, w, n)] = 1.0
    img = cv2.GaussianBlur(img, (0, 0), sensor.dot_sigma)
    img /= np.float32(1.0 / (2 * np.pi * sensor.dot_sigma ** 2))  # one dot peaks at 1
    np.minimum(img, 1.5, out=img)
    img.flags.writeable = False
    return img


def infrared_image(hits: RayHits, T_table_cam: np.ndarray, T_table_left: np.ndarray, albedo: np.ndarray,
                   gloss: np.ndarray, lit: np.ndarray | None, sensor: StereoSensor,
                   rng: np.random.Generator, raycaster: SceneRaycaster | None = None,
                   nthreads: int = 0, gain: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """(uint8 (H, W) infrared image, bool (H, W) lit, exposure gain) of one
    imager from its noiseless render. ``gain`` None = auto exposure: the
    mean grey level of the surfaces is brought to ``exposure_target`` (the
    gain kept within ``exposure_range``); pass the left image's gain to the right.

    ``albedo``, ``gloss``: (H, W) in [0, 1] per pixel of this imager. ``lit``:
    (H, W) bool, the projector reaches the pixel's surface point; None =
    cast shadow rays to the emitter through ``raycaster``.
    """
    valid = hits.depth > 0
    emitter = (T_table_left @ np.array([sensor.emitter_x, 0.0, 0.0, 1.0]))[:3].astype(np.float32)
    R = np.asarray(T_table_cam[:3, :3], np.float32)
    normal_t = cv2.transform(hits.normal, R)  # table frame, faces the camera
    if lit is None:
        if raycaster is None:
            raise ValueError("need lit or a raycaster for the shadow rays")
        rays = np.empty(hits.depth.shape + (6,), np.float32)
        np.multiply(normal_t, np.float32(2e-4), out=rays[..., :3])  # off the surface, towards the viewer
        rays[..., :3] += hits.point
        np.subtract(emitter, rays[..., :3], out=rays[..., 3:])
        lit = valid & ~raycaster.occluded_rays(rays, nthreads)
    to_emitter = emitter - hits.point  # table frame
    dist2 = np.einsum("hwc,hwc->hw", to_emitter, to_emitter)
    np.maximum(dist2, np.float32(1e-6), out=dist2)
    inv_dist = np.sqrt(dist2)
    np.divide(np.float32(1.0), inv_dist, out=inv_dist)
    cos_e = np.einsum("hwc,hwc->hw", normal_t, to_emitter)
    cos_e *= inv_dist
    np.maximum(cos_e, np.float32(0.0), out=cos_e)
    # projector pixel of every hit: the emitter frame is the left frame shifted by emitter_x
    R_l, t_l = T_table_left[:3, :3], T_table_left[:3, 3]
    p_left = cv2.transform(hits.point, np.hstack([R_l.T, -(R_l.T @ t_l)[:, None]]).astype(np.float32))
    px, py, pz = cv2.split(p_left)
    inv_z = np.maximum(pz, np.float32(1e-3))
    np.divide(np.float32(1.0), inv_z, out=inv_z)
    px -= np.float32(sensor.emitter_x)
    px *= inv_z
    px *= np.float32(sensor.fx)
    px += np.float32(sensor.cx * 1.3 + 4)
    py *= inv_z
    py *= np.float32(sensor.fy)
    py += np.float32(sensor.cy * 1.3 + 4)
    dots = cv2.remap(dot_pattern(sensor), px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    falloff = np.float32(0.25) / dist2  # (0.5 m / distance)^2
    falloff[~lit] = 0.0
    signal = dots
    signal *= cos_e
    signal *= falloff
    signal *= albedo
    signal *= np.float32(sensor.dot_power)
    shiny = gloss > 0
    if np.any(shiny):
        # a projector highlight on glossy surfaces: mirror the emitter direction about the normal
        n, e = normal_t[shiny], to_emitter[shiny] * inv_dist[shiny][:, None]
        view = np.asarray(T_table_cam[:3, 3], np.float32) - hits.point[shiny]
        view /= np.maximum(np.linalg.norm(view, axis=-1), np.float32(1e-6))[:, None]
        mirror = (2.0 * cos_e[shiny])[:, None] * n - e
        spec = np.maximum((mirror * view).sum(-1), np.float32(0.0)) ** np.float32(sensor.highlight_exponent)
        g = gloss[shiny]
        signal[shiny] = signal[shiny] * (1.0 - g) + g * np.float32(sensor.highlight_power) * spec * falloff[shiny]
    ambient = hits.cos_incidence * np.float32(0.5 * sensor.ambient)
    ambient += np.float32(0.5 * sensor.ambient)
    ambient *= albedo
    signal += ambient
    signal[~valid] = 0.0
    if gain is None:
        mean = float(signal[valid].mean()) if valid.any() else 1.0
        gain = float(np.clip(sensor.exposure_target / max(mean, 1e-6), *sensor.exposure_range))
    signal *= np.float32(gain)
    sigma = signal * np.float32(sensor.shot_gain)
    sigma += np.float32(sensor.read_noise ** 2)
    np.sqrt(sigma, out=sigma)
    sigma *= rng.standard_normal(signal.shape, dtype=np.float32)
    signal += sigma
    signal += np.float32(0.5)
    return np.clip(signal, 0, 255).astype(np.uint8), lit, gain


def match(left: np.ndarray, right: np.ndarray, sensor: StereoSensor) -> np.ndarray:
    """float32 (H, W) left-image disparity in px (SGBM 3-way, left-right
    checked, texture-thresholded, quantized); <= 0 = invalid."""
    bs = sensor.block_size
    sgbm = cv2.StereoSGBM_create(minDisparity=0, numDisparities=sensor.num_disparities, blockSize=bs,
                                 P1=8 * bs * bs, P2=32 * bs * bs, disp12MaxDiff=1,
                                 uniquenessRatio=sensor.uniqueness, speckleWindowSize=0, speckleRange=0,
                                 preFilterCap=31, mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    disparity = sgbm.compute(left, right).astype(np.float32) * np.float32(1 / 16)
    l32 = left.astype(np.float32)
    mean = cv2.blur(l32, (bs, bs))
    var = cv2.blur(l32 * l32, (bs, bs)) - mean * mean
    flat = var < np.float32(sensor.texture_threshold ** 2)
    disparity[flat] = 0.0
    q = np.float32(sensor.subpixel_steps)
    return np.round(disparity * q) / q


def disparity_to_depth(disparity: np.ndarray, sensor: StereoSensor) -> np.ndarray:
    """float32 z (m) from disparity (px), rounded to the depth unit; 0 where invalid or out of range."""
    ok = disparity > 0
    z = np.float32(sensor.focal_baseline) / np.where(ok, disparity, np.float32(1.0))
    z = np.round(z / np.float32(sensor.depth_unit)) * np.float32(sensor.depth_unit)
    ok &= (z >= sensor.min_depth) & (z <= sensor.max_depth)
    return np.where(ok, z, np.float32(0.0)).astype(np.float32)


def _materials(hits: RayHits, albedo_of: np.ndarray, gloss_of: np.ndarray,
               background_albedo: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (albedo, gloss) from per-index tables (objects then table)."""
    slot = np.where(hits.index >= 0, hits.index, len(albedo_of))
    albedo = np.append(np.asarray(albedo_of, np.float32), np.float32(background_albedo))[slot]
    gloss = np.append(np.asarray(gloss_of, np.float32), np.float32(0.0))[slot]
    return albedo, gloss


def simulate_stereo(raycaster: SceneRaycaster, T_table_left: np.ndarray, albedo_of: np.ndarray,
                    gloss_of: np.ndarray | None = None, sensor: StereoSensor = D435,
                    rng: np.random.Generator | None = None, shadow: bool = True,
                    background_albedo: float = 0.0, nthreads: int = 0) -> StereoFrame:
    """Render, match and triangulate one D4xx frame in the left imager's grid.

    ``T_table_left``: 4x4 pose of the left imager's optical frame in the
    table frame (m). ``albedo_of`` / ``gloss_of``: (n + 1,) infrared albedo
    and glossiness in [0, 1] of the raycaster's objects 0..n-1 and the table
    (index n); ``background_albedo`` for rays that hit nothing (which then
    have no depth either). ``shadow=False`` lights every point (for tests
    that need the effect switched off). ``nthreads``: Open3D threads, 0 = all.
    """
    rng = np.random.default_rng() if rng is None else rng
    gloss_of = np.zeros(len(albedo_of)) if gloss_of is None else gloss_of
    T_left = np.asarray(T_table_left, np.float64)
    T_right = T_left @ translation(sensor.baseline)
    images, lit_left, hits_left, gain = [], None, None, None
    for T_cam in (T_left, T_right):
        hits = raycaster.cast(sensor.camera, T_cam, nthreads)
        albedo, gloss = _materials(hits, albedo_of, gloss_of, background_albedo)
        image, lit, gain = infrared_image(hits, T_cam, T_left, albedo, gloss, None if shadow else hits.depth > 0,
                                          sensor, rng, raycaster, nthreads, gain)
        images.append(image)
        if hits_left is None:
            hits_left, lit_left = hits, lit
    disparity = match(images[0], images[1], sensor)
    return StereoFrame(images[0], images[1], disparity, disparity_to_depth(disparity, sensor), lit_left, hits_left)


def stereo_depth(raycaster: SceneRaycaster, colour: CameraModel, T_table_colour: np.ndarray,
                 albedo_of: np.ndarray, gloss_of: np.ndarray | None = None, sensor: StereoSensor = D435,
                 rng: np.random.Generator | None = None, nthreads: int = 0) -> np.ndarray:
    """float32 (H, W) depth (m, 0 = invalid) of a D4xx registered to ``colour``'s
    pixel grid, as the aligned stream: the left imager sits at
    (-colour_offset, 0, 0) in the colour optical frame ``T_table_colour``."""
    from ...cameras.base import CameraIntrinsics
    from ...cameras.registration import register_depth

    T_colour_left = translation(-sensor.colour_offset)
    frame = simulate_stereo(raycaster, np.asarray(T_table_colour, np.float64) @ T_colour_left, albedo_of,
                            gloss_of, sensor, rng, nthreads=nthreads)
    ir = CameraIntrinsics(sensor.width, sensor.height, sensor.fx, sensor.fy, sensor.cx, sensor.cy)
    col = CameraIntrinsics(colour.width, colour.height, colour.fx, colour.fy, colour.cx, colour.cy)
    return register_depth(frame.depth, ir, col, T_colour_left)
