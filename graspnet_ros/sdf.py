"""Object signed distance fields as dex-net builds and reads them, and the
reference evaluator's contact search and contact normals on them.

The reference evaluator (graspnetAPI 1.2.11, ``eval_utils.eval_grasp`` with
dex-net's ``ParallelJawPtGrasp3D.close_fingers`` and ``Sdf3D``) decides
friction labels on each object's ``textured.sdf``. This module reproduces,
vectorised with numpy and in float64 where the reference computes in
float64:

* **The grid** (:func:`build_sdf`), as dex-net's SDFGen fork writes it:
  ``dim`` x ``dim`` x ``dim`` nodes (dex-net: 100), cell ``dx`` = the largest
  side of the mesh's bounding box / (dim - 2 padding) (padding 5), the cube
  centred on the box; origin, cell and values computed in float32 and
  written with 6 significant digits (what dex-net then reads back). The sign
  is SDFGen's: parity of the mesh crossings of the grid line along +x
  before each node (negative = inside). The distances are SDFGen's own
  (``make_level_set3``, float32 as compiled without FMA): exact within one
  cell of each triangle's bounding box, the rest by two passes of fast
  sweeping in its eight orders (each node takes a neighbour's closest
  triangle when nearer), compiled with numba. Checked against SDFGen itself
  (jeffmahler/SDFGen built from source) on the 7 models of the ``tiny``
  preset: every one of the 10^6 values, the origin and the cell are equal.
  The mesh is taken as vertices and faces: SDFGen's own OBJ reader takes
  every line starting with 'v' (also 'vn', 'vt') for a vertex, so dex-net
  feeds it OBJ files of vertices and faces only.
* **Reading** (:class:`GridSdf`): points go to grid coordinates through
  float32 as dex-net's transforms do; values are trilinear in dex-net's
  corner order and summation order, a corner past the grid counts as 0, a
  point past the grid is "far" (+inf here; dex-net estimates a distance from
  1000 random surface nodes, always above the surface threshold since every
  surface node lies ``padding`` cells inside the grid).
* **Surface normals** (:meth:`GridSdf.surface_normals`): dex-net's 27-point
  pattern (the point and its 26 neighbours of a 3 x 3 x 3 block pushed out to
  1.5 cells, along the grid axes), keeping the points whose |value| is under
  the surface threshold ``cell * sqrt(2) / 2``; the normal is the direction of
  least spread of those points (the last left singular vector of dex-net's
  SVD). None (NaN here) where the point itself is not on the surface.
* **Contacts** (:func:`close_jaws`): each jaw marches from ``c -+ (w/2) y``
  to ``c`` in ``max(3, int(w / cell))`` evenly spaced samples; the first
  sample on the surface whose quadratic zero-crossing fit (three samples
  along the line) succeeds is the contact. The fit fails, and the march goes
  on, when the next sample's |value| is smaller, when the quadratic
  coefficient is under 1e-10 (flat faces, where the interpolated SDF is
  linear along the jaw) or when the crossing lies more than one parameter
  unit from the fit's first sample. A contact whose zero crossing is off the
  surface, or has no normal, is no contact.

Frames and units: meshes, points and normals are in the object (mesh) frame,
metres; grid coordinates are in cells from the grid's first node.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

#: dex-net's SDFGen parameters: nodes per side, cells of padding around the mesh's box.
SDF_DIM = 100
SDF_PADDING = 5
#: Radius (cells) of dex-net's surface-normal pattern.
NORMAL_DELTA = 1.5
#: Line-of-action samples per grid cell (dex-net ``Grasp.samples_per_grid``).
SAMPLES_PER_GRID = 2
#: |quadratic coefficient| under which the zero-crossing fit is rejected (flat faces).
FLAT_QUADRATIC = 1e-10
#: Largest |t| (line parameter, cells) of an accepted zero crossing.
CROSSING_EPS = 1.0
#: SDFGen's exact band: nodes within this many cells of a triangle's box get its exact distance.
SDFGEN_BAND = 1

#: dex-net's interpolation corners (Sdf3D.min/max_coords_*), in its order: offsets (8, 3).
_CORNERS = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                     [1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.int64)


def _pattern(delta: float = NORMAL_DELTA) -> np.ndarray:
    """(27, 3) offsets (cells) in dex-net's loop order (x slowest, z fastest):
    the 26 neighbours of a 3 x 3 x 3 block scaled to length ``delta``, the
    centre (index 13) left at 0."""
    steps = (-delta, 0.0, delta)
    out = []
    for dx in steps:
        for dy in steps:
            for dz in steps:
                d = np.array([dx, dy, dz])
                if dx != 0 or dy != 0 or dz != 0:
                    d = delta * d / np.linalg.norm(d)
                out.append(d)
    return np.array(out)


_PATTERN = _pattern()


def round_significant(values: np.ndarray, digits: int = 6) -> np.ndarray:
    """Values as C++'s default stream output prints them (``%g``, 6
    significant digits) and ``float()`` reads them back."""
    x = np.asarray(values, dtype=np.float64)
    out = np.zeros_like(x)
    nz = np.isfinite(x) & (x != 0)
    a = x[nz]
    exp = np.floor(np.log10(np.abs(a))).astype(np.int64)
    shift = digits - 1 - exp
    for sign in (True, False):  # divide by exact powers of ten where possible (as strtod rounds)
        m = (shift >= 0) if sign else (shift < 0)
        if not m.any():
            continue
        if sign:
            p = 10.0 ** shift[m]
            r = np.round(a[m] * p)
            a[m] = r / p
        else:
            p = 10.0 ** (-shift[m])
            a[m] = np.round(a[m] / p) * p
    out[nz] = a
    out[~np.isfinite(x)] = x[~np.isfinite(x)]
    return out


@dataclass
class GridSdf:
    """A dex-net SDF: values ``data[i, j, k]`` (metres, negative inside) at
    nodes ``origin + (i, j, k) * resolution`` of the object frame."""

    data: np.ndarray  # (nx, ny, nz) float64, m
    origin: np.ndarray  # (3,) m, object frame
    resolution: float  # m per cell

    def __post_init__(self) -> None:
        self.data = np.ascontiguousarray(self.data, dtype=np.float64)
        self.origin = np.asarray(self.origin, dtype=np.float64).reshape(3)
        self.resolution = float(self.resolution)
        if self.data.ndim != 3 or min(self.data.shape) < 2:
            raise ValueError(f"SDF data must be a 3-D grid of at least 2 nodes per side, got {self.data.shape}")
        if not (np.isfinite(self.resolution) and self.resolution > 0):
            raise ValueError(f"SDF resolution must be a positive length in metres, got {self.resolution}")
        self.dims = np.array(self.data.shape, dtype=np.int64)
        self._flat = self.data.reshape(-1)

    @property
    def surface_thresh(self) -> float:
        """|value| (m) under which a point counts as on the surface: cell * sqrt(2) / 2."""
        return self.resolution * np.sqrt(2) / 2

    # -- frames --------------------------------------------------------------
    def to_grid(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) object-frame points (m) -> grid coordinates (cells), through
        float32 as dex-net's ``transform_pt_obj_to_grid``."""
        p = np.asarray(points).astype(np.float32).astype(np.float64)
        return (p - self.origin) / self.resolution

    def to_object(self, coords: np.ndarray) -> np.ndarray:
        """(N, 3) grid coordinates (cells) -> object-frame points (m), through float32."""
        g = np.asarray(coords).astype(np.float32).astype(np.float64)
        return g * self.resolution + self.origin

    # -- values --------------------------------------------------------------
    def out_of_bounds(self, coords: np.ndarray) -> np.ndarray:
        """(N,) bool: grid coordinates (N, 3) outside [0, dims)."""
        c = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
        return (c < 0).any(axis=1) | (c >= self.dims).any(axis=1)

    def values(self, coords: np.ndarray) -> np.ndarray:
        """Signed distance (m) at grid coordinates (..., 3): dex-net's trilinear
        interpolation (its corner and summation order, corners past the grid
        count 0); +inf for points outside the grid (see the module docstring)."""
        c = np.asarray(coords, dtype=np.float64)
        shape = c.shape[:-1]
        c = c.reshape(-1, 3)
        oob = self.out_of_bounds(c)
        c = np.clip(c, 0, self.dims - 1)
        lo = np.floor(c)
        weights = (1.0 - np.abs(lo - c), 1.0 - np.abs((lo + 1.0) - c))  # per axis, corner bit 0 / 1
        ilo = lo.astype(np.int64)
        edge = ilo == self.dims - 1  # the +1 corner is past the grid there (its weight is 0)
        strides = np.array([self.dims[1] * self.dims[2], self.dims[2], 1])
        base = ilo @ strides
        sd = np.zeros(len(c))
        for corner in _CORNERS:
            index = base + int(corner @ strides)
            past = (edge & (corner == 1)).any(axis=1)
            v = self._flat[np.where(past, 0, index)]
            v[past] = 0.0
            w = (weights[corner[0]][:, 0] * weights[corner[1]][:, 1]) * weights[corner[2]][:, 2]
            sd = sd + w * v
        sd[oob] = np.inf
        return sd.reshape(shape)

    def value_naive(self, coord: np.ndarray) -> float:
        """One point, dex-net's ``Sdf3D._signed_distance`` walked literally (in bounds only):
        the twin of :meth:`values`."""
        c = np.asarray(coord, dtype=np.float64).reshape(3)
        if (c < 0).any() or (c >= self.dims).any():
            return float("inf")
        c = np.array([max(0, min(c[i], self.dims[i] - 1)) for i in range(3)])
        lo = np.floor(c)
        sd = 0.0
        for corner in _CORNERS:
            p = (lo + corner).astype(np.int64)
            v = 0.0 if (p < 0).any() or (p >= self.dims).any() else self.data[p[0], p[1], p[2]]
            sd = sd + np.prod(-np.abs(p - c) + 1) * v
        return float(sd)

    # -- normals ---------------------------------------------------------------
    def surface_normals(self, coords: np.ndarray) -> np.ndarray:
        """Unit normals (N, 3) (grid axes = object axes, sign arbitrary) at
        grid coordinates (N, 3), as dex-net's ``Sdf3D.surface_normal``; NaN
        rows where the point is not on the surface.

        Batched: the pattern's values in one interpolation, the plane of the
        selected points from one batched 3 x 3 eigen-decomposition of their
        scatter (the SVD's last left singular vector when the least spread is
        unique); points with fewer than 3 selected pattern points or a
        near-tied least spread go through dex-net's SVD one by one
        (:meth:`surface_normal_naive`), whose arbitrary choice there is then
        reproduced too.
        """
        c = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
        out = np.full((len(c), 3), np.nan)
        if len(c) == 0:
            return out
        here = self.values(c)
        ok = np.abs(here) < self.surface_thresh
        idx = np.flatnonzero(ok)
        if len(idx) == 0:
            return out
        pts = c[idx, None, :] + _PATTERN  # (M, 27, 3)
        vals = self.values(pts)
        sel = np.abs(vals) < self.surface_thresh
        w = sel.astype(np.float64)
        count = w.sum(axis=1)
        mean = np.einsum("mk,mkj->mj", w, pts) / count[:, None]
        centred = (pts - mean[:, None, :]) * w[..., None]
        scatter = np.einsum("mki,mkj->mij", centred, centred)
        evals, evecs = np.linalg.eigh(scatter)
        normals = evecs[:, :, 0]
        scale = np.maximum(evals[:, 2], 1e-300)
        tied = (count < 3) | ((evals[:, 1] - evals[:, 0]) < 1e-6 * scale)
        for m in np.flatnonzero(tied):
            normals[m] = self._plane_normal(pts[m][sel[m]], vals[m][sel[m]])
        out[idx] = normals
        return out

    @staticmethod
    def _plane_normal(points: np.ndarray, values: np.ndarray) -> np.ndarray:
        """dex-net's plane fit: points sorted by value, centred, last left singular vector."""
        order = sorted(range(len(values)), key=lambda i: values[i])  # stable, as list.sort
        x = points[order]
        a = x - np.mean(x, axis=0)
        u = np.linalg.svd(a.T)[0]
        return u[:, 2]

    def surface_normal_naive(self, coord: np.ndarray) -> np.ndarray | None:
        """One point, dex-net's ``Sdf3D.surface_normal`` walked literally
        (while loops over the pattern, SVD): the twin of :meth:`surface_normals`."""
        coord = np.asarray(coord, dtype=np.float64).reshape(3)
        if not abs(self.value_naive(coord)) < self.surface_thresh:
            return None
        found = []
        delta = NORMAL_DELTA
        dx = -delta
        while dx <= delta:
            dy = -delta
            while dy <= delta:
                dz = -delta
                while dz <= delta:
                    d = np.array([dx, dy, dz])
                    if dx != 0 or dy != 0 or dz != 0:
                        d = delta * d / np.linalg.norm(d)
                    q = coord + d
                    v = self.value_naive(q)
                    if abs(v) < self.surface_thresh:
                        found.append((q, v))
                    dz += delta
                dy += delta
            dx += delta
        return self._plane_normal(np.array([q for q, _ in found]), np.array([v for _, v in found]))


