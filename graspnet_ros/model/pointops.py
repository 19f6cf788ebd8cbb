"""PointNet++ point operations in plain PyTorch (CPU; no compiled extension).

Shapes follow the reference CUDA ops (graspnet-baseline / votenet pointnet2):
xyz (B, N, 3) in metres, features (B, C, N). Every op is batched and
vectorised; each has a ``*_naive`` twin written as plain loops for tests.

Semantics kept from the reference so its weights see the same inputs:

* farthest point sampling starts at index 0 and picks the point with the
  largest distance to the chosen set (first index on ties); the sequence is
  prefix-consistent, so FPS of the first n samples returns ``arange(m)``;
* ball query returns, for each centre, the first ``k`` points (in index
  order) with squared distance strictly below ``radius**2``, padded with the
  first one found; a centre with no neighbour gets index 0;
* three-NN interpolation weights are 1 / (distance + 1e-8), normalised.
"""

from __future__ import annotations

import numpy as np
import torch

try:  # fpsample: exact FPS in C++, ~5x faster than the torch loop on CPU
    import fpsample as _fpsample
except ImportError:  # pragma: no cover - depends on the environment
    _fpsample = None
try:  # pykdtree: k-d tree kNN in C, faster than scipy's for many queries
    from pykdtree.kdtree import KDTree as _KDTree
except ImportError:  # pragma: no cover - depends on the environment
    _KDTree = None

#: Upper bound on elements of the (centres x points) blocks built at once.
_BLOCK_ELEMENTS = 1 << 22


def _check_xyz(xyz: torch.Tensor, name: str = "xyz") -> None:
    if xyz.ndim != 3 or xyz.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (B, N, 3), got {tuple(xyz.shape)}")


# ---------------------------------------------------------------------------
# Farthest point sampling
# ---------------------------------------------------------------------------
def farthest_point_sample(xyz: torch.Tensor, npoint: int, backend: str = "auto") -> torch.Tensor:
    """Indices (B, npoint) int64 of farthest point sampling, starting at index 0.

    backend: "auto" (fpsample's exact C++ FPS when installed, else torch),
    "fpsample", "torch" (a loop over samples, batched over B) or "bucket"
    (fpsample's QuickFPS: approximate, several times faster; its sequence is
    not prefix-consistent and need not start at index 0).
    """
    _check_xyz(xyz)
    B, N, _ = xyz.shape
    if not 0 < npoint <= N:
        raise ValueError(f"cannot sample {npoint} points from {N}")
    if backend == "auto":
        backend = "fpsample" if _fpsample is not None else "torch"
    if backend in ("fpsample", "bucket"):
        if _fpsample is None:
            raise ValueError("fpsample is not installed; use backend='torch'")
        pts = xyz.detach().to("cpu", torch.float32).numpy()
        if backend == "fpsample":
            out = np.stack([_fpsample.fps_sampling(p, npoint, start_idx=0) for p in pts])
        else:
            h = int(np.clip(np.log2(max(N, 2)) - 8, 3, 7))
            out = np.stack([_fpsample.bucket_fps_kdline_sampling(p, npoint, h=h, start_idx=0) for p in pts])
        return torch.from_numpy(out.astype(np.int64)).to(xyz.device)
    if backend != "torch":
        raise ValueError(f"unknown FPS backend '{backend}'; use auto, fpsample or torch")
    return _fps_torch(xyz.detach(), npoint)


