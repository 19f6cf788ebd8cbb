"""PointNet++ single-scale-grouping backbone (paper section 4.2, "base network").

Module and attribute names reproduce graspnet-baseline's ``Pointnet2Backbone``
(sa1..sa4 with ``mlp_module``, fp1/fp2 with ``mlp``, each a SharedMLP of
``layer{i}.conv`` + ``layer{i}.bn.bn``) so that its state_dict loads as is.

Every level runs farthest point sampling on its own input, as the
reference does (the later runs are cheap: 2048 points and fewer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import BackboneConfig
from .pointops import (farthest_point_sample, gather_points, interpolation_weights, query_and_group_cl,
                       three_interpolate_cl, three_nn)


def linear_bn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
              bn: nn.modules.batchnorm._BatchNorm | None, relu: bool = True) -> torch.Tensor:
    """A 1x1 convolution on channels-last input (..., C_in) -> (..., C_out),
    then batch norm (statistics over every leading axis) and ReLU.

    ``weight`` is a Conv1d/Conv2d weight (C_out, C_in, 1[, 1]); using it
    through ``F.linear`` is the same map as the convolution, several times
    faster on CPU than torch's 1x1-convolution path. In eval mode the batch
    norm is folded into the weights.
    """
    w = weight.flatten(1)
    if bn is not None and not bn.training and bn.running_mean is not None:
        # inference: fold the batch norm into the linear map (one pass over the activations)
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias - bn.running_mean * scale
        w, b = w * scale[:, None], shift if bias is None else bias * scale + shift
        if relu and _fused_linear_relu_ok(x, w):
            return torch.ops.mkldnn._linear_pointwise(x.reshape(-1, x.shape[-1]), w, b, "relu", [], "").view(
                *x.shape[:-1], w.shape[0])
        y = F.linear(x, w, b)
    else:
        y = F.linear(x, w, bias)
        if bn is not None:
            shape = y.shape
            if bn.num_batches_tracked is not None:
                bn.num_batches_tracked.add_(1)
            momentum = 0.0 if bn.momentum is None else bn.momentum
            y = F.batch_norm(y.reshape(-1, shape[-1]), bn.running_mean, bn.running_var, bn.weight, bn.bias,
                             True, momentum, bn.eps).view(shape)
    return F.relu(y, inplace=True) if relu else y


def _fused_linear_relu_ok(x: torch.Tensor, w: torch.Tensor) -> bool:
    """oneDNN's fused linear + ReLU (one pass over the output instead of a bias copy and a ReLU pass,
    ~20% faster on CPU) for float32 CPU inference, where this torch build has it."""
    return (_HAS_FUSED and not torch.is_grad_enabled() and x.dtype == torch.float32 and w.dtype == torch.float32
            and x.device.type == "cpu" and x.numel() > 0)


def _probe_fused() -> bool:
    try:
        x, w, b = torch.randn(8, 5), torch.randn(3, 5), torch.randn(3)
        with torch.no_grad():
            out = torch.ops.mkldnn._linear_pointwise(x, w, b, "relu", [], "")
        return bool(torch.allclose(out, torch.relu(F.linear(x, w, b)), atol=1e-6))
    except (AttributeError, RuntimeError, NotImplementedError):  # pragma: no cover - builds without oneDNN
        return False


_HAS_FUSED = _probe_fused()


class _BatchNorm(nn.Module):
    """Holds ``bn`` so parameter names read ``...bn.bn.weight`` as in the reference."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)


class Conv2dBNReLU(nn.Module):
    """1x1 Conv2d (no bias) -> BatchNorm2d -> ReLU, applied channels-last."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=1, bias=False)
        nn.init.kaiming_normal_(self.conv.weight)
        self.bn = _BatchNorm(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., C_in) -> (..., C_out)."""
        return linear_bn(x, self.conv.weight, None, self.bn.bn)


