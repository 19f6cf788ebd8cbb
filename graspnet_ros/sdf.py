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
  before each node (negative = inside). Values within :data:`EXACT_BAND`
  (3) cells of a triangle's bounding box are the exact distances to the mesh
  (float32, as SDFGen's); SDFGen computes exact distances within 1 cell of
  each triangle's box and fills the rest by fast sweeping (the distance to a
  neighbour's closest triangle, an estimate never below the exact one). Here
  the rest is estimated as 3 cells plus the Euclidean distance to the band.
  Both agree wherever a node is within a cell of the surface; the contact
  search and the normals only depend on nodes within about 2.5 cells (a
  value is compared with the surface threshold of 0.71 cell), which are exact
  here. So this grid gives the reference's labels; its far values (and so a
  ``textured.sdf`` written from it) differ from SDFGen's far from the object.
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

import numpy as np
from scipy import ndimage

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
#: Nodes within this many cells of a triangle's box get exact distances (see :func:`build_sdf`).
EXACT_BAND = 3

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


def _band_mask(vertices: np.ndarray, faces: np.ndarray, origin: np.ndarray, dx: float,
               dims: tuple[int, int, int], band: int) -> np.ndarray:
    """(nx, ny, nz) bool: nodes within ``band`` cells of a triangle's grid
    bounding box (SDFGen's exact-band rule, ``int(min) - band`` to
    ``int(max) + band + 1`` per axis), i.e. every node closer than ``band``
    cells to the surface."""
    f = (np.asarray(vertices, dtype=np.float32).astype(np.float64) - origin) / float(dx)
    tri = f[np.asarray(faces, dtype=np.int64)]
    hi_dims = np.array(dims) - 1
    lo = np.clip(np.trunc(tri.min(axis=1)).astype(np.int64) - band, 0, hi_dims)
    hi = np.clip(np.trunc(tri.max(axis=1)).astype(np.int64) + band + 1, 0, hi_dims)
    # mark each box through a 3-D difference array (inclusion-exclusion at the 8 corners), then prefix sums
    diff = np.zeros(np.array(dims) + 1, dtype=np.int64)
    for corner in _CORNERS:
        at = np.where(corner == 1, hi + 1, lo)
        sign = -1 if corner.sum() % 2 else 1
        np.add.at(diff, (at[:, 0], at[:, 1], at[:, 2]), sign)
    count = diff.cumsum(axis=0).cumsum(axis=1).cumsum(axis=2)[:dims[0], :dims[1], :dims[2]]
    return count > 0


def build_sdf(vertices: np.ndarray, faces: np.ndarray, dim: int = SDF_DIM,
              padding: int = SDF_PADDING) -> GridSdf:
    """The SDF dex-net's SDFGen makes of a mesh (vertices (V, 3) m, faces
    (F, 3)) and writes to ``textured.sdf``, as dex-net reads it back (see the
    module docstring). About a second for a 100^3 grid."""
    from ._native import import_open3d

    o3d = import_open3d()
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    if len(faces) == 0 or faces.max() >= len(vertices) or faces.min() < 0:
        raise ValueError("mesh has no faces or its faces index past the vertex array")
    origin32, dx32 = sdfgen_grid(vertices, dim, padding)
    steps = np.arange(dim, dtype=np.float32)[:, None] * dx32 + origin32  # (dim, 3) node coordinates, float32
    near = _band_mask(vertices, faces, origin32, dx32, (dim, dim, dim), EXACT_BAND)
    idx = np.flatnonzero(near.reshape(-1))
    i, j, k = np.unravel_index(idx, near.shape)
    nodes = np.ascontiguousarray(np.stack([steps[i, 0], steps[j, 1], steps[k, 2]], axis=1))
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(vertices.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    # far from the surface: band width + Euclidean distance (cells) to the band, an estimate like SDFGen's sweep
    dist = ((ndimage.distance_transform_edt(~near) + EXACT_BAND) * dx32).astype(np.float32)
    if len(idx):
        dist.reshape(-1)[idx] = scene.compute_distance(o3d.core.Tensor(nodes)).numpy()
    inside = crossing_parity(vertices, faces, origin32, dx32, (dim, dim, dim))
    phi = np.where(inside, -dist, dist)
    return GridSdf(round_significant(phi.astype(np.float64)), round_significant(origin32.astype(np.float64)),
                   float(round_significant(np.array([dx32], dtype=np.float64))[0]))


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
    root = os.environ.get("GRASPNET_ROS_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "graspnet_ros") / "sdf"


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
        key = f"mesh:v2:{dim}:{padding}:{h.hexdigest()}"
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
