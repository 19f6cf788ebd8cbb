"""Picture of one dataset frame with its ground-truth grasps.

The RGB image gets the label mask as a translucent colour overlay (one
colour per object) and the best ground-truth grasps after pose NMS drawn as
gripper outlines (the U of the jaws and the approach tail, see
:func:`graspnet_ros.viz.gripper_lines.gripper_polylines`) projected with the
camera intrinsics, coloured from red (score 1.1 - fric_coef_thresh) to green
(score 1.0, mu = 0.1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..viz.gripper_lines import gripper_polylines
from .cloud import project_points
from .grasp_labels import DEFAULT_FRIC_COEF_THRESH
from .reader import GraspNetDataset

#: Gripper outline segments (indices into gripper_polylines' 6 points).
_SEGMENTS = ((0, 1), (1, 2), (2, 3), (4, 5))


def label_colours(n: int = 256) -> np.ndarray:
    """(n, 3) uint8 BGR colours, well spread in hue; entry 0 (background) is black."""
    import cv2

    hsv = np.zeros((n, 1, 3), dtype=np.uint8)
    hsv[:, 0, 0] = (np.arange(n) * 47) % 180
    hsv[:, 0, 1] = 200
    hsv[:, 0, 2] = 255
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[:, 0]
    out[0] = 0
    return out


def score_colours(scores: np.ndarray, low: float, high: float = 1.0) -> np.ndarray:
    """(N, 3) BGR colours from red (score <= low) to green (score >= high)."""
    t = np.clip((np.asarray(scores, float) - low) / max(high - low, 1e-9), 0.0, 1.0)
    return np.stack([np.zeros_like(t), 255 * t, 255 * (1 - t)], axis=1).astype(np.uint8)


def draw_frame(dataset: GraspNetDataset, scene_id: int, ann_id: int, out_png: str | Path,
               max_grasps: int = 50, fric_coef_thresh: float = DEFAULT_FRIC_COEF_THRESH,
               label_alpha: float = 0.35, max_per_object: int = 3000, seed: int = 0) -> Path:
    """Write a PNG of the frame with its best ground-truth grasps; returns its path.

    A root without grasp labels yet (frames generated, annotation pending) gets each
    object's model points at its annotated pose instead, a check of the poses.

    Grasps: the frame's ground truth at ``fric_coef_thresh`` (at most
    ``max_per_object`` per object, a seeded random subsample, so that real
    frames with millions of grasps stay quick), pose NMS, then the
    ``max_grasps`` best. The file is written atomically.
    """
    import cv2

    if max_grasps < 0:
        raise ValueError(f"max_grasps must be >= 0, got {max_grasps}")
    if not 0.0 <= label_alpha <= 1.0:
        raise ValueError(f"label_alpha must be in [0, 1], got {label_alpha}")
    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        raise ValueError(f"output must be a .png file, got {out_png}")
    frame = dataset.frame(scene_id, ann_id)
    image = np.ascontiguousarray(frame.rgb[:, :, ::-1])  # BGR for OpenCV
    label = frame.label
    if label.shape != image.shape[:2]:
        raise ValueError(f"label image {label.shape} and rgb image {image.shape[:2]} differ in size "
                         f"(scene {scene_id}, frame {ann_id})")
    fg = label > 0
    colours = label_colours(max(256, int(label.max()) + 1))
    blend = (1 - label_alpha) * image[fg] + label_alpha * colours[label[fg]].astype(np.float64)
    image[fg] = np.clip(blend, 0, 255).astype(np.uint8)

    h, w = image.shape[:2]
    thickness = max(1, round(min(h, w) / 360))
    try:
        grasps = dataset.ground_truth_grasps(frame, fric_coef_thresh, max_per_object=max_per_object, seed=seed)
    except FileNotFoundError:  # a root without labels yet: check its poses instead
        return _write(_draw_posed_models(dataset, frame, image, thickness), out_png,
                      f"scene {scene_id} {frame.camera} frame {ann_id}: no grasp labels; object model points "
                      "at their annotated poses (misaligned dots = pose error)")
    shown = grasps.nms()[:max_grasps]
    if len(shown):
        lines = gripper_polylines(shown)  # (N, 6, 3) camera frame
        uv = project_points(lines.reshape(-1, 3), frame.intrinsics).reshape(len(shown), 6, 2)
        visible = np.isfinite(uv).all(axis=(1, 2))
        colour = score_colours(shown.scores, 1.1 - fric_coef_thresh)
        fixed = np.round(np.nan_to_num(uv) * 16).astype(np.int64)  # 4 fractional bits
        fixed = np.clip(fixed, -(2**24), 2**24)
        for i in np.flatnonzero(visible)[::-1]:  # worst first, best drawn on top
            c = tuple(int(x) for x in colour[i])
            for a, b in _SEGMENTS:
                cv2.line(image, tuple(fixed[i, a].tolist()), tuple(fixed[i, b].tolist()), c,
                         thickness, cv2.LINE_AA, 4)
    return _write(image, out_png, f"scene {scene_id} {frame.camera} frame {ann_id}: {len(shown)} of "
                  f"{len(grasps)} grasps (mu <= {fric_coef_thresh:g}) after NMS")


def _draw_posed_models(dataset: GraspNetDataset, frame, image: np.ndarray, thickness: int) -> np.ndarray:
    """Each object's model points projected from its annotated pose (T_cam<-obj), one colour per object."""
    import cv2

    colours = label_colours(max(256, int(max(frame.object_ids, default=0)) + 2))
    for obj_id, pose in zip(frame.object_ids, frame.object_poses):
        pts = dataset.model_points(int(obj_id)) @ pose[:3, :3].T + pose[:3, 3]
        uv = project_points(pts, frame.intrinsics)
        uv = np.round(uv[np.isfinite(uv).all(axis=1)]).astype(np.int64)
        inside = (uv >= 0).all(axis=1) & (uv[:, 0] < image.shape[1]) & (uv[:, 1] < image.shape[0])
        c = tuple(int(x) for x in colours[int(obj_id) + 1])
        for u, v in uv[inside][:: max(1, inside.sum() // 1500)]:
            cv2.circle(image, (int(u), int(v)), thickness, c, -1)
    return image


def _write(image: np.ndarray, out_png: Path, text: str) -> Path:
    """Caption ``text`` at the top left, then write ``out_png`` atomically."""
    import cv2

    h, w = image.shape[:2]
    scale = min(h, w) / 900
    text_width = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
    scale *= min(1.0, (w - 10) / text_width)  # fit the width
    th = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][1]
    cv2.putText(image, text, (5, 5 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                cv2.LINE_AA)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_png.with_name(out_png.stem + ".tmp.png")
    if not cv2.imwrite(str(tmp), image):
        raise ValueError(f"could not write {out_png}")
    tmp.replace(out_png)
    return out_png