def _fps_torch(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    B, N, _ = xyz.shape
    idx = torch.zeros(B, npoint, dtype=torch.long, device=xyz.device)
    mind = torch.full((B, N), float("inf"), dtype=xyz.dtype, device=xyz.device)
    cur = xyz[:, :1, :]
    for i in range(1, npoint):
        d = (xyz - cur).square_().sum(-1)
        torch.minimum(mind, d, out=mind)
        nxt = mind.argmax(-1)
        idx[:, i] = nxt
        cur = torch.gather(xyz, 1, nxt.view(B, 1, 1).expand(B, 1, 3))
    return idx


def farthest_point_sample_naive(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Reference loops for :func:`farthest_point_sample`."""
    out = torch.zeros(xyz.shape[0], npoint, dtype=torch.long)
    for b in range(xyz.shape[0]):
        pts = xyz[b].tolist()
        mind = [float("inf")] * len(pts)
        last = 0
        for i in range(1, npoint):
            best, best_j = -1.0, 0
            for j, p in enumerate(pts):
                d = sum((p[k] - pts[last][k]) ** 2 for k in range(3))
                mind[j] = min(mind[j], d)
                if mind[j] > best:
                    best, best_j = mind[j], j
            out[b, i] = best_j
            last = best_j
    return out


def gather_points(xyz: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """(B, N, C) gathered by (B, M) indices -> (B, M, C)."""
    return torch.gather(xyz, 1, idx.unsqueeze(-1).expand(*idx.shape, xyz.shape[-1]))


# ---------------------------------------------------------------------------
# First k members of a mask (shared by ball and cylinder queries)
# ---------------------------------------------------------------------------
def first_k(mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the first k True entries along the last axis.

    mask: (..., N) bool. Returns idx (..., k) int64, padded with the first
    True index (0 where a row has none), and count (...,) of True entries
    capped at k.
    """
    rank = mask.cumsum(-1, dtype=torch.int32)
    count = rank[..., -1].clamp(max=k).long()
    # rank is non-decreasing: the j-th True entry is where rank first reaches j.
    targets = torch.arange(1, k + 1, dtype=torch.int32, device=mask.device).expand(*mask.shape[:-1], k)
    out = torch.searchsorted(rank, targets.contiguous())
    slots = torch.arange(k, device=mask.device)
    out = torch.where(slots < count.unsqueeze(-1), out, out[..., :1])
    out = torch.where(count.unsqueeze(-1) > 0, out, torch.zeros_like(out))
    return out, count


def _pairwise_sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, M, 3) x (B, N, 3) -> (B, M, N) squared distances (matrix-product form).

    Both sets are shifted by a's mean first so the expansion loses little
    precision for clouds far from the origin.
    """
    shift = a.mean(dim=1, keepdim=True)
    a = a - shift
    b = b - shift
    d = (a.square().sum(-1, keepdim=True) + b.square().sum(-1).unsqueeze(1)
         - 2.0 * torch.bmm(a, b.transpose(1, 2)))
    return d.clamp_(min=0.0)


# ---------------------------------------------------------------------------
# Ball query and grouping
# ---------------------------------------------------------------------------
def ball_query(xyz: torch.Tensor, centers: torch.Tensor, radius: float, nsample: int) -> torch.Tensor:
    """(B, M, nsample) indices into xyz (B, N, 3) of points within ``radius`` (m)
    of each centre (B, M, 3); reference semantics (module docstring)."""
    _check_xyz(xyz)
    _check_xyz(centers, "centers")
    B, M, _ = centers.shape
    N = xyz.shape[1]
    xyz, centers = xyz.detach(), centers.detach()
    step = max(1, _BLOCK_ELEMENTS // max(1, B * N))
    r2 = radius * radius
    parts = []
    for s in range(0, M, step):
        d2 = _pairwise_sq_dist(centers[:, s:s + step], xyz)
        parts.append(first_k(d2 < r2, nsample)[0])
    return torch.cat(parts, dim=1)


def knn_candidates(xyz: torch.Tensor, centers: torch.Tensor, radius: float,
                   k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The (up to) k nearest points within ``radius`` of each centre, by a k-d tree.

    Returns idx (B, M, k) int64 sorted by point index (missing entries point
    past the end and sort last) and valid (B, M, k) bool. The k-d tree is
    pykdtree's (C, OpenMP) when installed, else scipy's.
    """
    B, M, _ = centers.shape
    N = xyz.shape[1]
    k = min(k, N)
    pts = xyz.detach().cpu().numpy().astype(np.float32)
    ctr = centers.detach().cpu().numpy().astype(np.float32)
    out = np.empty((B, M, k), dtype=np.int64)
    for b in range(B):
        if _KDTree is not None:
            _, idx = _KDTree(pts[b]).query(ctr[b], k=k, distance_upper_bound=radius)
        else:  # pragma: no cover - scipy fallback
            from scipy.spatial import cKDTree

            _, idx = cKDTree(pts[b]).query(ctr[b], k=k, distance_upper_bound=radius)
        out[b] = np.asarray(idx, dtype=np.int64).reshape(M, k)
    out = np.sort(out, axis=-1)
    idx = torch.from_numpy(out).to(xyz.device)
    return idx, idx < N


def ball_query_kdtree(xyz: torch.Tensor, centers: torch.Tensor, radius: float, nsample: int,
                      pool: int | None = None) -> torch.Tensor:
    """:func:`ball_query` through a k-d tree: the first ``nsample`` (by index) of
    the ``pool`` (default 4 x nsample) nearest points within the radius.
    Identical to :func:`ball_query` whenever a ball holds at most ``pool`` points."""
    _check_xyz(xyz)
    _check_xyz(centers, "centers")
    cand, valid = knn_candidates(xyz, centers, radius, pool or 4 * nsample)
    sub, count = first_k(valid, nsample)
    idx = torch.gather(cand, 2, sub)
    return torch.where(count.unsqueeze(-1) > 0, idx, torch.zeros_like(idx))


def ball_query_naive(xyz: torch.Tensor, centers: torch.Tensor, radius: float, nsample: int) -> torch.Tensor:
    B, M, _ = centers.shape
    out = torch.zeros(B, M, nsample, dtype=torch.long)
    for b in range(B):
        for m in range(M):
            found = [j for j in range(xyz.shape[1])
                     if float(((xyz[b, j] - centers[b, m]) ** 2).sum()) < radius * radius][:nsample]
            if found:
                out[b, m] = torch.tensor(found + [found[0]] * (nsample - len(found)))
    return out


def group_points(features: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Gather features (B, C, N) at idx (B, M, K) -> (B, C, M, K); differentiable in features."""
    if features.ndim != 3 or idx.ndim != 3 or features.shape[0] != idx.shape[0]:
        raise ValueError(f"group_points: features (B, C, N) and idx (B, M, K) expected, "
                         f"got {tuple(features.shape)} and {tuple(idx.shape)}")
    B, C, _ = features.shape
    _, M, K = idx.shape
    flat = idx.reshape(B, 1, M * K).expand(B, C, M * K)
    return torch.gather(features, 2, flat).view(B, C, M, K)


def group_points_naive(features: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    B, C, _ = features.shape
    _, M, K = idx.shape
    rows = []
    for b in range(B):
        rows.append(torch.stack([torch.stack([features[b, :, int(idx[b, m, k])] for k in range(K)], dim=-1)
                                 for m in range(M)], dim=1))
    return torch.stack(rows)


def query_and_group(xyz: torch.Tensor, centers: torch.Tensor, features: torch.Tensor | None,
                    radius: float, nsample: int, normalize_xyz: bool = True) -> torch.Tensor:
    """Ball query + grouping as the reference SA layer does it.

    Returns (B, 3 + C, M, nsample): relative coordinates (divided by the
    radius when ``normalize_xyz``) followed by the grouped features.
    """
    idx = ball_query(xyz, centers, radius, nsample)
    grouped_xyz = group_points(xyz.transpose(1, 2), idx) - centers.transpose(1, 2).unsqueeze(-1)
    if normalize_xyz:
        grouped_xyz = grouped_xyz / radius
    if features is None:
        return grouped_xyz
    return torch.cat([grouped_xyz, group_points(features, idx)], dim=1)


def group_points_cl(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Channels-last grouping: points (B, N, C) at idx (B, M, K) -> (B, M, K, C)."""
    B, M, K = idx.shape
    C = points.shape[-1]
    return torch.gather(points, 1, idx.reshape(B, M * K, 1).expand(B, M * K, C)).view(B, M, K, C)


def query_and_group_cl(xyz: torch.Tensor, centers: torch.Tensor, features: torch.Tensor | None,
                       radius: float, nsample: int, normalize_xyz: bool = True,
                       search: str = "exact") -> torch.Tensor:
    """Channels-last :func:`query_and_group`: features (B, N, C) -> (B, M, nsample, 3 + C).
    search: "exact" (:func:`ball_query`), "kdtree" (:func:`ball_query_kdtree`)
    or "knn" (the ``nsample`` nearest points within the radius)."""
    if search in ("kdtree", "knn"):
        idx = ball_query_kdtree(xyz, centers, radius, nsample, pool=nsample if search == "knn" else None)
    else:
        idx = ball_query(xyz, centers, radius, nsample)
    grouped_xyz = group_points_cl(xyz, idx) - centers.unsqueeze(2)
    if normalize_xyz:
        grouped_xyz = grouped_xyz / radius
    if features is None:
        return grouped_xyz
    return torch.cat([grouped_xyz, group_points_cl(features, idx)], dim=-1)


# ---------------------------------------------------------------------------
# Three-NN interpolation
# ---------------------------------------------------------------------------
def three_nn(unknown: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Three nearest known points (B, m, 3) of each unknown point (B, n, 3).

    Returns dist (B, n, 3) in metres (ascending) and idx (B, n, 3) int64.
    """
    _check_xyz(unknown, "unknown")
    _check_xyz(known, "known")
    if known.shape[1] < 3:
        raise ValueError(f"three_nn needs at least 3 known points, got {known.shape[1]}")
    d2 = _pairwise_sq_dist(unknown.detach(), known.detach())
    dist2, idx = torch.topk(d2, 3, dim=-1, largest=False, sorted=True)
    return dist2.sqrt(), idx


def three_nn_naive(unknown: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    B, n, _ = unknown.shape
    dist = torch.zeros(B, n, 3, dtype=unknown.dtype)
    idx = torch.zeros(B, n, 3, dtype=torch.long)
    for b in range(B):
        for i in range(n):
            d = [(float(((unknown[b, i] - known[b, j]) ** 2).sum()) ** 0.5, j) for j in range(known.shape[1])]
            d.sort()
            for k in range(3):
                dist[b, i, k], idx[b, i, k] = d[k][0], d[k][1]
    return dist, idx


def interpolation_weights(dist: torch.Tensor) -> torch.Tensor:
    """Inverse-distance weights (B, n, 3) from three_nn distances (reference: 1/(d + 1e-8))."""
    recip = 1.0 / (dist + 1e-8)
    return recip / recip.sum(dim=2, keepdim=True)


def three_interpolate(features: torch.Tensor, idx: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted sum of three known features: (B, C, m), idx/weight (B, n, 3) -> (B, C, n).

    Differentiable in features and weight.
    """
    grouped = group_points(features, idx)  # (B, C, n, 3)
    return (grouped * weight.unsqueeze(1)).sum(-1)


def three_interpolate_cl(features: torch.Tensor, idx: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Channels-last :func:`three_interpolate`: features (B, m, C) -> (B, n, C)."""
    return (group_points_cl(features, idx) * weight.unsqueeze(-1)).sum(2)


def three_interpolate_naive(features: torch.Tensor, idx: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    B, C, _ = features.shape
    n = idx.shape[1]
    out = []
    for b in range(B):
        cols = []
        for i in range(n):
            acc = features[b, :, int(idx[b, i, 0])] * weight[b, i, 0]
            for k in (1, 2):
                acc = acc + features[b, :, int(idx[b, i, k])] * weight[b, i, k]
            cols.append(acc)
        out.append(torch.stack(cols, dim=-1))
    return torch.stack(out)
