"""Depth-to-colour registration in numpy (what ``rs.align`` / libk4a's transformation do).

Used where the vendor library cannot register depth here (libk4a's
``depth_image_to_color_camera`` needs an OpenGL context, unavailable on a
headless machine). Each valid depth pixel is back-projected with the depth
camera's intrinsics (and distortion, undone with OpenCV), moved into the
colour camera with T_color<-depth, projected with the colour camera's
rectified pinhole intrinsics and splatted over the colour pixels its
footprint covers; where several land on one pixel the nearest wins
(z-buffer). Units: metres.
"""

from __future__ import annotations

import numpy as np

from .base import CameraIntrinsics

__all__ = ["register_depth"]


def _depth_rays(intr: CameraIntrinsics, distortion: np.ndarray | None) -> np.ndarray:
    """(H, W, 2) normalised image coordinates (x/z, y/z) of every depth pixel centre."""
    u, v = np.meshgrid(np.arange(intr.width, dtype=np.float64), np.arange(intr.height, dtype=np.float64))
    if distortion is None or not np.any(distortion):
        return np.stack([(u - intr.cx) / intr.fx, (v - intr.cy) / intr.fy], axis=-1)
    import cv2

    pix = np.stack([u, v], axis=-1).reshape(-1, 1, 2)
    out = cv2.undistortPoints(pix, intr.K, np.asarray(distortion, np.float64))
    return out.reshape(intr.height, intr.width, 2)


def register_depth(depth: np.ndarray, depth_intrinsics: CameraIntrinsics, color_intrinsics: CameraIntrinsics,
                   T_color_depth: np.ndarray, depth_distortion: np.ndarray | None = None) -> np.ndarray:
    """Depth (m, 0 = none) of the depth camera re-rendered in the colour camera's pixel grid.

    depth: (h, w) z-depth in metres of the depth camera. color_intrinsics:
    rectified pinhole model of the colour image. T_color_depth: 4x4 pose of
    the depth camera in the colour optical frame. depth_distortion: OpenCV
    coefficients (k1, k2, p1, p2[, k3[, k4, k5, k6]]) of the depth camera,
    None = none. Returns (H, W) float32 z-depth in the colour camera.
    """
    d = np.asarray(depth, dtype=np.float64)
    if d.shape != (depth_intrinsics.height, depth_intrinsics.width):
        raise ValueError(f"depth is {d.shape[::-1]} (w, h), intrinsics say "
                         f"{depth_intrinsics.width}x{depth_intrinsics.height}")
    T = np.asarray(T_color_depth, dtype=np.float64)
    if T.shape != (4, 4):
        raise ValueError("T_color_depth must be 4x4")
    valid = np.isfinite(d) & (d > 0)
    rays = _depth_rays(depth_intrinsics, depth_distortion)[valid]
    z = d[valid]
    # R p + t written out per component: a (N, 3) @ (3, 3) product goes to a
    # multi-threaded BLAS that costs 10x more than this on a busy machine
    x, y = rays[:, 0] * z, rays[:, 1] * z
    pts = np.empty((len(z), 3))
    for i in range(3):
        pts[:, i] = T[i, 0] * x + T[i, 1] * y + T[i, 2] * z + T[i, 3]
    ci = color_intrinsics
    H, W = ci.height, ci.width
    out = np.full(H * W, np.inf)
    front = pts[:, 2] > 1e-6
    pts = pts[front]
    u = ci.fx * pts[:, 0] / pts[:, 2] + ci.cx
    v = ci.fy * pts[:, 1] / pts[:, 2] + ci.cy
    # footprint of one depth pixel in colour pixels (>= 1), splatted as a block
    size = int(np.ceil(max(ci.fx / depth_intrinsics.fx, ci.fy / depth_intrinsics.fy) - 1e-9))
    offsets = np.arange(size) - (size - 1) / 2.0
    zc = np.ascontiguousarray(pts[:, 2])
    cols = [np.rint(u + du).astype(np.int64) for du in offsets]  # rounded once per offset, not per pair
    rows = [np.rint(v + dv).astype(np.int64) for dv in offsets]
    for vv in rows:
        v_in = (vv >= 0) & (vv < H)
        start = vv * W
        for uu in cols:
            inside = v_in & (uu >= 0) & (uu < W)
            if inside.all():
                np.minimum.at(out, start + uu, zc)
            else:
                np.minimum.at(out, (start + uu)[inside], zc[inside])
    out[~np.isfinite(out)] = 0.0
    return out.reshape(H, W).astype(np.float32)