class SharedMLP(nn.Module):
    """Point-wise MLP on channels-last tensors (..., widths[0]) -> (..., widths[-1])."""

    def __init__(self, widths: tuple[int, ...] | list[int]) -> None:
        super().__init__()
        for i in range(len(widths) - 1):
            self.add_module(f"layer{i}", Conv2dBNReLU(widths[i], widths[i + 1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.children():
            x = layer(x)
        return x


class SetAbstraction(nn.Module):
    """Ball query of ``nsample`` points within ``radius`` (m) around each centre,
    relative coordinates / radius + features through an MLP, max-pooled."""

    def __init__(self, npoint: int, radius: float, nsample: int, mlp: tuple[int, ...], in_dim: int,
                 search: str = "exact") -> None:
        super().__init__()
        self.npoint, self.radius, self.nsample, self.search = npoint, radius, nsample, search
        self.mlp_module = SharedMLP((in_dim + 3, *mlp))

    def forward(self, xyz: torch.Tensor, features: torch.Tensor | None,
                inds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """xyz (B, N, 3), channels-last features (B, N, C) or None, inds (B,
        npoint) -> centres (B, npoint, 3) and features (B, npoint, mlp[-1])."""
        new_xyz = gather_points(xyz, inds)
        grouped = query_and_group_cl(xyz, new_xyz, features, self.radius, self.nsample, normalize_xyz=True,
                                     search=self.search)
        return new_xyz, self.mlp_module(grouped).amax(dim=2)


class FeaturePropagation(nn.Module):
    """Three-NN inverse-distance interpolation of coarse features, concatenated
    with the fine level's own features, through an MLP."""

    def __init__(self, mlp: tuple[int, ...]) -> None:
        super().__init__()
        self.mlp = SharedMLP(mlp)

    def forward(self, unknown: torch.Tensor, known: torch.Tensor, unknown_feats: torch.Tensor,
                known_feats: torch.Tensor) -> torch.Tensor:
        """unknown (B, n, 3), known (B, m, 3), channels-last features (B, n, C1)
        and (B, m, C2) -> (B, n, mlp[-1])."""
        dist, idx = three_nn(unknown, known)
        interp = three_interpolate_cl(known_feats, idx, interpolation_weights(dist))
        return self.mlp(torch.cat([interp, unknown_feats], dim=-1))


@dataclass
class BackboneOutput:
    seed_xyz: torch.Tensor  # (B, Ns, 3) seed points, m, camera frame
    seed_features: torch.Tensor  # (B, Ns, C) channels-last
    seed_inds: torch.Tensor  # (B, Ns) indices of the seeds in the input cloud


class PointNet2Backbone(nn.Module):
    """(B, N, 3 + input_feature_dim) cloud -> seeds with features."""

    def __init__(self, cfg: BackboneConfig, fps_backend: str = "auto", search: str = "exact") -> None:
        super().__init__()
        self.cfg = cfg
        self.fps_backend = fps_backend
        in_dim = cfg.input_feature_dim
        for i in range(4):
            sa = SetAbstraction(cfg.npoints[i], cfg.radii[i], cfg.nsamples[i], cfg.mlps[i], in_dim, search)
            self.add_module(f"sa{i + 1}", sa)
            in_dim = cfg.mlps[i][-1]
        self.fp1 = FeaturePropagation((cfg.mlps[3][-1] + cfg.mlps[2][-1], *cfg.fp_mlps[0]))
        self.fp2 = FeaturePropagation((cfg.fp_mlps[0][-1] + cfg.mlps[1][-1], *cfg.fp_mlps[1]))

    def forward(self, cloud: torch.Tensor, candidates: bool = False) -> BackboneOutput:
        """``candidates``: the second level keeps every first-level point instead of
        FPS-sampling npoints[1] of them, so the output holds seed features for all
        npoints[0] first-level points (the seed candidates of graspness seeding)."""
        if cloud.ndim != 3 or cloud.shape[-1] != 3 + self.cfg.input_feature_dim:
            raise ValueError(f"cloud must be (B, N, {3 + self.cfg.input_feature_dim}), got {tuple(cloud.shape)}")
        xyz = cloud[..., :3].contiguous()
        feats = cloud[..., 3:] if cloud.shape[-1] > 3 else None
        levels = []
        for i, sa in enumerate((self.sa1, self.sa2, self.sa3, self.sa4)):
            # each level samples its own input, as the reference does (with exact ties the
            # samples of a level need not be a prefix of the level above)
            if candidates and i == 1:
                sub = torch.arange(xyz.shape[1], device=xyz.device).expand(xyz.shape[0], -1)
            else:
                sub = farthest_point_sample(xyz, self.cfg.npoints[i], self.fps_backend)
            xyz, feats = sa(xyz, feats, sub)
            levels.append((xyz, feats, sub))
        (x2, f2, _), (x3, f3, _), (x4, f4, _) = levels[1], levels[2], levels[3]
        f = self.fp1(x3, x4, f3, f4)
        f = self.fp2(x2, x3, f2, f)
        seed_inds = torch.gather(levels[0][2], 1, levels[1][2])
        return BackboneOutput(seed_xyz=x2, seed_features=f, seed_inds=seed_inds)