# -- building ------------------------------------------------------------------

def sdfgen_grid(vertices: np.ndarray, dim: int = SDF_DIM, padding: int = SDF_PADDING
                ) -> tuple[np.ndarray, np.float32]:
    """SDFGen's grid of a mesh's vertices (V, 3) m: (origin (3,) float32, cell
    float32), computed in float32 as SDFGen does (before its text output rounds them)."""
    if dim < 2 or 2 * padding > dim:
        raise ValueError(f"SDF dim {dim} must be >= 2 and at least twice the padding {padding}")
    v = np.asarray(vertices, dtype=np.float32).reshape(-1, 3)
    if len(v) == 0 or not np.isfinite(v).all():
        raise ValueError("mesh vertices are empty or not finite")
    lo, hi = v.min(axis=0), v.max(axis=0)
    extent = (hi - lo).max()
    if not extent > 0:
        raise ValueError("mesh has a zero-size bounding box: cannot size its SDF grid")
    dx = np.float32(extent / np.float32(dim - 2 * max(padding, 1)))
    center = lo + (hi - lo) / np.float32(2)
    origin = center - np.float32(np.float32(dim) * dx / np.float32(2))
    return origin.astype(np.float32), dx


def _orientation(x1, y1, x2, y2):
    """SDFGen's robust 2-D orientation sign (-1, 0, 1) and twice the signed area, vectorised."""
    area = y1 * x2 - x1 * y2
    sign = np.where(area > 0, 1, np.where(area < 0, -1,
                    np.where(y2 > y1, 1, np.where(y2 < y1, -1,
                             np.where(x1 > x2, 1, np.where(x1 < x2, -1, 0))))))
    return sign, area


