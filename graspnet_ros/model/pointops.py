"""PointNet++ point operations in plain PyTorch (CPU; no compiled extension).

Shapes follow the reference CUDA ops (graspnet-baseline / votenet pointnet2):
xyz (B, N, 3) in metres, features (B, C, N). Every op is batched and
vectorised; each has a ``*_naive`` twin written as plain loops for tests.

The exact ops reproduce the reference kernels' results bit for bit on
float32 input (``sampling_gpu.cu``, ``ball_query_gpu.cu``,
``interpolate_gpu.cu``; the cylinder query is in :mod:`.cylinder`):

* farthest point sampling starts at index 0, skips points with
  x^2 + y^2 + z^2 <= 1e-3 (never picked, as the kernel does), and picks the
  point with the largest float32 distance to the chosen set; exact ties go
  where the kernel's block reduction sends them: the kernel runs T =
  min(512, 2^floor(log2 N)) threads, thread t scans points t, t + T, ... and
  keeps its first maximum, and the tree reduction keeps the lower slot on
  ties, so among tied points the one with the smallest bit-reversed
  (index mod T), then the smallest index, wins;
* ball query returns, for each centre, the first ``k`` points (in index
  order) whose float32 squared distance (direct differences) is strictly
  below float32(r)^2, padded with the first one found; a centre with no
  neighbour gets index 0;
* three-NN takes the three smallest float32 squared distances (direct
  differences; equal distances in index order), interpolation weights are
  1 / (distance + 1e-8), normalised.

Distances are summed as (dx^2 + dy^2) + dz^2 without fused multiply-adds; a
GPU build that contracts them (nvcc's default ``--fmad=true``) may round the
last bit differently, which can only matter for values within one ulp of a
boundary or of each other.
"""

from __future__ import annotations

import math

import numpy as np
import torch

try:  # optional accelerator (numba==0.68.1): the exact ops' kernels; torch loops otherwise
    import numba
except ImportError:  # pragma: no cover - depends on the environment
    numba = None
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
#: Threads per block of the reference kernels (cuda_utils.h TOTAL_THREADS).
_CUDA_MAX_THREADS = 512


def cuda_threads(work_size: int) -> int:
    """The reference's ``opt_n_threads``: min(512, 2^floor(log2 n)), at least 1."""
    if work_size < 1:
        return 1
    pow2 = int(math.log(float(work_size)) / math.log(2.0))
    return max(min(1 << pow2, _CUDA_MAX_THREADS), 1)


def fps_tie_order(n: int) -> np.ndarray:
    """(n,) point indices in the order the reference FPS kernel prefers them on
    exact ties: by bit-reversed (index mod T) with T = :func:`cuda_threads`,
    then by index (module docstring)."""
    threads = cuda_threads(n)
    bits = threads.bit_length() - 1
    lane = np.arange(n) % threads
    rev = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        rev |= ((lane >> b) & 1) << (bits - 1 - b)
    return np.lexsort((np.arange(n), rev))


def _fps_cuda_py(px: np.ndarray, py: np.ndarray, pz: np.ndarray, order: np.ndarray, x0: float, y0: float,
                 z0: float, npoint: int, out: np.ndarray) -> None:
    """FPS over points already permuted into tie order (float32 px, py, pz);
    writes original indices into out[1:]. The first maximum in that order is
    the reference kernel's choice. Skipped points hold -inf (never picked)."""
    n = px.shape[0]
    temp = np.full(n, np.float32(1e10), dtype=np.float32)
    for q in range(n):
        if not (px[q] * px[q] + py[q] * py[q] + pz[q] * pz[q]) > 1e-3:
            temp[q] = -np.inf
    x1, y1, z1 = np.float32(x0), np.float32(y0), np.float32(z0)
    for j in range(1, npoint):
        best = np.float32(-1.0)
        besti = 0
        for q in range(n):  # one pass: a strictly larger value keeps the first maximum in tie order
            dx = px[q] - x1
            dy = py[q] - y1
            dz = pz[q] - z1
            d2 = min(dx * dx + dy * dy + dz * dz, temp[q])
            temp[q] = d2
            if d2 > best:
                best = d2
                besti = q
        out[j] = order[besti]
        x1, y1, z1 = px[besti], py[besti], pz[besti]


_fps_cuda_kernel = numba.njit(cache=True, nogil=True)(_fps_cuda_py) if numba is not None else None


