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

from .pointops import (_BLOCK_ELEMENTS, _as_f32, _grid_build, _grid_candidates, first_k, knn_candidates, numba,
                       run_rows)


def viewpoint_to_rotation(approach: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Torch twin of :func:`graspnet_ros.grasp.rotation_from_approach`, in the
    operation order of graspnet-baseline's ``batch_viewpoint_params_to_matrix``
    (so float32 input gives its float32 matrices).

    approach: (..., 3) approach vectors (need not be unit); angle: (...)
    in-plane angles (rad). Returns (..., 3, 3) with columns x = approach,
    y = jaw axis, z = x cross y; y at angle 0 is (-a_y, a_x, 0) normalised,
    (0, 1, 0) for a vertical approach.
    """
    zeros = torch.zeros_like(approach[..., 0])
    y = torch.stack([-approach[..., 1], approach[..., 0], zeros], dim=-1)
    vertical = (torch.linalg.vector_norm(y, dim=-1) == 0).unsqueeze(-1)
    y = torch.where(vertical, torch.stack([y[..., 0], torch.ones_like(zeros), zeros], dim=-1), y)
    x = approach / torch.linalg.vector_norm(approach, dim=-1, keepdim=True)
    y = y / torch.linalg.vector_norm(y, dim=-1, keepdim=True)
    z = torch.cross(x, y, dim=-1)
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    rx = torch.stack([one, zero, zero, zero, c, -s, zero, s, c], dim=-1).view(*c.shape, 3, 3)
    return torch.stack([x, y, z], dim=-1) @ rx


def _cylinder_query_py(pts: np.ndarray, ctr: np.ndarray, rot: np.ndarray, radius: float, hmin: float,
                       hmaxs: np.ndarray, nsample: int, out: np.ndarray) -> None:
    """Reference ``query_cylinder_point_kernel`` for every hmax of ``hmaxs`` on
    one batch element: pts (N, 3), ctr (M, 3), rot (M, 3, 3) float32; out
    (M, D, nsample) int64, zero-initialised. Candidates come from a uniform
    grid whose 27 cells around a centre hold every point of the tallest
    cylinder; the kernel's float32 test picks members, then index order."""
    r = np.float32(radius)
    r2 = r * r
    h0 = np.float32(hmin)
    hm = hmaxs.astype(np.float32)
    htop = hm.max()
    reach = np.sqrt(radius * radius + max(hmin * hmin, float(htop) * float(htop)))
    cell = reach * 1.001 + 1e-6
    lo, dims, keys, order = _grid_build(pts, cell)
    buf = np.empty(pts.shape[0], dtype=np.int64)
    D = hm.shape[0]
    for j in range(ctr.shape[0]):
        nx, ny, nz = ctr[j, 0], ctr[j, 1], ctr[j, 2]
        R = rot[j]
        cand = _grid_candidates(nx, ny, nz, lo, dims, cell, keys, order, buf)
        found = np.empty(cand, dtype=np.int64)
        lx = np.empty(cand, dtype=np.float32)
        cnt = 0
        for q in range(cand):
            k = buf[q]
            x = pts[k, 0] - nx
            y = pts[k, 1] - ny
            z = pts[k, 2] - nz
            x_rot = R[0, 0] * x + R[1, 0] * y + R[2, 0] * z
            y_rot = R[0, 1] * x + R[1, 1] * y + R[2, 1] * z
            z_rot = R[0, 2] * x + R[1, 2] * y + R[2, 2] * z
            d2 = y_rot * y_rot + z_rot * z_rot
            if d2 < r2 and x_rot > h0 and x_rot < htop:
                found[cnt] = k
                lx[cnt] = x_rot
                cnt += 1
        srt = np.argsort(found[:cnt])
        for d in range(D):
            got = 0
            for q in srt:
                if lx[q] < hm[d]:
                    if got == 0:
                        out[j, d, :] = found[q]
                    out[j, d, got] = found[q]
                    got += 1
                    if got == nsample:
                        break


def _gather_max_py(feats: np.ndarray, index: np.ndarray, out: np.ndarray) -> None:
    """out[r, c] = max over k of feats[index[r, k], c]: feats (P, C), index (R, K), out (R, C) float32."""
    for r in range(index.shape[0]):
        row = feats[index[r, 0]]
        for c in range(feats.shape[1]):
            out[r, c] = row[c]
        for k in range(1, index.shape[1]):
            row = feats[index[r, k]]
            for c in range(feats.shape[1]):
                if row[c] > out[r, c]:
                    out[r, c] = row[c]


if numba is not None:
    _cylinder_query_kernel = numba.njit(cache=True, nogil=True)(_cylinder_query_py)
    _gather_max_kernel = numba.njit(cache=True, nogil=True)(_gather_max_py)
else:  # pragma: no cover - exercised where numba is not installed
    _cylinder_query_kernel = _gather_max_kernel = None


def gather_max(feats: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(R, C) max over K of ``feats[index]`` for feats (P, C) and index (R, K): the max-pooling of
    gathered rows without the (R, K, C) intermediate (numba, a thread per block of rows) when no
    gradient is needed, else ``feats[index].amax(1)``. Identical values either way (a max)."""
    if (_gather_max_kernel is None or feats.dtype != torch.float32 or feats.requires_grad
            or index.shape[1] == 0 or feats.device.type != "cpu"):
        return feats[index].amax(dim=1)
    f = feats.detach().contiguous().numpy()
    idx = index.detach().contiguous().numpy()
    out = np.empty((idx.shape[0], f.shape[1]), dtype=np.float32)
    run_rows(lambda s: _gather_max_kernel(f, idx[s], out[s]), idx.shape[0])
    return torch.from_numpy(out)


def _local_coords_f32(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor) -> torch.Tensor:
    """(B, m, N, 3) kernel-order local coordinates: x = p - c, then
    x_rot = (r0 x + r3 y) + r6 z etc. (r row-major), in the inputs' dtype."""
    diff = xyz.unsqueeze(1) - centers.unsqueeze(2)  # (B, m, N, 3)
    x, y, z = diff[..., 0], diff[..., 1], diff[..., 2]
    cols = []
    for c in range(3):
        r = rot[..., c].unsqueeze(-1)  # column c: (B, m, 3, 1)
        cols.append(r[:, :, 0] * x + r[:, :, 1] * y + r[:, :, 2] * z)
    return torch.stack(cols, dim=-1)


def cylinder_query(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor, radius: float,
                   hmin: float, hmaxs: tuple[float, ...], nsample: int) -> torch.Tensor:
    """Indices (B, M, D, nsample) of cloud points xyz (B, N, 3) inside each
    seed's cylinder for every depth bin hmax in ``hmaxs`` (D values, m): the
    reference kernel's result for each hmax, whatever the number of points
    in a cylinder (no cap).

    centers: (B, M, 3); rot: (B, M, 3, 3) approach frames (columns). float32
    input runs the numba grid kernel when numba is installed; other dtypes,
    or no numba, a blocked brute force over the whole cloud with the same
    arithmetic (the kernel's float32 expression order in the input dtype).
    """
    if xyz.ndim != 3 or centers.ndim != 3 or rot.shape[:2] != centers.shape[:2] or rot.shape[-2:] != (3, 3):
        raise ValueError(f"cylinder_query: xyz (B,N,3), centers (B,M,3), rot (B,M,3,3) expected, got "
                         f"{tuple(xyz.shape)}, {tuple(centers.shape)}, {tuple(rot.shape)}")
    xyz, centers, rot = xyz.detach(), centers.detach(), rot.detach()
    B, M, _ = centers.shape
    N = xyz.shape[1]
    D = len(hmaxs)
    if _cylinder_query_kernel is not None and xyz.dtype == torch.float32 and N > 0:
        out = np.zeros((B, M, D, nsample), dtype=np.int64)
        pts, ctr = _as_f32(xyz), _as_f32(centers)
        rt = _as_f32(rot)
        hm = np.asarray(hmaxs, dtype=np.float64)
        for b in range(B):
            run_rows(lambda s: _cylinder_query_kernel(pts[b], ctr[b, s], rt[b, s], float(radius), float(hmin), hm,
                                                      nsample, out[b, s]), M)
        return torch.from_numpy(out).to(xyz.device)
    dt = xyz.dtype
    r = torch.tensor(radius, dtype=dt)
    hmax_t = torch.tensor(hmaxs, dtype=dt).view(1, 1, -1, 1)
    step = max(1, _BLOCK_ELEMENTS // max(1, 4 * B * N))
    parts = []
    for s in range(0, M, step):
        loc = _local_coords_f32(xyz, centers[:, s:s + step], rot[:, s:s + step])
        inside = ((loc[..., 1] * loc[..., 1] + loc[..., 2] * loc[..., 2]) < r * r) \
            & (loc[..., 0] > torch.tensor(hmin, dtype=dt))
        mask = inside.unsqueeze(2) & (loc[..., 0].unsqueeze(2) < hmax_t)  # (B, m, D, N)
        parts.append(first_k(mask, nsample)[0])
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


def cylinder_crop_pooled(mlp, xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor, radius: float,
                         hmin: float, hmaxs: tuple[float, ...], nsample: int, search: str = "exact") -> torch.Tensor:
    """``mlp(cylinder_crop(...)).amax(dim=3)`` with the point-wise ``mlp`` run
    once per distinct (seed, point) pair: (B, M, D, C) channels-last.

    The D nested crops of a seed and their padding repeat points (on average
    a seed's 4 x 64 slots hold about 80 distinct points), and a point-wise MLP
    gives a repeated point the same features, so the max over each crop is
    unchanged while the MLP does about a third of the work.
    """
    query = cylinder_query_kdtree if search in ("kdtree", "knn") else cylinder_query
    idx = query(xyz, centers, rot, radius, hmin, hmaxs, nsample)  # (B, M, D, K)
    B, M, D, K = idx.shape
    N = xyz.shape[1]
    # distinct points of each seed: sort its D x K slots, keep first occurrences
    flat = idx.reshape(B * M, D * K)
    srt, order = flat.sort(dim=1)
    first = torch.ones_like(srt, dtype=torch.bool)
    first[:, 1:] = srt[:, 1:] != srt[:, :-1]
    counts = first.sum(dim=1)
    row = (counts.cumsum(0) - counts).unsqueeze(1) + first.cumsum(dim=1) - 1  # feature row of each sorted slot
    inverse = torch.empty_like(flat).scatter_(1, order, row)  # (B*M, D*K)
    seed = torch.repeat_interleave(torch.arange(B * M, device=idx.device), counts)  # (P,)
    pts = xyz.reshape(B * N, 3)[(seed // M) * N + srt[first]]  # (P, 3)
    local = ((pts - centers.reshape(B * M, 3)[seed]).unsqueeze(1) @ rot.reshape(B * M, 3, 3)[seed]).squeeze(1)
    feats = mlp(local)  # (P, C)
    inverse = inverse.view(B * M, D, K)
    C = feats.shape[-1]
    return gather_max(feats, inverse.reshape(B * M * D, K)).view(B, M, D, C)


def cylinder_query_naive(xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor, radius: float,
                         hmin: float, hmaxs: tuple[float, ...], nsample: int) -> torch.Tensor:
    """The kernel's loop, once per hmax: scan every point in index order,
    x = p - c, x_rot = r0 x + r3 y + r6 z, ... in the input dtype, stop at nsample."""
    B, M, _ = centers.shape
    out = torch.zeros(B, M, len(hmaxs), nsample, dtype=torch.long)
    for b in range(B):
        pts, ctr, rt = xyz[b].numpy(), centers[b].numpy(), rot[b].reshape(M, 9).numpy()
        f = pts.dtype.type
        for d, hmax in enumerate(hmaxs):
            for m in range(M):
                r0, r1, r2, r3, r4, r5, r6, r7, r8 = rt[m]
                cnt = 0
                for k in range(pts.shape[0]):
                    if cnt == nsample:
                        break
                    x, y, z = pts[k] - ctr[m]
                    x_rot = r0 * x + r3 * y + r6 * z
                    y_rot = r1 * x + r4 * y + r7 * z
                    z_rot = r2 * x + r5 * y + r8 * z
                    if y_rot * y_rot + z_rot * z_rot < f(radius) * f(radius) and f(hmin) < x_rot < f(hmax):
                        if cnt == 0:
                            out[b, m, d, :] = k
                        out[b, m, d, cnt] = k
                        cnt += 1
    return out