def crossing_parity(vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, dx: float,
                    dims: tuple[int, int, int]) -> np.ndarray:
    """(nx, ny, nz) bool: odd number of mesh crossings on the grid line along
    +x up to each node (SDFGen's inside test, its rounding and tie rules).

    Each triangle is projected on the (y, z) plane of the grid; every grid
    line (j, k) inside it (SDFGen's symbolic-perturbation orientation test)
    counts one crossing at ``i = ceil(x)`` (crossings before the grid count at
    i = 0, after it not at all).
    """
    ni, nj, nk = dims
    x = np.asarray(vertices, dtype=np.float32).astype(np.float64)
    o = np.asarray(origin, dtype=np.float32).astype(np.float64)
    f = (x - o) / float(dx)  # grid coordinates in double, as SDFGen
    tri = f[np.asarray(faces, dtype=np.int64)]  # (F, 3 vertices, 3)
    fj, fk = tri[:, :, 1], tri[:, :, 2]
    j0 = np.clip(np.ceil(fj.min(axis=1)), 0, nj - 1).astype(np.int64)
    j1 = np.clip(np.floor(fj.max(axis=1)), 0, nj - 1).astype(np.int64)
    k0 = np.clip(np.ceil(fk.min(axis=1)), 0, nk - 1).astype(np.int64)
    k1 = np.clip(np.floor(fk.max(axis=1)), 0, nk - 1).astype(np.int64)
    nj_t, nk_t = np.maximum(j1 - j0 + 1, 0), np.maximum(k1 - k0 + 1, 0)
    total = nj_t * nk_t
    t = np.repeat(np.arange(len(tri)), total)
    local = np.arange(total.sum()) - np.repeat(np.cumsum(total) - total, total)
    j = j0[t] + local // np.maximum(nk_t[t], 1)
    k = k0[t] + local % np.maximum(nk_t[t], 1)
    counts = np.zeros(dims, dtype=np.int64)
    if len(t):
        p = tri[t]
        xs = p[:, :, 1] - j[:, None]
        ys = p[:, :, 2] - k[:, None]
        sa, a = _orientation(xs[:, 1], ys[:, 1], xs[:, 2], ys[:, 2])
        sb, b = _orientation(xs[:, 2], ys[:, 2], xs[:, 0], ys[:, 0])
        sc, c = _orientation(xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1])
        inside = (sa != 0) & (sb == sa) & (sc == sa)
        s = a + b + c
        with np.errstate(invalid="ignore", divide="ignore"):
            fi = (a / s) * p[:, 0, 0] + (b / s) * p[:, 1, 0] + (c / s) * p[:, 2, 0]
        fi = fi[inside]
        i_int = np.ceil(fi).astype(np.int64)
        keep = i_int < ni
        np.add.at(counts, (np.maximum(i_int[keep], 0), j[inside][keep], k[inside][keep]), 1)
    return (np.cumsum(counts, axis=0) % 2) == 1


