"""ApproachNet, CloudCrop, OperationNet and ToleranceNet (paper sections 4.2-4.4), and
the graspness head of graspness-guided seeding (:mod:`.graspness`).

Attribute names follow graspnet-baseline's ``models/modules.py`` (conv1..3,
bn1, bn2; ``crop.mlps``) so its weights load into the "paper" config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..views import fibonacci_views
from .backbone import SharedMLP, linear_bn
from .cylinder import cylinder_crop, cylinder_crop_pooled, viewpoint_to_rotation


@dataclass
class ApproachOutput:
    objectness: torch.Tensor  # (B, 2, Ns) logits [not graspable, graspable]
    view_score: torch.Tensor  # (B, Ns, V) predicted view scores
    top_view_inds: torch.Tensor  # (B, Ns) best view per seed
    top_view_score: torch.Tensor  # (B, Ns)
    top_view_xyz: torch.Tensor  # (B, Ns, 3) template view of the best view (approach = -view)
    top_view_rot: torch.Tensor  # (B, Ns, 3, 3) approach frame at angle 0


class _Conv1dHead(nn.Module):
    """conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> ReLU -> conv3 on channels-last (..., C)."""

    def __init__(self, c_in: int, hidden: tuple[int, int], c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, hidden[0], 1)
        self.conv2 = nn.Conv1d(hidden[0], hidden[1], 1)
        self.conv3 = nn.Conv1d(hidden[1], c_out, 1)
        self.bn1 = nn.BatchNorm1d(hidden[0])
        self.bn2 = nn.BatchNorm1d(hidden[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = linear_bn(x, self.conv1.weight, self.conv1.bias, self.bn1)
        x = linear_bn(x, self.conv2.weight, self.conv2.bias, self.bn2)
        return linear_bn(x, self.conv3.weight, self.conv3.bias, None, relu=False)


class ApproachNet(_Conv1dHead):
    """Seed features (B, Ns, C) -> objectness (2) + V view scores; MLP (C, 2+V, 2+V)."""

    def __init__(self, num_view: int, seed_dim: int) -> None:
        super().__init__(seed_dim, (seed_dim, 2 + num_view), 2 + num_view)
        self.num_view = num_view
        # Not in the state_dict (the reference has no such buffer).
        self.register_buffer("template_views", torch.from_numpy(fibonacci_views(num_view).astype(np.float32)),
                             persistent=False)

    def forward(self, seed_features: torch.Tensor) -> ApproachOutput:
        out = super().forward(seed_features)  # (B, Ns, 2 + V)
        objectness = out[..., :2].transpose(1, 2)
        view_score = out[..., 2:]
        top_score, top_inds = view_score.max(dim=2)
        views = self.template_views.to(view_score.dtype)
        top_xyz = views[top_inds]
        rot = viewpoint_to_rotation(-top_xyz, torch.zeros_like(top_score))
        return ApproachOutput(objectness, view_score, top_inds, top_score, top_xyz, rot)


class GraspnessHead(_Conv1dHead):
    """Candidate features (B, M, C) -> predicted point graspness (B, M), normalised
    0..1 units (regression, no squashing); MLP (C, C, C/2, 1)."""

    def __init__(self, seed_dim: int) -> None:
        super().__init__(seed_dim, (seed_dim, max(seed_dim // 2, 1)), 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return super().forward(features).squeeze(-1)


class CloudCrop(nn.Module):
    """Cylinder crops at every depth bin -> shared MLP -> max pool: (B, C, Ns, D)."""

    def __init__(self, nsample: int, radius: float, hmin: float, hmaxs: tuple[float, ...],
                 mlp: tuple[int, ...], search: str = "exact") -> None:
        super().__init__()
        self.nsample, self.radius, self.hmin, self.hmaxs = nsample, radius, hmin, tuple(hmaxs)
        self.search = search
        self.mlps = SharedMLP((3, *mlp))

    def forward(self, seed_xyz: torch.Tensor, cloud_xyz: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
        """-> (B, Ns, D, C) channels-last crop features."""
        if self.training:  # batch-norm statistics over every slot, repeats included, as the reference trains
            local = cylinder_crop(cloud_xyz, seed_xyz, rot, self.radius, self.hmin, self.hmaxs, self.nsample,
                                  self.search)
            return self.mlps(local).amax(dim=3)
        return cylinder_crop_pooled(self.mlps, cloud_xyz, seed_xyz, rot, self.radius, self.hmin, self.hmaxs,
                                    self.nsample, self.search)


class OperationNet(_Conv1dHead):
    """Crop features (B, Ns, D, C) -> per angle bin: score, angle class logit,
    width (m), each (B, A, Ns, D) like the reference."""

    def __init__(self, num_angle: int, in_dim: int, hidden: tuple[int, int]) -> None:
        super().__init__(in_dim, hidden, 3 * num_angle)
        self.num_angle = num_angle

    def forward(self, vp_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = super().forward(vp_features).permute(0, 3, 1, 2)  # (B, 3A, Ns, D)
        A = self.num_angle
        return out[:, :A], out[:, A:2 * A], out[:, 2 * A:3 * A]


class ToleranceNet(_Conv1dHead):
    """Crop features (B, Ns, D, C) -> tolerance (m) per angle bin: (B, A, Ns, D)."""

    def __init__(self, num_angle: int, in_dim: int, hidden: tuple[int, int]) -> None:
        super().__init__(in_dim, hidden, num_angle)

    def forward(self, vp_features: torch.Tensor) -> torch.Tensor:
        return super().forward(vp_features).permute(0, 3, 1, 2)
