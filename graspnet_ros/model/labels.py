"""Training targets from GraspNet-1Billion labels (paper section 4.2; the
reference's ``process_grasp_labels`` + ``match_grasp_view_and_label``).

Inputs, per frame: the sampled cloud (camera frame, m), its segmentation
(0 = background, obj_id + 1), and for each labelled object its pose
T_cam<-obj and its grasp table: points (Np, 3) in the object frame and, per
point, template view V, angle bin A and depth bin D, the friction label mu
(<= 0 invalid), the width (m), the scene's collision flag and the GAF
tolerance (m).

Assignment:

* a seed is matched to the nearest ground-truth grasp point of any object
  when it lies within ``match_radius`` (5 mm);
* objectness target: 0 for background seeds, 1 for matched seeds whose point
  has at least one valid grasp, ignored (-1) for other seeds on objects;
* template view j of a seed is matched to the nearest label view of its
  object (label views rotated into the camera frame by the pose); the view
  counts only within ``view_match_deg`` (5 degrees);
* view target: the best grasp score over angles and depths of that view;
* stage 2 (operation/tolerance) targets come from the view that stage 1
  predicts best; the crop is centred on the matched ground-truth point and
  oriented by the label view's frame (as the reference trains).

Score labels: "linear" s = 1.1 - mu (this package) or "log" log(mu_max/mu)
(the reference); grasps that are invalid, collide or are wider than
``max_width`` get 0.

Point graspness (graspness seeding, :mod:`graspnet_ros.model.graspness`;
Wang et al., ICCV 2021): per ground-truth grasp point, the share of its
V x A x D grasps that are feasible (0 < mu <= ``graspness_friction`` = 0.6,
no collision, width <= ``max_width``); per scene point, that of the nearest
ground-truth point of its own object (0 on the background, or when the
nearest ground-truth point belongs to another object), then divided by the
frame's largest value (the paper's min-max normalisation over the scene
cloud; the background's 0 is the minimum).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.spatial import cKDTree

from ..grasp import rotation_from_approach
from ..views import fibonacci_views
from .config import GRASP_MAX_WIDTH, GRASPNESS_FRICTION, LabelConfig, ModelConfig


@dataclass
class ObjectGraspTable:
    """Pose-independent grasp labels of one object (cache them per scene and object)."""

    obj_id: int
    points: np.ndarray  # (Np, 3) object frame, m
    score: np.ndarray  # (Np, V, A, D) float32 score target, 0 = not graspable
    width: np.ndarray  # (Np, V, A, D) float32, m
    tolerance: np.ndarray  # (Np, V, A, D) float32, m
    view_best: np.ndarray  # (Np, V) float32 best score over angles and depths
    #: (Np,) float32 raw point graspness: share of the V x A x D grasps that are feasible
    #: (mu <= the friction threshold, collision-free); None = share of graspable entries (score > 0)
    graspness: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.graspness is None:
            self.graspness = (self.score > 0).reshape(len(self.score), -1).mean(axis=1).astype(np.float32)

    @property
    def nbytes(self) -> int:
        """Memory held by the table's arrays, bytes."""
        return sum(a.nbytes for a in (self.points, self.score, self.width, self.tolerance, self.view_best,
                                      self.graspness))

    @classmethod
    def from_arrays(cls, obj_id: int, points: np.ndarray, mu: np.ndarray, widths: np.ndarray,
                    collision: np.ndarray | None = None, tolerance: np.ndarray | None = None,
                    score_target: str = "linear", max_width: float = GRASP_MAX_WIDTH,
                    graspness_friction: float = GRASPNESS_FRICTION) -> "ObjectGraspTable":
        """Build from the reader's arrays: mu (Np, V, A, D) friction labels (<= 0
        invalid), widths (Np, V, A, D) m, collision (Np, V, A, D) bool.
        ``graspness_friction``: largest mu of a feasible grasp in the point graspness."""
        points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
        mu = np.asarray(mu, dtype=np.float32)
        widths = np.asarray(widths, dtype=np.float32)
        if mu.ndim != 4 or mu.shape[0] != len(points) or widths.shape != mu.shape:
            raise ValueError(f"object {obj_id}: labels must be (Np, V, A, D) for {len(points)} points; "
                             f"got scores {mu.shape}, widths {widths.shape}")
        valid = (mu > 0) & (widths <= max_width)
        if collision is not None:
            collision = np.asarray(collision, dtype=bool)
            if collision.shape != mu.shape:
                raise ValueError(f"object {obj_id}: collision labels {collision.shape} do not match "
                                 f"grasp labels {mu.shape}")
            valid &= ~collision
        if score_target == "linear":
            score = np.where(valid, 1.1 - mu, 0.0)
        elif score_target == "log":
            mu_max = float(mu[valid].max()) if valid.any() else 1.0
            score = np.where(valid, np.log(mu_max / np.where(valid, mu, 1.0)), 0.0)
        else:
            raise ValueError(f"score_target must be 'linear' or 'log', got {score_target!r}")
        score = score.astype(np.float32)
        if tolerance is None:
            tol = np.zeros_like(score)
        else:
            tol = np.asarray(tolerance, dtype=np.float32)
            if tol.shape != mu.shape:
                raise ValueError(f"object {obj_id}: tolerance labels {tol.shape} do not match {mu.shape}")
            tol = np.where(valid, tol, 0.0).astype(np.float32)
        view_best = score.reshape(*score.shape[:2], -1).max(axis=2)
        feasible = valid & (mu <= graspness_friction)
        graspness = feasible.reshape(len(points), -1).mean(axis=1).astype(np.float32)
        return cls(obj_id, points, score, np.where(valid, widths, 0.0).astype(np.float32), tol, view_best,
                   graspness)