def _fps_cuda(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Reference-kernel FPS (module docstring) by the numba kernel, else a torch loop."""
    B, N, _ = xyz.shape
    pts = xyz.detach().to("cpu", torch.float32).numpy()
    order = fps_tie_order(N)
    out = np.zeros((B, npoint), dtype=np.int64)
    for b in range(B):
        p = np.ascontiguousarray(pts[b][order].T)  # (3, N) in tie order
        if _fps_cuda_kernel is not None:
            _fps_cuda_kernel(p[0], p[1], p[2], order, pts[b, 0, 0], pts[b, 0, 1], pts[b, 0, 2], npoint, out[b])
        else:  # pragma: no cover - exercised where numba is not installed
            out[b] = _fps_cuda_torch(torch.from_numpy(p), torch.from_numpy(pts[b, 0]), torch.from_numpy(order),
                                     npoint).numpy()
    return torch.from_numpy(out).to(xyz.device)


def _fps_cuda_torch(p: torch.Tensor, first: torch.Tensor, order: torch.Tensor, npoint: int) -> torch.Tensor:
    """Torch twin of the numba kernel: p (3, N) float32 in tie order."""
    out = torch.zeros(npoint, dtype=torch.long)
    temp = torch.full((p.shape[1],), 1e10, dtype=torch.float32)
    invalid = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]) <= 1e-3
    cur = first
    for j in range(1, npoint):
        dx, dy, dz = p[0] - cur[0], p[1] - cur[1], p[2] - cur[2]
        torch.minimum(temp, dx * dx + dy * dy + dz * dz, out=temp)
        q = int(temp.masked_fill(invalid, -1.0).argmax())  # argmax: first maximum
        out[j] = order[q]
        cur = p[:, q]
    return out


#: Smallest cloud handed to fpsample's QuickFPS ("bucket"); smaller ones take the exact torch loop.
BUCKET_MIN_POINTS = 256


def farthest_point_sample(xyz: torch.Tensor, npoint: int, backend: str = "auto") -> torch.Tensor:
    """Indices (B, npoint) int64 of farthest point sampling, starting at index 0.

    backend: "auto" or "cuda" (the reference kernel's result, module
    docstring: numba kernel, torch loop without numba), "torch" (the same
    result by the torch loop), "fpsample" (fpsample's C++ FPS: first index on
    ties, no point skipped) or "bucket" (fpsample's QuickFPS: approximate,
    several times faster; its sequence is not prefix-consistent and need not
    start at index 0; clouds under :data:`BUCKET_MIN_POINTS` points, too few for
    its bucket tree, take the exact "torch" loop).
    """
    _check_xyz(xyz)
    B, N, _ = xyz.shape
    if not 0 < npoint <= N:
        raise ValueError(f"cannot sample {npoint} points from {N}")
    if backend == "bucket" and N < BUCKET_MIN_POINTS:
        backend = "torch"
    if backend in ("auto", "cuda"):
        return _fps_cuda(xyz, npoint)
    if backend == "torch":
        pts = xyz.detach().to("cpu", torch.float32)
        order = torch.from_numpy(fps_tie_order(N))
        out = torch.stack([_fps_cuda_torch(pts[b][order].T.contiguous(), pts[b, 0], order, npoint)
                           for b in range(B)])
        return out.to(xyz.device)
    if backend in ("fpsample", "bucket"):
        if _fpsample is None:
            raise ValueError("fpsample is not installed; use backend='cuda'")
        pts = xyz.detach().to("cpu", torch.float32).numpy()
        if backend == "fpsample":
            out = np.stack([_fpsample.fps_sampling(p, npoint, start_idx=0) for p in pts])
        else:
            h = int(np.clip(np.log2(max(N, 2)) - 8, 3, 7))
            out = np.stack([_fpsample.bucket_fps_kdline_sampling(p, npoint, h=h, start_idx=0) for p in pts])
        return torch.from_numpy(out.astype(np.int64)).to(xyz.device)
    raise ValueError(f"unknown FPS backend '{backend}'; use auto, cuda, torch, fpsample or bucket")


def farthest_point_sample_naive(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Textbook FPS in loops (float64, first index on ties, no point skipped):
    the twin of the "fpsample" backend."""
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


def farthest_point_sample_cuda_naive(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """The reference kernel ``furthest_point_sampling_kernel`` simulated
    literally: T threads with strided loops, then the shared-memory tree
    reduction with ``__update`` (float32 throughout, numpy scalars)."""
    f32 = np.float32
    B, N, _ = xyz.shape
    threads = cuda_threads(N)
    out = torch.zeros(B, npoint, dtype=torch.long)
    for b in range(B):
        pts = xyz[b].to(torch.float32).numpy()
        temp = [f32(1e10)] * N
        old = 0
        for j in range(1, npoint):
            x1, y1, z1 = pts[old]
            dists, dists_i = [f32(0)] * threads, [0] * threads
            for tid in range(threads):
                besti, best = 0, f32(-1)
                for k in range(tid, N, threads):
                    x2, y2, z2 = pts[k]
                    mag = (x2 * x2) + (y2 * y2) + (z2 * z2)
                    if float(mag) <= 1e-3:
                        continue
                    d = (x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1) + (z2 - z1) * (z2 - z1)
                    d2 = min(d, temp[k])
                    temp[k] = d2
                    besti = k if d2 > best else besti
                    best = d2 if d2 > best else best
                dists[tid], dists_i[tid] = best, besti
            stride = threads // 2
            while stride >= 1:
                for tid in range(stride):  # __update(dists, dists_i, tid, tid + stride)
                    v1, v2 = dists[tid], dists[tid + stride]
                    i1, i2 = dists_i[tid], dists_i[tid + stride]
                    dists[tid] = max(v1, v2)
                    dists_i[tid] = i2 if v2 > v1 else i1
                stride //= 2
            old = dists_i[0]
            out[b, j] = old
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


# ---------------------------------------------------------------------------
# Uniform grid for exact first-k-in-index-order neighbour queries
# ---------------------------------------------------------------------------
def _grid_build_py(pts: np.ndarray, cell: float):
    """Bucket points (N, 3) float32 into cubic cells of side ``cell`` (m).

    Returns (lo (3,), dims (3,), keys (N,) sorted cell keys, order (N,) point
    indices sorted by cell, in index order inside a cell).
    """
    n = pts.shape[0]
    lo = np.empty(3)
    dims = np.empty(3, dtype=np.int64)
    for a in range(3):
        lo[a] = pts[:, a].min()
        dims[a] = np.int64(np.floor((pts[:, a].max() - lo[a]) / cell)) + 1
    keys = np.empty(n, dtype=np.int64)
    for i in range(n):
        ix = np.int64(np.floor((pts[i, 0] - lo[0]) / cell))
        iy = np.int64(np.floor((pts[i, 1] - lo[1]) / cell))
        iz = np.int64(np.floor((pts[i, 2] - lo[2]) / cell))
        keys[i] = (ix * dims[1] + iy) * dims[2] + iz
    order = np.argsort(keys, kind="mergesort")
    return lo, dims, keys[order], order


def _grid_candidates_py(c0: float, c1: float, c2: float, lo: np.ndarray, dims: np.ndarray, cell: float,
                        keys: np.ndarray, order: np.ndarray, out: np.ndarray) -> int:
    """Indices of the points in the 27 cells around (c0, c1, c2) into out; returns their count."""
    cnt = 0
    cx = np.int64(np.floor((c0 - lo[0]) / cell))
    cy = np.int64(np.floor((c1 - lo[1]) / cell))
    cz = np.int64(np.floor((c2 - lo[2]) / cell))
    for ix in range(max(cx - 1, 0), min(cx + 2, dims[0])):
        for iy in range(max(cy - 1, 0), min(cy + 2, dims[1])):
            for iz in range(max(cz - 1, 0), min(cz + 2, dims[2])):
                key = (ix * dims[1] + iy) * dims[2] + iz
                s = np.searchsorted(keys, key)
                while s < keys.shape[0] and keys[s] == key:
                    out[cnt] = order[s]
                    cnt += 1
                    s += 1
    return cnt


def _ball_query_py(pts: np.ndarray, ctr: np.ndarray, radius: float, nsample: int, out: np.ndarray) -> None:
    """Reference ``query_ball_point_kernel`` on one batch element: pts (N, 3),
    ctr (M, 3) float32; out (M, nsample) int64, zero-initialised."""
    r = np.float32(radius)
    r2 = r * r
    cell = float(radius) * 1.001 + 1e-6  # every point with d2 < r2 lies in the 27 cells
    lo, dims, keys, order = _grid_build(pts, cell)
    buf = np.empty(pts.shape[0], dtype=np.int64)
    for j in range(ctr.shape[0]):
        nx, ny, nz = ctr[j, 0], ctr[j, 1], ctr[j, 2]
        cand = _grid_candidates(nx, ny, nz, lo, dims, cell, keys, order, buf)
        found = np.empty(cand, dtype=np.int64)
        cnt = 0
        for q in range(cand):
            k = buf[q]
            d2 = (nx - pts[k, 0]) * (nx - pts[k, 0]) + (ny - pts[k, 1]) * (ny - pts[k, 1]) \
                + (nz - pts[k, 2]) * (nz - pts[k, 2])
            if d2 < r2:
                found[cnt] = k
                cnt += 1
        if cnt == 0:
            continue
        found = np.sort(found[:cnt])
        for q in range(nsample):
            out[j, q] = found[q] if q < cnt else found[0]


if numba is not None:
    _grid_build = numba.njit(cache=True, nogil=True)(_grid_build_py)
    _grid_candidates = numba.njit(cache=True, nogil=True)(_grid_candidates_py)
    _ball_query_kernel = numba.njit(cache=True, nogil=True)(_ball_query_py)
else:  # pragma: no cover - exercised where numba is not installed
    _grid_build = _grid_candidates = _ball_query_kernel = None


def _as_f32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())


#: Centres per thread below which a query kernel runs on one thread.
MIN_ROWS_PER_THREAD = 256
_POOL: list = []


def run_rows(call, rows: int) -> None:
    """Run ``call(rows_slice)`` over ``rows`` centres split into contiguous blocks, one per torch
    thread, in parallel: the numba kernels release the GIL and each centre's result is its own row,
    so the output is identical to one call over every row."""
    n = max(1, min(torch.get_num_threads(), rows // MIN_ROWS_PER_THREAD))
    if n == 1:
        call(slice(0, rows))
        return
    if not _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="pointops"))
    edges = np.linspace(0, rows, n + 1).astype(np.int64)
    for f in [_POOL[0].submit(call, slice(int(a), int(b))) for a, b in zip(edges[:-1], edges[1:])]:
        f.result()


# ---------------------------------------------------------------------------
# Ball query and grouping
# ---------------------------------------------------------------------------
def _sq_dist_direct(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, M, 3) x (B, N, 3) -> (B, M, N) squared distances by direct
    differences, (dx^2 + dy^2) + dz^2 in the inputs' dtype (the kernels' sum)."""
    d = None
    for c in range(3):
        diff = a[..., c].unsqueeze(-1) - b[..., c].unsqueeze(1)
        d = diff * diff if d is None else d + diff * diff
    return d


def ball_query(xyz: torch.Tensor, centers: torch.Tensor, radius: float, nsample: int) -> torch.Tensor:
    """(B, M, nsample) indices into xyz (B, N, 3) of points within ``radius`` (m)
    of each centre (B, M, 3); the reference kernel's result (module docstring).

    float32 input runs the numba grid kernel when numba is installed (exact
    first-k in index order, any number of points per ball); other dtypes, or
    no numba, a blocked brute force in the input dtype with the same rules.
    """
    _check_xyz(xyz)
    _check_xyz(centers, "centers")
    B, M, _ = centers.shape
    N = xyz.shape[1]
    xyz, centers = xyz.detach(), centers.detach()
    if _ball_query_kernel is not None and xyz.dtype == torch.float32 and N > 0:
        out = np.zeros((B, M, nsample), dtype=np.int64)
        pts, ctr = _as_f32(xyz), _as_f32(centers)
        for b in range(B):
            run_rows(lambda s: _ball_query_kernel(pts[b], ctr[b, s], float(radius), nsample, out[b, s]), M)
        return torch.from_numpy(out).to(xyz.device)
    step = max(1, _BLOCK_ELEMENTS // max(1, B * N))
    r = torch.tensor(radius, dtype=xyz.dtype)
    r2 = r * r
    parts = []
    for s in range(0, M, step):
        d2 = _sq_dist_direct(centers[:, s:s + step], xyz)
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
    """The kernel's loop: for each centre, scan every point in index order,
    squared distance by direct differences in the input dtype, below r^2."""
    B, M, _ = centers.shape
    out = torch.zeros(B, M, nsample, dtype=torch.long)
    for b in range(B):
        pts, ctr = xyz[b].numpy(), centers[b].numpy()
        r = pts.dtype.type(radius)
        for m in range(M):
            nx, ny, nz = ctr[m]
            cnt = 0
            for k in range(pts.shape[0]):
                if cnt == nsample:
                    break
                x, y, z = pts[k]
                if (nx - x) * (nx - x) + (ny - y) * (ny - y) + (nz - z) * (nz - z) < r * r:
                    if cnt == 0:
                        out[b, m, :] = k
                    out[b, m, cnt] = k
                    cnt += 1
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
def _three_nn_py(unk: np.ndarray, kn: np.ndarray, dist2: np.ndarray, idx: np.ndarray) -> None:
    """Reference ``three_nn_kernel`` on one batch element (float32 in)."""
    for j in range(unk.shape[0]):
        ux, uy, uz = unk[j, 0], unk[j, 1], unk[j, 2]
        best1 = best2 = best3 = 1e40
        besti1 = besti2 = besti3 = 0
        for k in range(kn.shape[0]):
            x, y, z = kn[k, 0], kn[k, 1], kn[k, 2]
            d = (ux - x) * (ux - x) + (uy - y) * (uy - y) + (uz - z) * (uz - z)
            if d < best1:
                best3, besti3 = best2, besti2
                best2, besti2 = best1, besti1
                best1, besti1 = d, k
            elif d < best2:
                best3, besti3 = best2, besti2
                best2, besti2 = d, k
            elif d < best3:
                best3, besti3 = d, k
        dist2[j, 0], dist2[j, 1], dist2[j, 2] = best1, best2, best3
        idx[j, 0], idx[j, 1], idx[j, 2] = besti1, besti2, besti3


_three_nn_kernel = numba.njit(cache=True, nogil=True)(_three_nn_py) if numba is not None else None


def three_nn(unknown: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Three nearest known points (B, m, 3) of each unknown point (B, n, 3).

    Returns dist (B, n, 3) in metres (ascending; equal distances in index
    order) and idx (B, n, 3) int64: the reference kernel's result, squared
    distances by direct differences (a target equal to a known point gets
    exactly 0), then the square root.
    """
    _check_xyz(unknown, "unknown")
    _check_xyz(known, "known")
    if known.shape[1] < 3:
        raise ValueError(f"three_nn needs at least 3 known points, got {known.shape[1]}")
    unknown, known = unknown.detach(), known.detach()
    B, n, _ = unknown.shape
    if _three_nn_kernel is not None and unknown.dtype == torch.float32 and known.dtype == torch.float32:
        dist2 = np.zeros((B, n, 3), dtype=np.float32)
        idx = np.zeros((B, n, 3), dtype=np.int64)
        u, k = _as_f32(unknown), _as_f32(known)
        for b in range(B):
            _three_nn_kernel(u[b], k[b], dist2[b], idx[b])
        # np.sqrt is correctly rounded like CUDA's sqrtf (torch's CPU float32 sqrt can be off by one ulp)
        return torch.from_numpy(np.sqrt(dist2)).to(unknown.device), torch.from_numpy(idx).to(unknown.device)
    step = max(1, _BLOCK_ELEMENTS // max(1, B * known.shape[1]))
    dists, idxs = [], []
    for s in range(0, n, step):
        d2, i = torch.sort(_sq_dist_direct(unknown[:, s:s + step], known), dim=-1, stable=True)
        dists.append(d2[..., :3])
        idxs.append(i[..., :3])
    dist2 = torch.cat(dists, dim=1)
    return dist2.double().sqrt().to(dist2.dtype), torch.cat(idxs, dim=1)  # correctly rounded


def three_nn_naive(unknown: torch.Tensor, known: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel's loop: direct differences summed left to right in the
    input dtype; a strictly smaller distance displaces (equal ones keep index order)."""
    B, n, _ = unknown.shape
    dist = torch.zeros(B, n, 3, dtype=unknown.dtype)
    idx = torch.zeros(B, n, 3, dtype=torch.long)
    for b in range(B):
        u, kn = unknown[b].numpy(), known[b].numpy()
        for i in range(n):
            best = [(math.inf, 0)] * 3
            for j in range(kn.shape[0]):
                d = (u[i, 0] - kn[j, 0]) ** 2 + (u[i, 1] - kn[j, 1]) ** 2 + (u[i, 2] - kn[j, 2]) ** 2
                pos = next((p for p in range(3) if d < best[p][0]), None)
                if pos is not None:
                    best = best[:pos] + [(d, j)] + best[pos:2]
            for k in range(3):
                dist[b, i, k], idx[b, i, k] = float(np.sqrt(best[k][0])), best[k][1]
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