def crossing_parity_naive(vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, dx: float,
                          dims: tuple[int, int, int]) -> np.ndarray:
    """SDFGen's intersection counting walked literally (triangle by triangle,
    grid line by grid line, then a running count along x): the twin of
    :func:`crossing_parity`."""
    ni, nj, nk = dims
    x = np.asarray(vertices, dtype=np.float32).astype(np.float64)
    o = np.asarray(origin, dtype=np.float32).astype(np.float64)
    counts = np.zeros(dims, dtype=np.int64)

    def orientation(x1, y1, x2, y2):
        area = y1 * x2 - x1 * y2
        if area > 0:
            return 1, area
        if area < 0:
            return -1, area
        if y2 > y1:
            return 1, area
        if y2 < y1:
            return -1, area
        if x1 > x2:
            return 1, area
        if x1 < x2:
            return -1, area
        return 0, area

    for tri in np.asarray(faces, dtype=np.int64):
        f = [(x[v] - o) / float(dx) for v in tri]
        fj, fk = [p[1] for p in f], [p[2] for p in f]
        for k in range(min(max(int(np.ceil(min(fk))), 0), nk - 1), min(max(int(np.floor(max(fk))), 0), nk - 1) + 1):
            for j in range(min(max(int(np.ceil(min(fj))), 0), nj - 1),
                           min(max(int(np.floor(max(fj))), 0), nj - 1) + 1):
                (x1, y1), (x2, y2), (x3, y3) = [(p[1] - j, p[2] - k) for p in f]
                sa, a = orientation(x2, y2, x3, y3)
                if sa == 0:
                    continue
                sb, b = orientation(x3, y3, x1, y1)
                if sb != sa:
                    continue
                sc, c = orientation(x1, y1, x2, y2)
                if sc != sa:
                    continue
                total = a + b + c
                fi = (a / total) * f[0][0] + (b / total) * f[1][0] + (c / total) * f[2][0]
                i = int(np.ceil(fi))
                if i < 0:
                    counts[0, j, k] += 1
                elif i < ni:
                    counts[i, j, k] += 1
    inside = np.zeros(dims, dtype=bool)
    for k in range(nk):
        for j in range(nj):
            total = 0
            for i in range(ni):
                total += counts[i, j, k]
                inside[i, j, k] = total % 2 == 1
    return inside


# -- SDFGen's distances (makelevelset3), float32 as compiled without FMA ----------------

_F0, _F1 = np.float32(0.0), np.float32(1.0)


@numba.njit(cache=True, inline="always")
def _segment_distance(px, py, pz, ax, ay, az, bx, by, bz):  # pragma: no cover - compiled
    """SDFGen's point_segment_distance (float32; the projection in double)."""
    d0, d1, d2 = bx - ax, by - ay, bz - az
    m2 = np.float64(d0 * d0 + d1 * d1 + d2 * d2)
    dot = (bx - px) * d0 + (by - py) * d1 + (bz - pz) * d2
    s = np.float32(np.float64(dot) / m2)
    if s < _F0:
        s = _F0
    elif s > _F1:
        s = _F1
    t = _F1 - s
    e0, e1, e2 = px - (s * ax + t * bx), py - (s * ay + t * by), pz - (s * az + t * bz)
    return np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)


@numba.njit(cache=True)
def _triangle_distance(px, py, pz, v, t):  # pragma: no cover - compiled
    """SDFGen's point_triangle_distance, float32; ``v[t]`` = (x1, x2, x3) flattened (9,)."""
    x1x, x1y, x1z = v[t, 0], v[t, 1], v[t, 2]
    x2x, x2y, x2z = v[t, 3], v[t, 4], v[t, 5]
    x3x, x3y, x3z = v[t, 6], v[t, 7], v[t, 8]
    a0, a1, a2 = x1x - x3x, x1y - x3y, x1z - x3z
    b0, b1, b2 = x2x - x3x, x2y - x3y, x2z - x3z
    c0, c1, c2 = px - x3x, py - x3y, pz - x3z
    m13 = a0 * a0 + a1 * a1 + a2 * a2
    m23 = b0 * b0 + b1 * b1 + b2 * b2
    d = a0 * b0 + a1 * b1 + a2 * b2
    det = m13 * m23 - d * d
    if det < np.float32(1e-30):
        det = np.float32(1e-30)
    invdet = _F1 / det
    a = a0 * c0 + a1 * c1 + a2 * c2
    b = b0 * c0 + b1 * c1 + b2 * c2
    w23 = invdet * (m23 * a - d * b)
    w31 = invdet * (m13 * b - d * a)
    w12 = _F1 - w23 - w31
    if w23 >= _F0 and w31 >= _F0 and w12 >= _F0:
        e0 = px - (w23 * x1x + w31 * x2x + w12 * x3x)
        e1 = py - (w23 * x1y + w31 * x2y + w12 * x3y)
        e2 = pz - (w23 * x1z + w31 * x2z + w12 * x3z)
        return np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
    if w23 > _F0:
        return min(_segment_distance(px, py, pz, x1x, x1y, x1z, x2x, x2y, x2z),
                   _segment_distance(px, py, pz, x1x, x1y, x1z, x3x, x3y, x3z))
    if w31 > _F0:
        return min(_segment_distance(px, py, pz, x1x, x1y, x1z, x2x, x2y, x2z),
                   _segment_distance(px, py, pz, x2x, x2y, x2z, x3x, x3y, x3z))
    return min(_segment_distance(px, py, pz, x1x, x1y, x1z, x3x, x3y, x3z),
               _segment_distance(px, py, pz, x2x, x2y, x2z, x3x, x3y, x3z))


