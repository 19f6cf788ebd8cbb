"""Network outputs -> GraspGroups in the camera frame.

Per seed (the grasp point t = seed xyz) and depth bin: pick the in-plane
angle (by class logit, or by best score among confident angles, see
ModelConfig.angle_select), read that angle's score, width and tolerance;
pick the depth bin with the best score; keep seeds whose objectness says
graspable. Approach = -(best template view); rotation = core
``rotation_from_approach(approach, angle)``; width = clip(scale * width,
0, 0.1) m. Scores are reported as s = 1.1 - mu whatever the score head's
target ("log" heads are converted with mu = exp(-s)).

``decode_mode = "reference"`` (the ``reference`` config) reproduces
graspnet-baseline's ``pred_decode`` instead: angle bin = argmax of the angle
class logits (first on ties), width = clip(1.2 x width, 0, 0.1) m, depth bin
= argmax of that angle's score over depths, graspable = objectness logit 1 >
logit 0, score = raw score x tolerance / 0.05 in float32 (the raw score of a
"log" head is log(mu_max / mu), not 1.1 - mu), one grasp per seed; grasps
rank by that score (no GAF re-ranking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..grasp import DEFAULT_HEIGHT, GraspGroup, rotation_from_approach
from .config import GRASP_MAX_TOLERANCE, GRASP_MAX_WIDTH, ModelConfig
from .cylinder import viewpoint_to_rotation
from .graspnet import GraspNetOutput


@dataclass
class DecodedGrasps:
    """One frame's grasps (one per graspable seed) and their side information."""

    grasps: GraspGroup  # camera frame
    tolerance: np.ndarray  # (N,) predicted GAF tolerance, m
    seed_index: np.ndarray  # (N,) seed of each grasp


def select_angles(score: torch.Tensor, angle_cls: torch.Tensor, mode: str, k: int = 1) -> torch.Tensor:
    """The k best in-plane angle bins per seed and depth from (B, A, Ns, D) predictions.

    Returns bins (B, k, Ns, D). Mode "cls": the k largest class logits. Mode
    "score": confident angles (class probability >= 0.5) by predicted score
    first, then the remaining angles by class logit.
    """
    k = min(k, angle_cls.shape[1])
    if mode == "cls":
        return angle_cls.topk(k, dim=1).indices
    confident = torch.sigmoid(angle_cls) >= 0.5
    # confident angles rank above the others (scores are < 10), then class logits order the rest
    key = torch.where(confident, 10.0 + score, angle_cls.clamp(max=9.0) - 20.0)
    return key.topk(k, dim=1).indices


def to_linear_score(score: torch.Tensor, target: str) -> torch.Tensor:
    """Scores in 1.1 - mu units from the head's target convention."""
    return score if target == "linear" else 1.1 - torch.exp(-score)


