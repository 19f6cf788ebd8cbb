"""Grasps drawn on a camera image (OpenCV, headless)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..cameras.base import CameraIntrinsics
from ..cameras.geometry import project_points
from ..grasp import GraspGroup
from .gripper_lines import gripper_polylines

__all__ = ["draw_grasps", "write_png"]


def draw_grasps(rgb: np.ndarray, grasps: GraspGroup, intrinsics: CameraIntrinsics,
                max_grasps: int = 20, caption: str = "") -> np.ndarray:
    """A copy of ``rgb`` (H, W, 3 uint8, RGB) with gripper outlines projected on it.

    grasps must be in the image's optical frame (metres). Colour = score from
    red (0) to green (1); the best grasp (first after sorting) is drawn
    thicker. ``caption`` is written in the top-left corner.
    """
    import cv2

    img = np.ascontiguousarray(rgb[..., ::-1]).copy()  # OpenCV draws in BGR
    shown = grasps.sort_by_score()[:max_grasps]
    if len(shown):
        uv = project_points(gripper_polylines(shown).reshape(-1, 3), intrinsics).reshape(len(shown), 6, 2)
        s = np.clip(shown.scores, 0.0, 1.0)
        for i in range(len(shown) - 1, -1, -1):  # best drawn last, on top
            if not np.isfinite(uv[i]).all():
                continue
            pts = np.round(uv[i]).astype(np.int32)
            color = (0, int(255 * min(1.0, 2 * s[i])), int(255 * min(1.0, 2 * (1 - s[i]))))  # BGR
            thick = 3 if i == 0 else 1
            cv2.polylines(img, [pts[:4]], False, color, thick, cv2.LINE_AA)
            cv2.line(img, tuple(pts[4]), tuple(pts[5]), color, thick, cv2.LINE_AA)
    if caption:
        for j, line in enumerate(caption.splitlines()):
            org = (8, 22 + 20 * j)
            cv2.putText(img, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(img, line, org, cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
    return img[..., ::-1].copy()


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image atomically (temporary file + rename)."""
    import cv2

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", prefix=f".{path.stem}_", dir=path.parent)
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, np.ascontiguousarray(rgb[..., ::-1])):
            raise ValueError(f"could not encode a PNG for {path}")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
