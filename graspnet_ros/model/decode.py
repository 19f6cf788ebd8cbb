"""Network outputs -> GraspGroups in the camera frame.

Per seed (the grasp point t = seed xyz) and depth bin: pick the in-plane
angle (by class logit, or by best score among confident angles, see
ModelConfig.angle_select), read that angle's score, width and tolerance;
pick the depth bin with the best score; keep seeds whose objectness says
graspable. Approach = -(best template view); rotation = core
``rotation_from_approach(approach, angle)``; width = clip(scale * width,
0, 0.1) m. Scores are reported as s = 1.1 - mu whatever the score head's
target ("log" heads are converted with mu = exp(-s)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..grasp import DEFAULT_HEIGHT, GraspGroup, rotation_from_approach
from .config import GRASP_MAX_WIDTH, ModelConfig
from .graspnet import GraspNetOutput


@dataclass
class DecodedGrasps:
    """One frame's grasps (one per graspable seed) and their side information."""

    grasps: GraspGroup  # camera frame
    tolerance: np.ndarray  # (N,) predicted GAF tolerance, m
    seed_index: np.ndarray  # (N,) seed of each grasp


def select_angles(score: torch.Tensor, angle_cls: torch.Tensor, mode: str) -> torch.Tensor:
    """(B, Ns, D) angle bin per seed and depth from (B, A, Ns, D) predictions."""
    by_cls = angle_cls.argmax(dim=1)
    if mode == "cls":
        return by_cls
    confident = torch.sigmoid(angle_cls) >= 0.5
    masked = torch.where(confident, score, torch.full_like(score, -torch.inf))
    by_score = masked.argmax(dim=1)
    return torch.where(confident.any(dim=1), by_score, by_cls)


def to_linear_score(score: torch.Tensor, target: str) -> torch.Tensor:
    """Scores in 1.1 - mu units from the head's target convention."""
    return score if target == "linear" else 1.1 - torch.exp(-score)


@torch.no_grad()
def decode(out: GraspNetOutput, cfg: ModelConfig, objectness_threshold: float = 0.5) -> list[DecodedGrasps]:
    """One :class:`DecodedGrasps` per batch element."""
    s1, s2 = out.stage1, out.stage2
    angle_bin = select_angles(s2.score, s2.angle_cls, cfg.angle_select)  # (B, Ns, D)
    idx = angle_bin.unsqueeze(1)

    def at_angle(t: torch.Tensor) -> torch.Tensor:
        return torch.gather(t, 1, idx).squeeze(1)  # (B, Ns, D)

    score = at_angle(s2.score)
    width = at_angle(s2.width)
    tol = at_angle(s2.tolerance)
    depth_bin = score.argmax(dim=2, keepdim=True)  # (B, Ns, 1)
    score = torch.gather(score, 2, depth_bin).squeeze(2)
    width = torch.gather(width, 2, depth_bin).squeeze(2)
    tol = torch.gather(tol, 2, depth_bin).squeeze(2)
    angle_bin = torch.gather(angle_bin, 2, depth_bin).squeeze(2)
    depth_bin = depth_bin.squeeze(2)
    prob = torch.softmax(s1.approach.objectness, dim=1)[:, 1]  # (B, Ns)
    score = to_linear_score(score, cfg.score_target)
    width = (width * cfg.decode_width_scale).clamp(0.0, GRASP_MAX_WIDTH)
    depths = np.asarray(cfg.depths)
    angles = cfg.angles
    results = []
    for b in range(prob.shape[0]):
        keep = (prob[b] >= objectness_threshold).cpu().numpy()
        seeds = np.flatnonzero(keep)
        approach = -s1.approach.top_view_xyz[b].cpu().numpy().astype(np.float64)[seeds]
        ang = angles[angle_bin[b].cpu().numpy()[seeds]]
        rot = rotation_from_approach(approach, ang) if len(seeds) else np.zeros((0, 3, 3))
        grasps = GraspGroup.from_components(
            rot, s1.seed_xyz[b].cpu().numpy().astype(np.float64)[seeds],
            width[b].cpu().numpy()[seeds], depths[depth_bin[b].cpu().numpy()[seeds]],
            score[b].cpu().numpy().astype(np.float64)[seeds], heights=DEFAULT_HEIGHT)
        results.append(DecodedGrasps(grasps, tol[b].clamp(min=0).cpu().numpy()[seeds].astype(np.float64), seeds))
    return results