@torch.no_grad()
def decode(out: GraspNetOutput, cfg: ModelConfig, objectness_threshold: float = 0.5,
           grasps_per_seed: int = 1) -> list[DecodedGrasps]:
    """One :class:`DecodedGrasps` per batch element.

    ``grasps_per_seed`` > 1 also decodes the next-best in-plane angles of each
    seed (each with its own best depth), which gives pose NMS more distinct
    grasps to keep; rank 0 is the single grasp of ``grasps_per_seed`` = 1.
    """
    if grasps_per_seed < 1:
        raise ValueError(f"grasps_per_seed must be >= 1, got {grasps_per_seed}")
    if cfg.decode_mode == "reference":
        if grasps_per_seed != 1:
            raise ValueError("decode_mode 'reference' decodes one grasp per seed (graspnet-baseline's "
                             f"pred_decode); got grasps_per_seed={grasps_per_seed}: use 1")
        return decode_reference(out, cfg)
    s1, s2 = out.stage1, out.stage2
    angle_bin = select_angles(s2.score, s2.angle_cls, cfg.angle_select, grasps_per_seed)  # (B, k, Ns, D)

    def at_angle(t: torch.Tensor) -> torch.Tensor:
        return torch.gather(t, 1, angle_bin)  # (B, k, Ns, D)

    score = at_angle(s2.score)
    width = at_angle(s2.width)
    tol = at_angle(s2.tolerance)
    depth_bin = score.argmax(dim=3, keepdim=True)  # (B, k, Ns, 1)
    score = torch.gather(score, 3, depth_bin).squeeze(3)
    width = torch.gather(width, 3, depth_bin).squeeze(3)
    tol = torch.gather(tol, 3, depth_bin).squeeze(3)
    angle_bin = torch.gather(angle_bin, 3, depth_bin).squeeze(3)
    depth_bin = depth_bin.squeeze(3)
    # a lower rank may already hold the same angle (at another depth): keep the first only
    same = angle_bin.unsqueeze(1) == angle_bin.unsqueeze(2)  # (B, k, k, Ns): [r, q]
    earlier = torch.ones(same.shape[1], same.shape[1], dtype=torch.bool).tril(-1)[None, :, :, None]
    distinct = ~(same & earlier).any(dim=2)  # (B, k, Ns)
    prob = torch.softmax(s1.approach.objectness, dim=1)[:, 1]  # (B, Ns)
    score = to_linear_score(score, cfg.score_target)
    width = (width * cfg.decode_width_scale).clamp(0.0, GRASP_MAX_WIDTH)
    depths = np.asarray(cfg.depths)
    angles = cfg.angles
    results = []
    for b in range(prob.shape[0]):
        keep = ((prob[b] >= objectness_threshold).unsqueeze(0) & distinct[b]).cpu().numpy()
        rank, seeds = np.nonzero(keep)  # rank-major: rank 0 first
        approach = -s1.approach.top_view_xyz[b].cpu().numpy().astype(np.float64)[seeds]
        ang = angles[angle_bin[b].cpu().numpy()[rank, seeds]]
        rot = rotation_from_approach(approach, ang) if len(seeds) else np.zeros((0, 3, 3))
        grasps = GraspGroup.from_components(
            rot, s1.seed_xyz[b].cpu().numpy().astype(np.float64)[seeds],
            width[b].cpu().numpy()[rank, seeds], depths[depth_bin[b].cpu().numpy()[rank, seeds]],
            score[b].cpu().numpy().astype(np.float64)[rank, seeds], heights=DEFAULT_HEIGHT)
        results.append(DecodedGrasps(grasps, tol[b].clamp(min=0).cpu().numpy()[rank, seeds].astype(np.float64),
                                     seeds))
    return results


@torch.no_grad()
def decode_reference(out: GraspNetOutput, cfg: ModelConfig) -> list[DecodedGrasps]:
    """graspnet-baseline's ``pred_decode`` (module docstring): one grasp per
    graspable seed, in seed order, camera frame; ``tolerance`` is the
    predicted tolerance (m) already folded into the score."""
    s1, s2 = out.stage1, out.stage2
    angle_bin = s2.angle_cls.argmax(dim=1, keepdim=True)  # (B, 1, Ns, D); torch argmax: first maximum
    width = (cfg.decode_width_scale * s2.width).clamp(0.0, GRASP_MAX_WIDTH)

    def at_angle(t: torch.Tensor) -> torch.Tensor:
        return torch.gather(t, 1, angle_bin).squeeze(1)  # (B, Ns, D)

    score, width, tol, angle_bin = at_angle(s2.score), at_angle(width), at_angle(s2.tolerance), angle_bin.squeeze(1)
    depth_bin = score.argmax(dim=2, keepdim=True)  # (B, Ns, 1)

    def at_depth(t: torch.Tensor) -> torch.Tensor:
        return torch.gather(t, 2, depth_bin).squeeze(2)  # (B, Ns)

    score, width, tol, angle_bin = at_depth(score), at_depth(width), at_depth(tol), at_depth(angle_bin)
    graspable = s1.approach.objectness.argmax(dim=1) == 1  # (B, Ns)
    score = score * tol / GRASP_MAX_TOLERANCE  # float32, the reference's order of operations
    # the reference's float32 values: angle = class / A * pi, rotation by its operation order
    angle = angle_bin.float() / cfg.num_angle * np.pi
    rot_all = viewpoint_to_rotation(-s1.approach.top_view_xyz.float(), angle)  # (B, Ns, 3, 3)
    depths = np.asarray(cfg.depths, dtype=np.float32).astype(np.float64)
    results = []
    for b in range(score.shape[0]):
        seeds = np.nonzero(graspable[b].cpu().numpy())[0]
        rot = rot_all[b].cpu().numpy().astype(np.float64)[seeds]
        grasps = GraspGroup.from_components(
            rot, s1.seed_xyz[b].cpu().numpy().astype(np.float64)[seeds],
            width[b].cpu().numpy().astype(np.float64)[seeds], depths[depth_bin[b, :, 0].cpu().numpy()[seeds]],
            score[b].cpu().numpy().astype(np.float64)[seeds], heights=DEFAULT_HEIGHT)
        results.append(DecodedGrasps(grasps, tol[b].cpu().numpy().astype(np.float64)[seeds], seeds))
    return results

