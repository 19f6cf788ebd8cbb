"""Cylinder crop in the approach frame (paper section 4.3, "cylinder region transformation").

For each seed (grasp point c) with a rotation R whose x column is the
approach vector, the crop takes the points p whose local coordinates
``l = R^T (p - c)`` satisfy ``l_y^2 + l_z^2 < radius^2`` and
``hmin < l_x < hmax`` for each depth bin's hmax, keeps the first
``nsample`` of them in index order (padded with the first; index 0 when
none, as the reference CUDA kernel does), and returns their local
coordinates (metres, not normalised).
"""

from __future__ import annotations

import numpy as np
import torch

from .pointops import _BLOCK_ELEMENTS, first_k, knn_candidates


def viewpoint_to_rotation(approach: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`graspnet_ros.grasp.rotation_from_approach`.

    approach: (..., 3) approach vectors (need not be unit); angle: (...)
    in-plane angles (rad). Returns (..., 3, 3) with columns x = approach,
    y = jaw axis, z = x cross y; y at angle 0 is (-a_y, a_x, 0) normalised,
    (0, 1, 0) for a vertical approach.
    """
    x = approach / approach.norm(dim=-1, keepdim=True)
    zeros = torch.zeros_like(x[..., 0])
    y = torch.stack([-x[..., 1], x[..., 0], zeros], dim=-1)
    yn = y.norm(dim=-1, keepdim=True)
    vertical = yn < 1e-9
    y = torch.where(vertical, torch.tensor([0.0, 1.0, 0.0], dtype=x.dtype, device=x.device), y)
    y = y / torch.where(vertical, torch.ones_like(yn), yn)
    z = torch.cross(x, y, dim=-1)
    base = torch.stack([x, y, z], dim=-1)
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    rx = torch.stack([one, zero, zero, zero, c, -s, zero, s, c], dim=-1).view(*c.shape, 3, 3)
    return base @ rx


def cylinder_query(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor, radius: float,
                   hmin: float, hmaxs: tuple[float, ...], nsample: int,
                   max_candidates: int | None = None) -> torch.Tensor:
    """Indices (B, M, D, nsample) of cloud points xyz (B, N, 3) inside each
    seed's cylinder for every depth bin hmax in ``hmaxs`` (D values, m).

    centers: (B, M, 3); rot: (B, M, 3, 3) approach frames (columns).
    The cylinders of one seed are nested, so the tallest is searched over the
    whole cloud once and the others only among its first ``max_candidates``
    members (default max(4 * nsample, 128)); the result equals the
    reference's whenever the tallest cylinder holds at most that many points
    (otherwise the shorter ones draw their samples from those candidates).
    """
    if xyz.ndim != 3 or centers.ndim != 3 or rot.shape[:2] != centers.shape[:2] or rot.shape[-2:] != (3, 3):
        raise ValueError(f"cylinder_query: xyz (B,N,3), centers (B,M,3), rot (B,M,3,3) expected, got "
                         f"{tuple(xyz.shape)}, {tuple(centers.shape)}, {tuple(rot.shape)}")
    xyz, centers, rot = xyz.detach(), centers.detach(), rot.detach()
    B, M, _ = centers.shape
    N = xyz.shape[1]
    kc = min(N, max_candidates or max(4 * nsample, 128))
    hmax_t = torch.tensor(hmaxs, dtype=xyz.dtype, device=xyz.device).view(1, 1, -1, 1)
    shift = centers.mean(dim=1, keepdim=True)
    pts = xyz - shift
    ctr = centers - shift
    p2 = pts.square().sum(-1).unsqueeze(1)  # (B, 1, N)
    step = max(1, _BLOCK_ELEMENTS // max(1, B * N))
    parts = []
    for s in range(0, M, step):
        c = ctr[:, s:s + step]  # (B, m, 3)
        a = rot[:, s:s + step, :, 0]  # approach axes (B, m, 3)
        lx = torch.bmm(a, pts.transpose(1, 2)) - (a * c).sum(-1, keepdim=True)  # (B, m, N)
        d2 = p2 + c.square().sum(-1, keepdim=True) - 2.0 * torch.bmm(c, pts.transpose(1, 2))
        tallest = ((d2 - lx.square()) < radius * radius) & (lx > hmin) & (lx < max(hmaxs))
        cand, count = first_k(tallest, kc)  # (B, m, kc) ascending indices
        real = torch.arange(kc, device=xyz.device) < count.unsqueeze(-1)
        cx = torch.gather(lx, 2, cand).unsqueeze(2)  # (B, m, 1, kc)
        sub, sub_count = first_k(real.unsqueeze(2) & (cx < hmax_t), nsample)  # (B, m, D, nsample)
        idx = torch.gather(cand.unsqueeze(2).expand(-1, -1, len(hmaxs), -1), 3, sub)
        parts.append(torch.where(sub_count.unsqueeze(-1) > 0, idx, torch.zeros_like(idx)))
    return torch.cat(parts, dim=1)


def cylinder_query_kdtree(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor, radius: float,
                          hmin: float, hmaxs: tuple[float, ...], nsample: int,
                          pool: int | None = None) -> torch.Tensor:
    """:func:`cylinder_query` with candidates from a k-d tree: the ``pool``
    (default max(16 x nsample, 256)) nearest points within the sphere that
    encloses the tallest cylinder, in index order. Identical to
    :func:`cylinder_query` whenever that sphere holds at most ``pool`` points."""
    B, M, _ = centers.shape
    reach = float(np.sqrt(radius ** 2 + max(-hmin, max(hmaxs)) ** 2))
    cand, valid = knn_candidates(xyz, centers, reach, pool or max(16 * nsample, 256))
    safe = torch.where(valid, cand, torch.zeros_like(cand))
    pts = torch.gather(xyz.detach(), 1, safe.reshape(B, -1, 1).expand(-1, -1, 3)).view(B, M, -1, 3)
    local = (pts - centers.detach().unsqueeze(2)) @ rot.detach()  # (B, M, pool, 3)
    inside = valid & (local[..., 1] ** 2 + local[..., 2] ** 2 < radius * radius) & (local[..., 0] > hmin)
    hmax_t = torch.tensor(hmaxs, dtype=xyz.dtype, device=xyz.device).view(1, 1, -1, 1)
    sub, count = first_k(inside.unsqueeze(2) & (local[..., 0].unsqueeze(2) < hmax_t), nsample)
    idx = torch.gather(safe.unsqueeze(2).expand(-1, -1, len(hmaxs), -1), 3, sub)
    return torch.where(count.unsqueeze(-1) > 0, idx, torch.zeros_like(idx))


def cylinder_group(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor,
                   idx: torch.Tensor) -> torch.Tensor:
    """Channels-last local coordinates (B, M, D, K, 3) of the points idx
    (B, M, D, K) in each seed's approach frame: R^T (p - c), metres."""
    B, M, D, K = idx.shape
    pts = torch.gather(xyz, 1, idx.reshape(B, M * D * K, 1).expand(-1, -1, 3)).view(B, M, D * K, 3)
    local = (pts - centers.unsqueeze(2)) @ rot  # row vectors: (p - c)^T R = (R^T (p - c))^T
    return local.view(B, M, D, K, 3)


def cylinder_crop(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor, radius: float,
                  hmin: float, hmaxs: tuple[float, ...], nsample: int, search: str = "exact") -> torch.Tensor:
    """Query + group: (B, M, D, nsample, 3) local coordinates. search: "exact" or "kdtree"."""
    query = cylinder_query_kdtree if search in ("kdtree", "knn") else cylinder_query
    idx = query(xyz, centers, rot, radius, hmin, hmaxs, nsample)
    return cylinder_group(xyz, centers, rot, idx)


def cylinder_query_naive(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor, radius: float,
                         hmin: float, hmaxs: tuple[float, ...], nsample: int) -> torch.Tensor:
    B, M, _ = centers.shape
    out = torch.zeros(B, M, len(hmaxs), nsample, dtype=torch.long)
    for b in range(B):
        for m in range(M):
            local = (xyz[b] - centers[b, m]) @ rot[b, m]
            for d, hmax in enumerate(hmaxs):
                found = [j for j in range(xyz.shape[1])
                         if float(local[j, 1] ** 2 + local[j, 2] ** 2) < radius * radius
                         and hmin < float(local[j, 0]) < hmax][:nsample]
                if found:
                    out[b, m, d] = torch.tensor(found + [found[0]] * (nsample - len(found)))
    return out
