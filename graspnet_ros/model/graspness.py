"""Graspness-guided seeds (Wang et al., ICCV 2021, "Graspness Discovery in
Clutters for Fast and Accurate Grasp Detection").

Point graspness of a scene point is the share of feasible grasps (force
closure at friction mu <= 0.6, collision-free, not wider than the gripper)
among all V x A x D grasps (views x in-plane angles x depths) of the
ground-truth grasp point nearest to it, normalised per frame to 0..1
(labels: :func:`graspnet_ros.model.labels.point_graspness`). A graspness
head regresses it for every seed candidate (the first set-abstraction
level's points, camera frame); the seeds are then sampled by farthest
point sampling among the candidates whose predicted graspness exceeds a
threshold (0.1 as the paper) instead of over the whole cloud.

Background points have graspness 0 in the labels and the head is trained on
them too, so the threshold also plays the paper's objectness mask (this
network's objectness is a per-seed output of ApproachNet, after seeding).
"""

from __future__ import annotations

import torch

from .pointops import farthest_point_sample

def select_graspable_seeds(xyz: torch.Tensor, graspness: torch.Tensor, num_seeds: int, threshold: float,
                           fps_backend: str = "auto") -> torch.Tensor:
    """Indices (B, num_seeds) int64 into the M candidates of each batch element.

    xyz (B, M, 3) candidate points (m, camera frame); graspness (B, M)
    predicted graspness. When at least ``num_seeds`` candidates have
    graspness > ``threshold`` the seeds are FPS among those only; otherwise
    all passing candidates are kept and FPS over the others adds the rest
    (no candidate passing: plain FPS over all, the paper's seeding). The
    seeds of one element are distinct. Raises ValueError if M < num_seeds.
    """
    B, M, _ = xyz.shape
    if graspness.shape != (B, M):
        raise ValueError(f"graspness must be (B, M) = {(B, M)}, got {tuple(graspness.shape)}")
    if not 0 < num_seeds <= M:
        raise ValueError(f"cannot select {num_seeds} seeds from {M} candidates")
    passing = graspness.detach() > threshold

    def fps(subset: torch.Tensor, n: int) -> torch.Tensor:
        return subset[farthest_point_sample(xyz[b:b + 1, subset].detach(), n, fps_backend)[0]]

    out = []
    for b in range(B):  # candidate counts differ per element; every step inside is vectorised
        keep = torch.nonzero(passing[b]).squeeze(1)
        if len(keep) >= num_seeds:
            out.append(fps(keep, num_seeds))
        else:
            out.append(torch.cat([keep, fps(torch.nonzero(~passing[b]).squeeze(1), num_seeds - len(keep))]))
    return torch.stack(out)