@numba.njit(cache=True)
def _sweep(v, phi, closest, origin, dx, ni, nj, nk, di, dj, dk):  # pragma: no cover - compiled
    """One SDFGen sweep in direction (di, dj, dk) over the flattened (ni, nj, nk) arrays."""
    si, sj, sk = nj * nk, nk, 1
    i0, i1 = (1, ni) if di > 0 else (ni - 2, -1)
    j0, j1 = (1, nj) if dj > 0 else (nj - 2, -1)
    k0, k1 = (1, nk) if dk > 0 else (nk - 2, -1)
    # SDFGen's neighbour order: (i-di,j,k) (i,j-dj,k) (i-di,j-dj,k) (i,j,k-dk) (i-di,j,k-dk) (i,j-dj,k-dk)
    # (i-di,j-dj,k-dk)
    offsets = np.array([di * si, dj * sj, di * si + dj * sj, dk * sk, di * si + dk * sk, dj * sj + dk * sk,
                        di * si + dj * sj + dk * sk], np.int64)
    for k in range(k0, k1, dk):
        pz = np.float32(k) * dx + origin[2]
        for j in range(j0, j1, dj):
            py = np.float32(j) * dx + origin[1]
            for i in range(i0, i1, di):
                px = np.float32(i) * dx + origin[0]
                node = i * si + j * sj + k * sk
                for m in range(7):
                    t = closest[node - offsets[m]]
                    # the node's own closest triangle gives its own value back (d < phi fails): skipped
                    if t >= 0 and t != closest[node]:
                        d = _triangle_distance(px, py, pz, v, t)
                        if d < phi[node]:
                            phi[node] = d
                            closest[node] = t


@numba.njit(cache=True)
def _sdfgen_distances(x, tri, origin, dx, ni, nj, nk, band):  # pragma: no cover - compiled
    """SDFGen's unsigned distances (float32): exact within ``band`` cells of
    each triangle's box, then two passes of fast sweeping in its 8 orders."""
    phi = np.full((ni, nj, nk), np.float32(ni + nj + nk) * dx, np.float32)
    closest = np.full((ni, nj, nk), -1, np.int64)
    v = np.empty((tri.shape[0], 9), np.float32)
    for t in range(tri.shape[0]):
        for c in range(3):
            for a in range(3):
                v[t, 3 * c + a] = x[tri[t, c], a]
    n = (ni, nj, nk)
    lo = np.empty(3, np.int64)
    hi = np.empty(3, np.int64)
    for t in range(tri.shape[0]):
        for a in range(3):
            f0 = (np.float64(v[t, a]) - np.float64(origin[a])) / np.float64(dx)
            f1 = (np.float64(v[t, 3 + a]) - np.float64(origin[a])) / np.float64(dx)
            f2 = (np.float64(v[t, 6 + a]) - np.float64(origin[a])) / np.float64(dx)
            lo[a] = min(max(np.int64(min(f0, f1, f2)) - band, 0), n[a] - 1)
            hi[a] = min(max(np.int64(max(f0, f1, f2)) + band + 1, 0), n[a] - 1)
        for k in range(lo[2], hi[2] + 1):
            pz = np.float32(k) * dx + origin[2]
            for j in range(lo[1], hi[1] + 1):
                py = np.float32(j) * dx + origin[1]
                for i in range(lo[0], hi[0] + 1):
                    px = np.float32(i) * dx + origin[0]
                    d = _triangle_distance(px, py, pz, v, t)
                    if d < phi[i, j, k]:
                        phi[i, j, k] = d
                        closest[i, j, k] = t
    flat_phi, flat_closest = phi.reshape(-1), closest.reshape(-1)
    for _ in range(2):
        for di, dj, dk in ((1, 1, 1), (-1, -1, -1), (1, 1, -1), (-1, -1, 1),
                           (1, -1, 1), (-1, 1, -1), (1, -1, -1), (-1, 1, 1)):
            _sweep(v, flat_phi, flat_closest, origin, dx, ni, nj, nk, di, dj, dk)
    return phi


def build_sdf(vertices: np.ndarray, faces: np.ndarray, dim: int = SDF_DIM,
              padding: int = SDF_PADDING) -> GridSdf:
    """The SDF dex-net's SDFGen makes of a mesh (vertices (V, 3) m, faces
    (F, 3)) and writes to ``textured.sdf``, as dex-net reads it back (see the
    module docstring): SDFGen's float32 distances (exact band of 1 cell, two
    passes of fast sweeping), its crossing-parity sign, 6 significant digits.
    A few seconds for a 100^3 grid (compiled with numba, cached by it)."""
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) == 0 or faces.max() >= len(vertices) or faces.min() < 0:
        raise ValueError("mesh has no faces or its faces index past the vertex array")
    origin32, dx32 = sdfgen_grid(vertices, dim, padding)
    phi = _sdfgen_distances(vertices.astype(np.float32), faces, origin32, np.float32(dx32), dim, dim, dim,
                            SDFGEN_BAND)
    inside = crossing_parity(vertices, faces, origin32, dx32, (dim, dim, dim))
    phi = np.where(inside, -phi, phi)
    return GridSdf(round_significant(phi.astype(np.float64)), round_significant(origin32.astype(np.float64)),
                   float(round_significant(np.array([dx32], dtype=np.float64))[0]))


