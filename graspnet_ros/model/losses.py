"""Training objective (paper eq. 5-8, weights of section 5.2).

    L_A = L_cls(objectness) + lambda1 * L_reg(view scores)                 (5)
    L_R = sum_d [ L_cls^d(angle) + lambda2 L_reg^d(score)
                  + lambda3 L_reg^d(width) ]                               (6)
    L_F = sum_d L_reg^d(tolerance)                                         (7)
    L   = L_A + alpha L_R + beta L_F                                       (8)
          [+ w_g L_G  for graspness seeding]

L_G (graspness seeding, Wang et al., ICCV 2021): smooth L1 between the
predicted and the labelled normalised point graspness, mean over every seed
candidate (background included, target 0 there: the head doubles as the
objectness mask of seeding); w_g = ``LossWeights.graspness`` (10, as
graspness_implementation).

L_cls of objectness: two-class softmax cross entropy (ignored seeds left
out). Angle: sigmoid cross entropy per angle bin ("multi-class binary"),
target 1 where the ground truth at that angle is graspable. L_reg: smooth
L1 (Huber, delta 1). View scores: on positive seeds, matched views only.
Score: every angle bin of seeds with stage-2 targets (0 where not
graspable). Width and tolerance: graspable entries only, divided by 0.1 m
and 0.05 m (the reference's scaling, i.e. errors in units of the largest
width and tolerance); ``LossWeights.tolerance_on="all"`` puts the tolerance
loss on every entry of the stage-2 seeds (target 0 where not graspable).
Each L^d is a masked mean over that depth bin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .config import GRASP_MAX_TOLERANCE, GRASP_MAX_WIDTH, LossWeights
from .graspnet import Stage1Output, Stage2Output
from .labels import GraspTargets


@dataclass
class LossTerms:
    total: torch.Tensor
    objectness: torch.Tensor
    view: torch.Tensor
    angle: torch.Tensor
    score: torch.Tensor
    width: torch.Tensor
    tolerance: torch.Tensor
    stats: dict = field(default_factory=dict)
    graspness: torch.Tensor | None = None  # L_G, graspness seeding only

    def scalars(self) -> dict[str, float]:
        """Loss terms and statistics as plain floats (for logs and progress bars)."""
        out = {k: float(getattr(self, k).detach()) for k in
               ("total", "objectness", "view", "angle", "score", "width", "tolerance")}
        if self.graspness is not None:
            out["graspness"] = float(self.graspness.detach())
        out.update({k: float(v) for k, v in self.stats.items()})
        return out


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    mask = mask.to(values.dtype)
    return (values * mask).sum(dim=dims) / mask.sum(dim=dims).clamp(min=1.0)


def grasp_losses(s1: Stage1Output, s2: Stage2Output, targets: GraspTargets,
                 weights: LossWeights = LossWeights()) -> LossTerms:
    """All loss terms of one batch. Stage-2 tensors (B, A, Ns, D) are compared
    with targets (B, Ns, A, D)."""
    obj_logits = s1.approach.objectness  # (B, 2, Ns)
    obj_t = targets.objectness
    known = obj_t >= 0
    if known.any():
        l_obj = F.cross_entropy(obj_logits, obj_t.clamp(min=0), reduction="none")
        l_obj = (l_obj * known).sum() / known.sum()
    else:
        l_obj = obj_logits.sum() * 0.0
    l_view = _masked_mean(F.smooth_l1_loss(s1.approach.view_score, targets.view_target, reduction="none"),
                          targets.view_mask, (0, 1, 2))

    perm = (0, 2, 1, 3)  # (B, A, Ns, D) -> (B, Ns, A, D)
    score = s2.score.permute(perm)
    angle = s2.angle_cls.permute(perm)
    width = s2.width.permute(perm)
    tol = s2.tolerance.permute(perm)
    seed = targets.seed_mask[:, :, None, None].expand_as(targets.valid)
    valid = targets.valid & seed
    dims = (0, 1, 2)  # keep the depth axis: one masked mean per depth bin, then the sum (eq. 6, 7)
    l_angle = _masked_mean(F.binary_cross_entropy_with_logits(angle, targets.valid.to(angle.dtype),
                                                              reduction="none"), seed, dims).sum()
    l_score = _masked_mean(F.smooth_l1_loss(score, targets.score, reduction="none"), seed, dims).sum()
    l_width = _masked_mean(F.smooth_l1_loss(width / GRASP_MAX_WIDTH, targets.width / GRASP_MAX_WIDTH,
                                            reduction="none"), valid, dims).sum()
    w = weights
    l_tol = _masked_mean(F.smooth_l1_loss(tol / GRASP_MAX_TOLERANCE, targets.tolerance / GRASP_MAX_TOLERANCE,
                                          reduction="none"), valid if w.tolerance_on == "graspable" else seed,
                         dims).sum()
    total = (l_obj + w.lambda1 * l_view
             + w.alpha * (l_angle + w.lambda2 * l_score + w.lambda3 * l_width)
             + w.beta * l_tol)
    l_grasp = None
    pred_g, true_g = getattr(s1, "graspness", None), getattr(targets, "graspness", None)
    if pred_g is not None and true_g is not None:
        l_grasp = F.smooth_l1_loss(pred_g, true_g.to(pred_g.dtype))
        total = total + w.graspness * l_grasp
    with torch.no_grad():
        pred = obj_logits.argmax(1)
        stats = {
            "objectness_acc": ((pred == obj_t) & known).sum() / known.sum().clamp(min=1),
            "positive_seeds": (obj_t == 1).sum(dim=1).float().mean(),
            "ignored_seeds": (obj_t < 0).sum(dim=1).float().mean(),
            "stage2_seeds": targets.seed_mask.sum(dim=1).float().mean(),
        }
        if valid.any():
            hit = torch.gather(targets.valid, 2, angle.argmax(2, keepdim=True)).squeeze(2)  # (B, Ns, D)
            has = targets.valid.any(2) & targets.seed_mask[:, :, None]
            stats["angle_acc"] = (hit & has).sum() / has.sum().clamp(min=1)
        if l_grasp is not None:  # share of candidates above the seeding threshold: predicted, labelled
            stats["graspable_pred"] = (pred_g > s1.graspness_threshold).float().mean()
            stats["graspable_true"] = (true_g > s1.graspness_threshold).float().mean()
    return LossTerms(total, l_obj, l_view, l_angle, l_score, l_width, l_tol, stats, l_grasp)