@dataclass
class FrameLabels:
    """One training frame: sampled cloud, segmentation and placed grasp tables."""

    cloud: np.ndarray  # (N, 3) float32, camera frame, m
    seg: np.ndarray  # (N,) int, 0 = background, obj_id + 1
    objects: list[ObjectGraspTable]
    poses: np.ndarray  # (n_obj, 4, 4) T_cam<-obj (the rotation may be a reflection after flips)

    def __post_init__(self) -> None:
        self.cloud = np.asarray(self.cloud, dtype=np.float32)
        self.seg = np.asarray(self.seg).astype(np.int64)
        self.poses = np.asarray(self.poses, dtype=np.float64).reshape(-1, 4, 4)
        if self.cloud.ndim != 2 or self.cloud.shape[1] != 3 or len(self.seg) != len(self.cloud):
            raise ValueError(f"frame: cloud (N, 3) and seg (N,) expected, got {self.cloud.shape}, {self.seg.shape}")
        if len(self.poses) != len(self.objects):
            raise ValueError(f"frame: {len(self.objects)} objects but {len(self.poses)} poses")

    def transformed(self, matrix: np.ndarray) -> "FrameLabels":
        """Apply a 3x3 linear map M (rotation or reflection) to the camera frame:
        cloud -> M p, poses -> M T (augmentation)."""
        m = np.asarray(matrix, dtype=np.float64)
        T = np.eye(4)
        T[:3, :3] = m
        return replace(self, cloud=(self.cloud @ m.T).astype(np.float32), poses=T @ self.poses)


def point_graspness(frame: FrameLabels, inds: np.ndarray | None = None) -> np.ndarray:
    """Normalised point graspness (0..1) of the frame's cloud points (module
    docstring), at ``inds`` (M,) when given, else of all N points."""
    N = len(frame.cloud)
    raw = np.zeros(N, dtype=np.float32)
    on = np.flatnonzero(frame.seg > 0)
    if frame.objects and len(on):
        cam_pts = [t.points @ frame.poses[o, :3, :3].T + frame.poses[o, :3, 3] for o, t in enumerate(frame.objects)]
        seg_of = np.concatenate([np.full(len(p), t.obj_id + 1) for p, t in zip(cam_pts, frame.objects)])
        value = np.concatenate([t.graspness for t in frame.objects])
        merged = np.concatenate(cam_pts)
        if len(merged):
            _, nn = cKDTree(merged).query(frame.cloud[on], k=1)
            raw[on] = np.where(seg_of[nn] == frame.seg[on], value[nn], 0.0)
    top = float(raw.max())
    out = raw / top if top > 0 else raw
    return out if inds is None else out[np.asarray(inds)]