def sdfgen_distances_naive(vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, dx: float,
                           dims: tuple[int, int, int], band: int = 1) -> np.ndarray:
    """SDFGen's ``make_level_set3`` distances walked literally in float32
    numpy scalars (unsigned; small grids only): the twin of the compiled
    ``_sdfgen_distances``."""
    f32 = np.float32
    x = np.asarray(vertices, dtype=np.float32)
    tri = np.asarray(faces, dtype=np.int64)
    o = np.asarray(origin, dtype=np.float32)
    dx = f32(dx)
    ni, nj, nk = dims

    def seg(p, a, b):
        d = b - a
        m2 = float(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        dot = (b[0] - p[0]) * d[0] + (b[1] - p[1]) * d[1] + (b[2] - p[2]) * d[2]
        s12 = f32(min(max(f32(float(dot) / m2), f32(0)), f32(1)))
        q = s12 * a + (f32(1) - s12) * b
        e = p - q
        return np.sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2])

    def ptd(p, x1, x2, x3):
        a13, a23, a03 = x1 - x3, x2 - x3, p - x3
        m13 = a13[0] * a13[0] + a13[1] * a13[1] + a13[2] * a13[2]
        m23 = a23[0] * a23[0] + a23[1] * a23[1] + a23[2] * a23[2]
        d = a13[0] * a23[0] + a13[1] * a23[1] + a13[2] * a23[2]
        invdet = f32(1) / max(m13 * m23 - d * d, f32(1e-30))
        a = a13[0] * a03[0] + a13[1] * a03[1] + a13[2] * a03[2]
        b = a23[0] * a03[0] + a23[1] * a03[1] + a23[2] * a03[2]
        w23, w31 = invdet * (m23 * a - d * b), invdet * (m13 * b - d * a)
        w12 = f32(1) - w23 - w31
        if w23 >= 0 and w31 >= 0 and w12 >= 0:
            e = p - (w23 * x1 + w31 * x2 + w12 * x3)
            return np.sqrt(e[0] * e[0] + e[1] * e[1] + e[2] * e[2])
        if w23 > 0:
            return min(seg(p, x1, x2), seg(p, x1, x3))
        if w31 > 0:
            return min(seg(p, x1, x2), seg(p, x2, x3))
        return min(seg(p, x1, x3), seg(p, x2, x3))

    def node(i, j, k):
        return np.array([f32(i) * dx + o[0], f32(j) * dx + o[1], f32(k) * dx + o[2]], dtype=np.float32)

    phi = np.full(dims, f32(ni + nj + nk) * dx, dtype=np.float32)
    closest = np.full(dims, -1, dtype=np.int64)
    for t, (p, q, r) in enumerate(tri):
        g = [(x[v].astype(np.float64) - o.astype(np.float64)) / float(dx) for v in (p, q, r)]
        lo = [min(max(int(min(c[a] for c in g)) - band, 0), n - 1) for a, n in enumerate(dims)]
        hi = [min(max(int(max(c[a] for c in g)) + band + 1, 0), n - 1) for a, n in enumerate(dims)]
        for k in range(lo[2], hi[2] + 1):
            for j in range(lo[1], hi[1] + 1):
                for i in range(lo[0], hi[0] + 1):
                    d = ptd(node(i, j, k), x[p], x[q], x[r])
                    if d < phi[i, j, k]:
                        phi[i, j, k], closest[i, j, k] = d, t
    for _ in range(2):
        for di, dj, dk in ((1, 1, 1), (-1, -1, -1), (1, 1, -1), (-1, -1, 1),
                           (1, -1, 1), (-1, 1, -1), (1, -1, -1), (-1, 1, 1)):
            irange = range(1, ni) if di > 0 else range(ni - 2, -1, -1)
            jrange = range(1, nj) if dj > 0 else range(nj - 2, -1, -1)
            krange = range(1, nk) if dk > 0 else range(nk - 2, -1, -1)
            for k in krange:
                for j in jrange:
                    for i in irange:
                        for a, b, c in ((i - di, j, k), (i, j - dj, k), (i - di, j - dj, k), (i, j, k - dk),
                                        (i - di, j, k - dk), (i, j - dj, k - dk), (i - di, j - dj, k - dk)):
                            t = closest[a, b, c]
                            if t >= 0:
                                d = ptd(node(i, j, k), *x[tri[t]])
                                if d < phi[i, j, k]:
                                    phi[i, j, k], closest[i, j, k] = d, t
    return phi


# -- files and cache -------------------------------------------------------------

def read_sdf_text(path: str | Path) -> GridSdf:
    """Read a dex-net text SDF (``textured.sdf``: 'nx ny nz', origin, cell,
    then one value per line, x fastest)."""
    with open(path) as f:
        dims = [int(v) for v in f.readline().split()]
        origin = [float(v) for v in f.readline().split()]
        res = float(f.readline())
        values = np.array(f.read().split(), dtype=np.float64)
    if len(dims) != 3 or len(origin) != 3 or len(values) != np.prod(dims):
        raise ValueError(f"{path}: not a dex-net SDF (header {dims}, {len(values)} values)")
    return GridSdf(values.reshape(dims[::-1]).transpose(2, 1, 0), origin, res)


