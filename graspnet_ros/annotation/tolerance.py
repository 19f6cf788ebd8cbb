"""Grasp-affinity-field tolerance labels (paper section 4.4).

The reference (graspnet-baseline ``dataset/generate_tolerance_label.py``)
defines, for grasp point i of an object and each (view, angle, depth) bin:

* radii r = 0, step, 2 step, ..., radius (0 to 0.05 m by 1 mm);
* the ball B_i(r) = grasp points j with |p_j - p_i| <= r (i itself included);
* a point is positive in a bin when 0 < mu <= mu_thresh (0.55, i.e. score
  s = 1.1 - mu > 0.5 with the 0.1 grid);
* the bin passes at r when at least ratio (0.8) of B_i(r) is positive;
* radii are visited in increasing order; the bins passing at r get
  tolerance r; the scan of point i stops at the first radius where no bin
  of i passes (so a bin's tolerance is the largest passing radius before
  that stop, not necessarily a contiguous run from 0).

Here the same rule is evaluated with sparse matrices: the pairs of grasp
points are binned by the first radius that contains them (rings), so the
positive counts of every ball grow by one sparse product (ring x sparse
positives) per radius, for a block of grasp points at a time (memory:
block x bins floats). Bins that are never positive anywhere on the object
cannot pass and are skipped. :func:`tolerance_naive` is the per-point transcription used by
the tests.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

try:  # optional accelerator (numba==0.68.1); the numpy path gives the same labels
    import numba
except ImportError:  # pragma: no cover
    numba = None

#: grasp points per block of the vectorised scan
BLOCK = 256


def tolerance_radii(radius: float = 0.05, step: float = 0.001) -> np.ndarray:
    """(R,) radii 0, step, ..., radius (m), computed as the reference does (step * k)."""
    count = int(round(radius / step)) + 1
    return np.array([step * k for k in range(count)])


def positive_mask(scores: np.ndarray, mu_thresh: float = 0.55) -> np.ndarray:
    """Bins counted as robust: a force-closure label with 0 < mu <= mu_thresh."""
    return (scores > 0) & (scores <= mu_thresh)


def tolerance_labels(points: np.ndarray, scores: np.ndarray, radius: float = 0.05,
                     step: float = 0.001, mu_thresh: float = 0.55, ratio: float = 0.8,
                     block: int = BLOCK, compiled: bool = True) -> np.ndarray:
    """Tolerance (m) of every candidate: (Np, V, A, D) float32.

    points: (Np, 3) grasp points (m) of one object; scores: (Np, V, A, D)
    friction labels (smallest mu, -1 invalid). ``compiled`` uses the numba
    kernel when numba is installed (same result).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    scores = np.asarray(scores)
    if scores.shape[0] != len(points):
        raise ValueError(f"scores has {scores.shape[0]} rows but there are {len(points)} grasp points")
    n = len(points)
    bin_shape = scores.shape[1:]
    out = np.zeros(scores.shape, dtype=np.float32)
    if n == 0:
        return out
    positive = positive_mask(scores.reshape(n, -1), mu_thresh)
    columns = np.flatnonzero(positive.any(axis=0))
    if len(columns) == 0:
        return out
    radii = tolerance_radii(radius, step)
    if compiled and numba is not None:
        pos = sparse.csr_matrix(positive[:, columns])
        tree = cKDTree(points)
        dist, idx = _sorted_neighbours(tree, points, radii[-1])
        tol = np.zeros((n, len(columns)), dtype=np.float32)
        _tolerance_kernel(dist, idx, radii, pos.indptr.astype(np.int64),
                          pos.indices.astype(np.int64), float(ratio), tol)
        out.reshape(n, -1)[:, columns] = tol
        return out
    pos = sparse.csr_matrix(positive[:, columns], dtype=np.float32)
    # all ordered pairs within the largest radius, self pairs included, with their ring index
    tree = cKDTree(points)
    pairs = tree.query_pairs(radii[-1] + 1e-12, output_type="ndarray").reshape(-1, 2)
    dist = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1)
    keep = dist <= radii[-1]
    rows = np.concatenate([pairs[keep, 0], pairs[keep, 1], np.arange(n)])
    cols = np.concatenate([pairs[keep, 1], pairs[keep, 0], np.arange(n)])
    ring = np.concatenate([np.searchsorted(radii, dist[keep], side="left")] * 2
                          + [np.zeros(n, dtype=np.int64)])
    flat = out.reshape(n, -1)
    for start in range(0, n, block):
        stop = min(start + block, n)
        in_block = (rows >= start) & (rows < stop)
        b_rows, b_cols, b_ring = rows[in_block] - start, cols[in_block], ring[in_block]
        counts = np.zeros((stop - start, len(columns)), dtype=np.float32)
        size = np.zeros(stop - start, dtype=np.float32)
        tol = np.zeros((stop - start, len(columns)), dtype=np.float32)
        alive = np.ones(stop - start, dtype=bool)
        for k, r in enumerate(radii):
            sel = (b_ring == k) & alive[b_rows]
            if sel.any():
                ring_k = sparse.csr_matrix((np.ones(int(sel.sum()), dtype=np.float32),
                                            (b_rows[sel], b_cols[sel])), shape=(stop - start, n))
                added = (ring_k @ pos).tocoo()
                counts[added.row, added.col] += added.data
                size += np.bincount(b_rows[sel], minlength=stop - start)
            live = np.flatnonzero(alive)
            passing = counts[live] / size[live, None] >= ratio
            has = passing.any(axis=1)
            alive[live[~has]] = False
            if not has.any():
                break
            live, passing = live[has], passing[has]
            sub = tol[live]
            sub[passing] = r
            tol[live] = sub
        flat[start:stop, columns] = tol
    return out.reshape((n,) + bin_shape)