@dataclass
class SeedAssignment:
    """Label assignment of one frame's seeds (numpy)."""

    objectness: np.ndarray  # (Ns,) int64 in {-1 ignore, 0, 1}
    view_target: np.ndarray  # (Ns, V) float32
    view_mask: np.ndarray  # (Ns, V) bool: positive seed and template view matched
    obj: np.ndarray  # (Ns,) int64 object index in the frame, -1 unmatched
    point: np.ndarray  # (Ns,) int64 ground-truth point index in that object
    view_map: np.ndarray  # (n_obj, V) int64 label view of each template view
    view_ok: np.ndarray  # (n_obj, V) bool, within the view angle bound


def match_views(rotation: np.ndarray, views: np.ndarray, max_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """For each template view (V, 3) (camera frame) the nearest label view after
    rotating the label views by ``rotation`` (3x3); returns (V,) indices and
    (V,) bool 'within max_deg'."""
    rotated = views @ np.asarray(rotation, dtype=np.float64).T
    dots = views @ rotated.T  # (template, label)
    best = dots.argmax(axis=1)
    cos = dots[np.arange(len(views)), best]
    return best, cos >= np.cos(np.deg2rad(max_deg))


def assign_seeds(frame: FrameLabels, seed_xyz: np.ndarray, seed_inds: np.ndarray, views: np.ndarray,
                 cfg: LabelConfig = LabelConfig()) -> SeedAssignment:
    """Match seeds (Ns, 3) (camera frame; ``seed_inds`` index frame.cloud) to
    ground-truth points and template views (V, 3) to label views."""
    Ns, V = len(seed_xyz), len(views)
    n_obj = len(frame.objects)
    view_map = np.zeros((n_obj, V), dtype=np.int64)
    view_ok = np.zeros((n_obj, V), dtype=bool)
    for o in range(n_obj):
        view_map[o], view_ok[o] = match_views(frame.poses[o, :3, :3], views, cfg.view_match_deg)
    obj = np.full(Ns, -1, dtype=np.int64)
    point = np.zeros(Ns, dtype=np.int64)
    on_object = frame.seg[seed_inds] > 0
    if n_obj:
        cam_pts = [t.points @ frame.poses[o, :3, :3].T + frame.poses[o, :3, 3] for o, t in enumerate(frame.objects)]
        owner = np.concatenate([np.full(len(p), o) for o, p in enumerate(cam_pts)])
        local = np.concatenate([np.arange(len(p)) for p in cam_pts])
        merged = np.concatenate(cam_pts)
        if len(merged):
            dist, nn = cKDTree(merged).query(seed_xyz, k=1)
            hit = dist <= cfg.match_radius
            obj[hit], point[hit] = owner[nn[hit]], local[nn[hit]]
    view_target = np.zeros((Ns, V), dtype=np.float32)
    view_mask = np.zeros((Ns, V), dtype=bool)
    for o, table in enumerate(frame.objects):
        sel = np.flatnonzero(obj == o)
        if len(sel):
            view_target[sel] = table.view_best[point[sel]][:, view_map[o]] * view_ok[o]
            view_mask[sel] = view_ok[o]
    graspable = (obj >= 0) & (view_target.max(axis=1) > 0)
    objectness = np.where(on_object, -1, 0).astype(np.int64)
    objectness[graspable] = 1
    view_mask &= (objectness == 1)[:, None]
    return SeedAssignment(objectness, view_target, view_mask, obj, point, view_map, view_ok)


@dataclass
class GraspTargets:
    """Batched training targets (torch)."""

    objectness: torch.Tensor  # (B, Ns) int64, -1 ignore
    view_target: torch.Tensor  # (B, Ns, V)
    view_mask: torch.Tensor  # (B, Ns, V) bool
    crop_centers: torch.Tensor  # (B, Ns, 3) m
    crop_rot: torch.Tensor  # (B, Ns, 3, 3)
    seed_mask: torch.Tensor  # (B, Ns) bool: stage-2 targets exist
    score: torch.Tensor  # (B, Ns, A, D)
    width: torch.Tensor  # (B, Ns, A, D) m
    tolerance: torch.Tensor  # (B, Ns, A, D) m
    valid: torch.Tensor  # (B, Ns, A, D) bool: graspable ground truth
    graspness: torch.Tensor | None = None  # (B, M) normalised point graspness of the seed candidates


def stage2_targets(frame: FrameLabels, assign: SeedAssignment, seed_xyz: np.ndarray,
                   top_view_inds: np.ndarray, template_rot: np.ndarray, views: np.ndarray) -> dict:
    """Targets of the predicted top views (Ns,) of one frame (numpy dict)."""
    Ns = len(seed_xyz)
    shape = frame.objects[0].score.shape[2:] if frame.objects else (1, 1)
    out = {
        "centers": np.asarray(seed_xyz, dtype=np.float64).copy(),
        "rot": np.asarray(template_rot, dtype=np.float64).copy(),
        "mask": np.zeros(Ns, dtype=bool),
        "score": np.zeros((Ns, *shape), np.float32),
        "width": np.zeros((Ns, *shape), np.float32),
        "tolerance": np.zeros((Ns, *shape), np.float32),
    }
    for o, table in enumerate(frame.objects):
        sel = np.flatnonzero((assign.obj == o) & (assign.objectness == 1))
        if not len(sel):
            continue
        k = assign.view_map[o, top_view_inds[sel]]
        ok = assign.view_ok[o, top_view_inds[sel]]
        sel, k = sel[ok], k[ok]
        p = assign.point[sel]
        R = frame.poses[o, :3, :3]
        out["centers"][sel] = table.points[p] @ R.T + frame.poses[o, :3, 3]
        base = rotation_from_approach(-views[k], np.zeros(len(k)))
        out["rot"][sel] = R @ base
        out["mask"][sel] = True
        out["score"][sel] = table.score[p, k]
        out["width"][sel] = table.width[p, k]
        out["tolerance"][sel] = table.tolerance[p, k]
    return out


def build_targets(frames: list[FrameLabels], seed_xyz: torch.Tensor, seed_inds: torch.Tensor,
                  top_view_inds: torch.Tensor, template_rot: torch.Tensor, model_cfg: ModelConfig,
                  label_cfg: LabelConfig = LabelConfig(),
                  candidate_inds: torch.Tensor | None = None) -> GraspTargets:
    """Targets for a batch, given stage 1's seeds (B, Ns, 3), seed indices into
    each frame's cloud (B, Ns), best views (B, Ns) and their frames (B, Ns, 3, 3);
    with ``candidate_inds`` (B, M) (graspness seeding) also the candidates' point graspness."""
    views = fibonacci_views(model_cfg.num_view)
    xyz = seed_xyz.detach().cpu().numpy().astype(np.float64)
    inds = seed_inds.detach().cpu().numpy()
    top = top_view_inds.detach().cpu().numpy()
    trot = template_rot.detach().cpu().numpy().astype(np.float64)
    assigns, s2 = [], []
    for b, frame in enumerate(frames):
        for t in frame.objects:
            if t.score.shape[1:] != (model_cfg.num_view, model_cfg.num_angle, model_cfg.num_depth):
                raise ValueError(f"object {t.obj_id}: labels have (V, A, D) = {t.score.shape[1:]}, the model "
                                 f"expects {(model_cfg.num_view, model_cfg.num_angle, model_cfg.num_depth)}; "
                                 f"train with a matching config (graspnet-ros train --num-view {t.score.shape[1]})")
        a = assign_seeds(frame, xyz[b], inds[b], views, label_cfg)
        assigns.append(a)
        s2.append(stage2_targets(frame, a, xyz[b], top[b], trot[b], views))
    dev, dt = seed_xyz.device, seed_xyz.dtype

    def stack(values, dtype=dt):
        return torch.from_numpy(np.stack(values)).to(device=dev, dtype=dtype)

    A, D = model_cfg.num_angle, model_cfg.num_depth
    for d in s2:  # frames without objects
        for key in ("score", "width", "tolerance"):
            if d[key].shape[1:] != (A, D):
                d[key] = np.zeros((len(d[key]), A, D), np.float32)
    score = stack([d["score"] for d in s2])
    return GraspTargets(
        objectness=stack([a.objectness for a in assigns], torch.long),
        view_target=stack([a.view_target for a in assigns]),
        view_mask=stack([a.view_mask for a in assigns], torch.bool),
        crop_centers=stack([d["centers"] for d in s2]),
        crop_rot=stack([d["rot"] for d in s2]),
        seed_mask=stack([d["mask"] for d in s2], torch.bool),
        score=score,
        width=stack([d["width"] for d in s2]),
        tolerance=stack([d["tolerance"] for d in s2]),
        valid=score > 0,
        graspness=None if candidate_inds is None else stack(
            [point_graspness(f, i) for f, i in zip(frames, candidate_inds.detach().cpu().numpy())]),
    )