def write_sdf_text(sdf: GridSdf, path: str | Path) -> None:
    """Write ``sdf`` as a dex-net text SDF (6 significant digits, as SDFGen), atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(" ".join(str(int(d)) for d in sdf.dims) + "\n")
        f.write(" ".join(f"{v:.6g}" for v in sdf.origin) + "\n")
        f.write(f"{sdf.resolution:.6g}\n")
        np.savetxt(f, sdf.data.transpose(2, 1, 0).reshape(-1), fmt="%.6g")
    tmp.replace(path)


def sdf_cache_dir() -> Path:
    """``$GRASPNET_ROS_CACHE/sdf`` or ``~/.cache/graspnet_ros/sdf``."""
    from .params import cache_root

    return cache_root() / "sdf"


def load_or_build_sdf(vertices: np.ndarray, faces: np.ndarray, sdf_file: str | Path | None = None,
                      dim: int = SDF_DIM, padding: int = SDF_PADDING,
                      cache: str | Path | None = None) -> GridSdf:
    """An object's SDF: the dataset's own ``sdf_file`` when it exists (what the
    reference reads), else :func:`build_sdf` of the mesh; either way cached
    once as ``.npz`` under ``cache`` (default :func:`sdf_cache_dir`), keyed by
    the file's path, size and time, or by the mesh's bytes and the grid."""
    cache = Path(cache) if cache is not None else sdf_cache_dir()
    if sdf_file is not None and Path(sdf_file).is_file():
        st = Path(sdf_file).stat()
        key = f"file:{Path(sdf_file).resolve()}:{st.st_size}:{st.st_mtime_ns}"
    else:
        sdf_file = None
        h = hashlib.sha1(np.ascontiguousarray(vertices, dtype=np.float64).tobytes())
        h.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
        key = f"mesh:v3:{dim}:{padding}:{h.hexdigest()}"
    path = cache / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return GridSdf(z["data"], z["origin"], float(z["resolution"]))
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache entry: rebuild it
    sdf = read_sdf_text(sdf_file) if sdf_file is not None else build_sdf(vertices, faces, dim, padding)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, data=sdf.data, origin=sdf.origin, resolution=sdf.resolution)
        tmp.replace(path)
    except OSError:
        pass  # read-only cache: use the SDF without storing it
    return sdf


# -- contacts ----------------------------------------------------------------------

def _zero_crossings(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray,
                    x3: np.ndarray, y3: np.ndarray) -> np.ndarray:
    """dex-net's ``find_zero_crossing_quadratic`` on M triples of samples along
    lines (grid coordinates (M, 3), values (M,)): the crossings (M, 3), NaN
    where it returns None."""
    m = len(x1)
    out = np.full((m, 3), np.nan)
    if m == 0:
        return out
    d = x2 - x1
    v = d / np.linalg.norm(d, axis=1, keepdims=True)
    axis = np.argmax(v != 0, axis=1)
    rows = np.arange(m)
    t2 = d[rows, axis] / v[rows, axis]
    t3 = (x3 - x1)[rows, axis] / v[rows, axis]
    X = np.stack([np.stack([np.zeros(m), np.zeros(m), np.ones(m)], axis=1),
                  np.stack([t2 ** 2, t2, np.ones(m)], axis=1),
                  np.stack([t3 ** 2, t3, np.ones(m)], axis=1)], axis=1)
    y = np.stack([y1, y2, y3], axis=1)
    finite = np.isfinite(y).all(axis=1) & np.isfinite(X).all(axis=(1, 2))
    w = np.full((m, 3), np.nan)
    if finite.any():
        w[finite] = np.linalg.solve(X[finite], y[finite][..., None])[..., 0]
    curved = finite & (np.abs(w[:, 0]) >= FLAT_QUADRATIC)
    t_zc = np.full(m, np.nan)
    general = curved & (w[:, 2] != 0)
    if general.any():  # np.roots: eigenvalues of the companion matrix, in LAPACK's order
        a = w[general]
        comp = np.zeros((len(a), 2, 2))
        comp[:, 0, 0] = -a[:, 1] / a[:, 0]
        comp[:, 0, 1] = -a[:, 2] / a[:, 0]
        comp[:, 1, 0] = 1.0
        roots = np.linalg.eigvals(comp)
        real = np.imag(roots) == 0 if np.iscomplexobj(roots) else np.ones(roots.shape, bool)
        r = np.real(roots)
        good = real & (r >= 0) & (r <= 10)
        pick = np.where(good[:, 1], r[:, 1], np.where(good[:, 0], r[:, 0], np.nan))
        t_zc[general] = pick
    for i in np.flatnonzero(curved & (w[:, 2] == 0)):  # trailing zero: np.roots itself
        for r in np.roots(w[i]):
            if 0 <= r <= 10 and not np.iscomplex(r):
                t_zc[i] = np.real(r)
    fallback = curved & np.isnan(t_zc)
    t_zc[fallback] = -w[fallback, 1] / (2 * w[fallback, 0])
    ok = curved & (t_zc >= -CROSSING_EPS) & (t_zc <= CROSSING_EPS)
    out[ok] = x1[ok] + t_zc[ok, None] * v[ok]
    return out


@dataclass
class JawContacts:
    """Jaw contacts of N grasps on an SDF, in the object frame."""

    found: np.ndarray  # (N,) bool, both jaws have a contact with a normal
    points: np.ndarray  # (N, 2, 3) m, NaN where not found
    normals: np.ndarray  # (N, 2, 3) unit, sign arbitrary, NaN where not found


def _march(sdf: GridSdf, starts: np.ndarray, dirs: np.ndarray, lengths: np.ndarray,
           num: np.ndarray) -> np.ndarray:
    """Contact (grid coordinates (J, 3), NaN where none) of J jaws marching
    from ``starts`` (m) along unit ``dirs`` over ``lengths`` (m) in ``num`` samples."""
    n_jaw = len(starts)
    out = np.full((n_jaw, 3), np.nan)
    if n_jaw == 0:
        return out
    width = int(num.max())
    i = np.arange(width)
    step = lengths / (num - 1)
    t = i[None, :] * step[:, None]  # np.linspace(0, length, num): i * step, the last exactly length
    valid = i[None, :] < num[:, None]
    t = np.where(i[None, :] == (num - 1)[:, None], lengths[:, None], t)
    t = np.where(valid, t, 0.0)
    world = starts[:, None, :] + t[..., None] * dirs[:, None, :]
    grid = sdf.to_grid(world.reshape(-1, 3)).reshape(n_jaw, width, 3)
    vals = sdf.values(grid)
    vals = np.where(valid, vals, np.inf)
    on = np.abs(vals) < sdf.surface_thresh
    jj, ii = np.nonzero(on)  # candidates, row-major: per jaw in march order
    if len(jj) == 0:
        return out
    last = num[jj] - 1
    first, final = ii == 0, ii == last
    a = np.where(first, ii, np.where(final, ii - 2, ii - 1))  # the fit's three samples
    x1, x2, x3 = grid[jj, a], grid[jj, a + 1], grid[jj, a + 2]
    y1, y2, y3 = vals[jj, a], vals[jj, a + 1], vals[jj, a + 2]
    zc = _zero_crossings(x1, y1, x2, y2, x3, y3)
    ok = ~np.isnan(zc[:, 0])
    nxt = np.where(final, ii, np.minimum(ii + 1, width - 1))
    ok &= final | ~(np.abs(vals[jj, nxt]) < np.abs(vals[jj, ii]))
    jj, zc = jj[ok], zc[ok]
    if len(jj) == 0:
        return out
    firsts = np.r_[True, jj[1:] != jj[:-1]]
    out[jj[firsts]] = zc[firsts]
    return out


def close_jaws(sdf: GridSdf, centers: np.ndarray, axes: np.ndarray, widths: np.ndarray) -> JawContacts:
    """dex-net's ``close_fingers`` (no approach check, as graspnetAPI's
    evaluator configures it) for N grasps, vectorised.

    centers: (N, 3) jaw-closing centres, m, object frame (``t + depth * x``);
    axes: (N, 3) closing axes (normalised here, as dex-net does);
    widths: (N,) opening widths, m. Jaw 1 starts at ``c - w/2 * y`` and
    moves +y, jaw 2 at ``c + w/2 * y`` moving -y, each over w/2.
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    axes = np.asarray(axes, dtype=np.float64).reshape(-1, 3)
    axes = axes / np.linalg.norm(axes, axis=1, keepdims=True)
    widths = np.asarray(widths, dtype=np.float64).reshape(-1)
    n = len(centers)
    num = np.maximum((SAMPLES_PER_GRID * ((1.0 / sdf.resolution) * widths) / 2).astype(np.int64), 3)
    half = widths / 2
    starts = np.concatenate([centers - half[:, None] * axes, centers + half[:, None] * axes])
    dirs = np.concatenate([axes, -axes])
    zc = _march(sdf, starts, dirs, np.concatenate([half, half]), np.concatenate([num, num]))
    has = ~np.isnan(zc[:, 0])
    points = np.full((2 * n, 3), np.nan)
    normals = np.full((2 * n, 3), np.nan)
    if has.any():
        world = sdf.to_object(zc[has])
        normals[has] = sdf.surface_normals(sdf.to_grid(world))  # NaN: not on the surface
        points[has] = world
    has &= ~np.isnan(normals[:, 0])
    points[~has] = np.nan
    return JawContacts(has[:n] & has[n:], np.stack([points[:n], points[n:]], axis=1),
                       np.stack([normals[:n], normals[n:]], axis=1))