def _sorted_neighbours(tree: cKDTree, points: np.ndarray, radius: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(Np, K) distances and indices of every point's neighbours within ``radius``,
    nearest first (self included), padded with inf / -1."""
    counts = tree.query_ball_point(points, radius + 1e-12, return_length=True)
    k = int(counts.max())
    dist, idx = tree.query(points, k=k, distance_upper_bound=radius + 1e-12)
    dist, idx = dist.reshape(len(points), k), idx.reshape(len(points), k)
    # exact distances (the tree's are computed the same way, but be explicit)
    valid = idx < len(points)
    exact = np.full(dist.shape, np.inf)
    exact[valid] = np.linalg.norm(points[idx[valid]] - np.repeat(points, valid.sum(1), 0), axis=1)
    return exact, np.where(valid, idx, -1)


def _tolerance_kernel_py(dist, idx, radii, pos_indptr, pos_indices, ratio, tol):
    """Per grasp point: grow the ball radius by radius, count positives per bin, stop at
    the first radius where no bin passes (float64 ratios, as the reference's mean)."""
    n, kmax = dist.shape
    nbins = tol.shape[1]
    counts = np.zeros(nbins, dtype=np.int64)
    for i in range(n):
        counts[:] = 0
        size = 0
        nxt = 0
        for r in radii:
            while nxt < kmax and idx[i, nxt] >= 0 and dist[i, nxt] <= r:
                j = idx[i, nxt]
                for p in range(pos_indptr[j], pos_indptr[j + 1]):
                    counts[pos_indices[p]] += 1
                size += 1
                nxt += 1
            passing = False
            for c in range(nbins):
                if counts[c] > 0 and counts[c] / size >= ratio:
                    tol[i, c] = r
                    passing = True
            if not passing:
                break


_tolerance_kernel = (numba.njit(cache=True, nogil=True)(_tolerance_kernel_py) if numba is not None
                     else _tolerance_kernel_py)


def tolerance_naive(points: np.ndarray, scores: np.ndarray, radius: float = 0.05,
                    step: float = 0.001, mu_thresh: float = 0.55, ratio: float = 0.8) -> np.ndarray:
    """The reference rule transcribed point by point (slow; for tests)."""
    points = np.asarray(points, dtype=np.float64)
    dists = np.linalg.norm(points[:, None] - points[None], axis=2)
    out = np.zeros(scores.shape, dtype=np.float32)
    for i in range(len(points)):
        for r in tolerance_radii(radius, step):
            ball = scores[dists[i] <= r]
            frac = ((ball > 0) & (ball <= mu_thresh)).mean(axis=0)
            passing = frac >= ratio
            if not passing.any():
                break
            out[i][passing] = r
    return out