def close_jaws_naive(sdf: GridSdf, center: np.ndarray, axis: np.ndarray, width: float
                     ) -> tuple[bool, np.ndarray, np.ndarray]:
    """One grasp, dex-net's ``close_fingers`` / ``find_contact`` loop walked
    literally: the twin of :func:`close_jaws`. Returns (found, points (2, 3), normals (2, 3))."""
    center = np.asarray(center, dtype=np.float64)
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.linalg.norm(axis)
    num = max(int(SAMPLES_PER_GRID * float((1.0 / sdf.resolution) * width) / 2), 3)
    points, normals, found_all = np.full((2, 3), np.nan), np.full((2, 3), np.nan), True
    for j, (g, d) in enumerate(((center - width / 2 * axis, axis), (center + width / 2 * axis, -axis))):
        line = [sdf.to_grid((g + t * d)[None])[0] for t in np.linspace(0, width / 2, num=num)]
        found, zc = False, None
        here = before = 0.0
        p_here = p_before = None
        i = 0
        while i < num and not found:
            p_bb, p_before, p_here = p_before, p_here, line[i]
            before_before, before = before, here
            here = sdf.value_naive(p_here)
            if abs(here) < sdf.surface_thresh:
                found = True
                if i == 0:
                    after = sdf.value_naive(line[1])
                    zc = _zero_crossing_naive(p_here, here, line[1], after, line[2], sdf.value_naive(line[2]))
                    if zc is None or abs(after) < abs(here):
                        found = False
                elif i == num - 1:
                    zc = _zero_crossing_naive(p_bb, before_before, p_before, before, p_here, here)
                    if zc is None:
                        found = False
                else:
                    after = sdf.value_naive(line[i + 1])
                    zc = _zero_crossing_naive(p_before, before, p_here, here, line[i + 1], after)
                    if zc is None or abs(after) < abs(here):
                        found = False
            i += 1
        if found:
            world = sdf.to_object(zc[None])[0]
            n = sdf.surface_normal_naive(sdf.to_grid(world[None])[0])
            if n is not None:
                points[j], normals[j] = world, n
                continue
        found_all = False
    return found_all, points, normals


def _zero_crossing_naive(x1, y1, x2, y2, x3, y3):
    """dex-net's ``find_zero_crossing_quadratic`` for one triple (None = rejected)."""
    v = x2 - x1
    v = v / np.linalg.norm(v)
    t2 = ((x2 - x1)[v != 0] / v[v != 0])[0]
    t3 = ((x3 - x1)[v != 0] / v[v != 0])[0]
    X = np.array([[0.0, 0.0, 1.0], [t2 ** 2, t2, 1.0], [t3 ** 2, t3, 1.0]])
    w = np.linalg.solve(X, np.array([y1, y2, y3]))
    t_zc = None
    for r in np.roots(w):
        if 0 <= r <= 10 and not np.iscomplex(r):
            t_zc = r
    if np.abs(w[0]) < FLAT_QUADRATIC:
        return None
    if t_zc is None:
        t_zc = -w[1] / (2 * w[0])
    if t_zc < -CROSSING_EPS or t_zc > CROSSING_EPS:
        return None
    return x1 + np.real(t_zc) * v


def friction_labels(contacts: JawContacts, mus: np.ndarray) -> np.ndarray:
    """(N,) smallest mu at which dex-net's antipodal test
    (``PointGraspMetrics3D.force_closure``, unsigned normals) passes; -1 where
    no contact or no mu passes. Per jaw the angle is
    ``arccos(|n . d| / |n| / |d|)`` with d towards the other contact; a NaN
    angle (rounding past 1) passes, as in the reference."""
    mus = np.sort(np.asarray(mus, dtype=np.float64))
    n = len(contacts.found)
    out = np.full(n, -1.0)
    ok = contacts.found & ~(contacts.points[:, 0] == contacts.points[:, 1]).all(axis=1)
    if not ok.any():
        return out
    p, nrm = contacts.points[ok], contacts.normals[ok]
    alphas = []
    for a, b in ((0, 1), (1, 0)):
        diff = p[:, b] - p[:, a]
        proj = np.abs(np.einsum("ij,ij->i", nrm[:, a], diff)) / np.linalg.norm(nrm[:, a], axis=1)
        with np.errstate(invalid="ignore"):
            alphas.append(np.arccos(proj / np.linalg.norm(diff, axis=1)))
    labels = np.full(len(p), -1.0)
    for mu in mus[::-1]:  # smallest passing mu wins
        limit = np.arctan(mu)
        passed = ~(alphas[0] > limit) & ~(alphas[1] > limit)
        labels[passed] = mu
    out[ok] = labels
    return out
