"""Object-level grasp labels (paper section 3.3, first stage).

For one mesh (object frame, metres) and every candidate (grasp point p, view
v, angle a, depth d) of the GraspNet-1Billion grid:

* approach x = -views[v] (the label's view vector points away from the
  object), rotation ``rotation_from_approach(x, angles[a])``, grasp point
  t = p, fingertips at t + d x;
* width: the smallest opening that clears every object point between the
  jaws (the finger slab -b < x < d, |z| < h/2, |y| < max_width / 2) plus
  ``width_margin``, capped at ``max_width``; ``max_width`` when the slab
  holds no point (an empty grasp);
* collision: at that width a finger or the base holds an object point (the
  benchmark gripper's inequalities, :mod:`graspnet_ros.gripper`). Widening
  never helps (a wider finger still covers the point that blocks it), so
  a colliding candidate has no width that works;
* score: the smallest mu at which the jaws, closing along y at t + d x from
  +-w/2, are force-closure (:mod:`graspnet_ros.force_closure`); -1 when
  colliding, empty or never force-closure.

Speed comes from the structure of the grid rather than from checking each
candidate. For one grasp point, its object points within reach are put into
the frames of all V views at once (x = approach, y0 / z0 the in-plane axes
at angle 0); only point-view pairs inside the gripper's reach along x and
in the approach plane go on. Angle a is a rotation of (y0, z0), and angle
a + pi/2 swaps |y| and |z|, so six rotations give all twelve angles. Per
(view, angle, depth bin) only extremes matter: the largest |y| between the
jaws (it sets the width), the smallest |y| beyond it (a finger hits it if
closer than w/2 + f) and the smallest |y| in the base band; the depth bins
are nested (x < d), so a running max / min over the bins gives every
depth. A view whose base core (inside the base at every angle and width)
holds a point collides outright. This runs as a numba-compiled loop when
numba is installed and as numpy array code otherwise (point-view pairs
expanded to the angles whose slab holds them, then scatter max / min); the
two give identical arrays. :func:`candidate_naive` is the slow,
obviously-correct per-candidate twin used by the tests.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from ..cameras.geometry import voxel_downsample_nearest
from ..force_closure import MeshRaycaster, antipodal_angle, find_contacts, labels_from_angles
from ..grasp import GraspGroup
from ..gripper import check_collision_naive
from ._kernel_geometry import IN_CORE, OUT_OF_REACH, neighbour_offsets, numba, view_point
from .settings import AnnotationSettings

#: most dense surface samples drawn per mesh before voxel down-sampling
MAX_SURFACE_SAMPLES = 2_000_000


# -- surface points ----------------------------------------------------------
def sample_surface(mesh: trimesh.Trimesh, voxel: float, oversampling: float = 16.0,
                   seed: int = 0) -> np.ndarray:
    """Surface points uniformly distributed in voxel space (paper 3.3).

    Draws about ``oversampling`` area-weighted samples per voxel face area,
    then keeps one per occupied ``voxel`` cube. Returns (M, 3) float64, m,
    in the mesh frame.
    """
    if len(mesh.faces) == 0:
        raise ValueError("mesh has no faces; grasp labels need a triangle mesh")
    count = int(np.clip(np.ceil(mesh.area / voxel ** 2 * oversampling), 1000, MAX_SURFACE_SAMPLES))
    samples, _ = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return voxel_downsample_nearest(samples, voxel)


# -- the slab kernel ---------------------------------------------------------
@dataclass
class SlabEntries:
    """Point-candidate incidences of one grasp point (see :func:`slab_entries`).

    One entry per (nearby point, view, angle) with the point inside the
    gripper's slab |z| < h/2 and in the finger or base band along x.
    """

    view: np.ndarray  # (E,) int64 view index
    angle: np.ndarray  # (E,) int64 angle index
    bin: np.ndarray  # (E,) int64: 0 base band (-(b+f) < x < -b); k + 1: x in depth bin k
    abs_y: np.ndarray  # (E,) |y| in the gripper frame, m
    dead: np.ndarray  # (V,) bool: a point is inside the base for every angle and width


class SlabKernel:
    """Precomputed view frames and gripper constants for :func:`slab_entries`."""

    def __init__(self, settings: AnnotationSettings) -> None:
        g = settings.gripper
        frames = settings.view_frames  # (V, 3, 3), columns x, y0, z0
        self.settings = settings
        self.frames = frames
        self.basis = np.concatenate([frames[:, :, 0].T, frames[:, :, 1].T, frames[:, :, 2].T],
                                    axis=1)  # (3, 3V)
        self.num_views, self.num_angles, self.num_depths = settings.shape
        self.height, self.base, self.finger = g.height, g.depth_base, g.finger_width
        self.depths = settings.depths
        self.max_width = settings.max_width
        self.cos = np.cos(settings.angles)
        self.sin = np.sin(settings.angles)
        self.rho_max2 = (self.max_width / 2 + self.finger) ** 2 + (self.height / 2) ** 2
        self.core2 = min(self.finger, self.height / 2) ** 2

    def rays(self, points: np.ndarray, point_idx: np.ndarray, view: np.ndarray,
             angle: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Jaw-closing centres t + d x (N, 3) and closing axes y (N, 3) of candidates."""
        f = self.frames[view]
        c, s = np.cos(self.settings.angles[angle]), np.sin(self.settings.angles[angle])
        centres = points[point_idx] + self.depths[depth][:, None] * f[:, :, 0]
        axes = f[:, :, 1] * c[:, None] + f[:, :, 2] * s[:, None]
        return centres, axes


def frame_coordinates(rel: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``rel @ basis`` for (M, 3) x (3, K), float64, summed in a fixed order.

    Three broadcast multiply-adds rather than BLAS: with an inner dimension
    of 3 the product is memory-bound anyway, a multi-threaded OpenBLAS
    spins its idle threads between these small calls (doubling the CPU time
    on a shared machine), and the fixed order matches the compiled kernel.
    """
    rel = np.asarray(rel, dtype=np.float64)
    out = np.multiply(rel[:, 0:1], basis[0])
    tmp = np.empty_like(out)
    for axis in (1, 2):
        np.multiply(rel[:, axis:axis + 1], basis[axis], out=tmp)
        out += tmp
    return out


def slab_entries(rel: np.ndarray, kernel: SlabKernel,
                 view_mask: np.ndarray | None = None) -> SlabEntries:
    """Which nearby points fall in which candidate's slab, and at what |y|.

    rel: (M, 3) points minus the grasp point, in the object frame (m).
    view_mask: (V,) bool, views to expand (default all). Views whose base
    core (-(b+f) < x < -b, y^2 + z^2 < min(f, h/2)^2: inside the base at
    every angle and width) holds a point are reported in ``dead`` and not
    expanded. Point-view pairs outside the gripper's reach along x or in
    the approach plane are dropped before the angles are expanded.
    """
    k = kernel
    nv = k.num_views
    xuw = frame_coordinates(rel, k.basis)  # (M, 3V): x | y0 | z0 per view
    x, u, w = xuw[:, :nv], xuw[:, nv:2 * nv], xuw[:, 2 * nv:]
    rho2 = u * u + w * w
    in_x = (x > -(k.base + k.finger)) & (x < k.depths[-1])
    dead = (in_x & (x < -k.base) & (rho2 < k.core2)).any(axis=0)
    live = ~dead if view_mask is None else (~dead & view_mask)
    band = in_x & (rho2 < k.rho_max2) & (x != -k.base) & live
    flat = np.flatnonzero(band)
    view = flat % nv
    at = flat + (flat // nv) * (2 * nv)  # index of x[m, v] in the flat (M, 3V) array
    xuw = xuw.reshape(-1)
    x, u, w = xuw[at], xuw[at + nv], xuw[at + 2 * nv]
    bins = np.where(x < -k.base, 0, np.searchsorted(k.depths, x, side="right") + 1)
    # All angles at once as (A', L) arrays: |z| < h/2 decides the slab, |y| is the
    # opening needed. With A even, angle j + A/2 is angle j turned by pi/2, so
    # its |y|, |z| are angle j's |z|, |y|: half the angles give all of them.
    half = k.num_angles // 2 if k.num_angles % 2 == 0 else k.num_angles
    c, s = k.cos[:half, None], k.sin[:half, None]
    ay = np.abs(c * u + s * w)
    az = np.abs(c * w - s * u)
    blocks = [(az, ay, 0)] + ([(ay, az, half)] if half < k.num_angles else [])
    angle, pair, abs_y = [], [], []
    for slab_dist, opening, first in blocks:
        inside = slab_dist < k.height / 2
        idx = np.flatnonzero(inside)
        a = np.repeat(np.arange(first, first + len(inside)), inside.sum(axis=1))
        angle.append(a)
        pair.append(idx - (a - first) * len(x))
        abs_y.append(opening.reshape(-1)[idx])
    angle, pair, abs_y = (np.concatenate(v) for v in (angle, pair, abs_y))
    return SlabEntries(view[pair], angle, bins[pair], abs_y, dead)


def point_candidates(rel: np.ndarray, kernel: SlabKernel, width_margin: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Widths (V, A, D) float32, collision and empty flags (V, A, D) of one grasp point.

    rel: (M, 3) object points minus the grasp point (object frame, m); it
    must hold every point within ``settings.reach`` of the grasp point.
    """
    k = kernel
    nv, na, nd = k.num_views, k.num_angles, k.num_depths
    ent = slab_entries(rel, k)
    key = (ent.view * na + ent.angle) * (nd + 1) + ent.bin
    inner = (ent.bin > 0) & (ent.abs_y < k.max_width / 2)
    in_max = np.full(nv * na * (nd + 1), -1.0)
    out_min = np.full(nv * na * (nd + 1), np.inf)
    np.maximum.at(in_max, key[inner], ent.abs_y[inner])
    np.minimum.at(out_min, key[~inner], ent.abs_y[~inner])
    in_max, out_min = in_max.reshape(nv, na, nd + 1), out_min.reshape(nv, na, nd + 1)
    reach_in = np.maximum.accumulate(in_max[..., 1:], axis=2)  # nested depth bins
    nearest_out = np.minimum.accumulate(out_min[..., 1:], axis=2)
    empty = reach_in < 0
    # widths are stored as float32; the checks use the stored value
    width = np.where(empty, k.max_width,
                     np.minimum(2 * reach_in + width_margin, k.max_width)).astype(np.float32)
    outer = width.astype(np.float64) / 2 + k.finger
    collision = (nearest_out < outer) | (out_min[..., :1] < outer)
    width[ent.dead] = k.max_width
    collision[ent.dead] = True
    empty[ent.dead] = False
    return width, collision, empty


# -- object labels -----------------------------------------------------------
@dataclass
class ObjectLabels:
    """Grasp labels of one object in the layout of ``grasp_label/%03d_labels.npz``."""

    points: np.ndarray  # (Np, 3) float32 grasp points, object frame, m
    widths: np.ndarray  # (Np, V, A, D) float32, m
    collision: np.ndarray  # (Np, V, A, D) bool
    scores: np.ndarray  # (Np, V, A, D) float32 smallest force-closure mu, -1 invalid

    def offsets(self, settings: AnnotationSettings) -> np.ndarray:
        """(Np, V, A, D, 3) float32: angle (rad), depth (m), width (m)."""
        shape = self.widths.shape
        out = np.empty(shape + (3,), dtype=np.float32)
        out[..., 0] = settings.angles.astype(np.float32)[None, None, :, None]
        out[..., 1] = settings.depths.astype(np.float32)
        out[..., 2] = self.widths
        return out


def candidate_geometry(points: np.ndarray, geometry: np.ndarray, settings: AnnotationSettings,
                       kernel: SlabKernel | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Widths, collision and empty flags (Np, V, A, D) of every candidate.

    points: (Np, 3) grasp points; geometry: (M, 3) object surface points used
    for the gripper checks; both in the object frame (m).
    """
    kernel = kernel or SlabKernel(settings)
    points = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    geometry = np.ascontiguousarray(np.asarray(geometry, dtype=np.float64).reshape(-1, 3))
    shape = (len(points),) + settings.shape
    widths = np.empty(shape, dtype=np.float32)
    collision = np.empty(shape, dtype=bool)
    empty = np.empty(shape, dtype=bool)
    tree = cKDTree(geometry)
    neighbours = tree.query_ball_point(points, settings.reach + 1e-9)
    if use_compiled(settings):
        indptr, indices = neighbour_csr(neighbours)
        g = settings.gripper
        _object_kernel(points, geometry, indptr, indices, kernel.frames, settings.angles,
                       settings.depths, g.height, g.depth_base, g.finger_width,
                       settings.max_width, settings.width_margin, widths, collision, empty)
        return widths, collision, empty
    for i, near in enumerate(neighbours):
        widths[i], collision[i], empty[i] = point_candidates(
            geometry[near] - points[i], kernel, settings.width_margin)
    return widths, collision, empty


def use_compiled(settings: AnnotationSettings) -> bool:
    """True when the numba kernels are installed and ``settings.use_numba`` asks for them."""
    return numba is not None and settings.use_numba


def neighbour_csr(neighbours) -> tuple[np.ndarray, np.ndarray]:
    """A list of index lists (k-d tree ball query) as CSR (indptr (N+1,), indices)."""
    counts = np.fromiter(map(len, neighbours), dtype=np.int64, count=len(neighbours))
    indptr = np.zeros(len(neighbours) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.fromiter(itertools.chain.from_iterable(neighbours), dtype=np.int64,
                          count=int(indptr[-1]))
    return indptr, indices


def _object_kernel_py(points, geometry, indptr, indices, frames, angles, depths, height, base,
                      finger, max_width, margin, widths, collision, empty):
    """Compiled twin of :func:`point_candidates` over all grasp points (float64 arithmetic).

    points (Np, 3), geometry (M, 3): object frame, m; indptr/indices: each
    grasp point's geometry neighbours within reach (CSR); frames (V, 3, 3)
    view rotations at angle 0; angles (A,) rad; depths (D,) m. Fills
    widths, collision, empty (Np, V, A, D) with the same rule.
    """
    nv, na, nd = frames.shape[0], angles.shape[0], depths.shape[0]
    cos, sin = np.cos(angles), np.sin(angles)
    half = na // 2 if na % 2 == 0 else na
    half_h, half_w = height / 2, max_width / 2
    x_lo, x_hi = -(base + finger), depths[nd - 1]
    rho_max2 = (half_w + finger) ** 2 + half_h ** 2
    core2 = min(finger, half_h) ** 2
    in_max = np.empty((na, nd + 1))
    out_min = np.empty((na, nd + 1))
    for i in range(points.shape[0]):
        rel = neighbour_offsets(geometry, indices, indptr[i], indptr[i + 1], points[i])
        m = rel.shape[0]
        for v in range(nv):
            for a in range(na):
                for b in range(nd + 1):
                    in_max[a, b] = -1.0
                    out_min[a, b] = np.inf
            dead = False
            for j in range(m):
                where, u, w, b = view_point(rel[j], frames[v], depths, base, x_lo, x_hi,
                                            core2, rho_max2)
                if where == IN_CORE:
                    dead = True
                    break
                if where == OUT_OF_REACH:
                    continue
                for a in range(half):
                    ay = abs(cos[a] * u + sin[a] * w)
                    az = abs(cos[a] * w - sin[a] * u)
                    # angle a: slab |z|, opening |y|; angle a + A/2 (a quarter turn): swapped
                    if az < half_h:
                        if b > 0 and ay < half_w:
                            in_max[a, b] = max(in_max[a, b], ay)
                        else:
                            out_min[a, b] = min(out_min[a, b], ay)
                    if ay < half_h and a + half < na:
                        if b > 0 and az < half_w:
                            in_max[a + half, b] = max(in_max[a + half, b], az)
                        else:
                            out_min[a + half, b] = min(out_min[a + half, b], az)
            for a in range(na):
                reach, near = -1.0, np.inf
                for k in range(nd):
                    if dead:
                        widths[i, v, a, k] = max_width
                        collision[i, v, a, k] = True
                        empty[i, v, a, k] = False
                        continue
                    reach = max(reach, in_max[a, k + 1])
                    near = min(near, out_min[a, k + 1])
                    wd = max_width if reach < 0 else min(2 * reach + margin, max_width)
                    wd32 = np.float32(wd)
                    outer = np.float64(wd32) / 2 + finger
                    widths[i, v, a, k] = wd32
                    empty[i, v, a, k] = reach < 0
                    collision[i, v, a, k] = near < outer or out_min[a, 0] < outer


_object_kernel = (numba.njit(cache=True, nogil=True)(_object_kernel_py) if numba is not None
                  else _object_kernel_py)


def candidate_scores(mesh: MeshRaycaster, points: np.ndarray, widths: np.ndarray,
                     valid: np.ndarray, settings: AnnotationSettings,
                     kernel: SlabKernel | None = None) -> np.ndarray:
    """Force-closure labels (Np, V, A, D) float32 of the ``valid`` candidates, -1 elsewhere.

    One ray batch per ``settings.points_per_batch`` grasp points.
    """
    kernel = kernel or SlabKernel(settings)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    scores = np.full(widths.shape, -1.0, dtype=np.float32)
    mus = np.asarray(settings.mus, dtype=np.float64)
    for start in range(0, len(points), settings.points_per_batch):
        sl = slice(start, start + settings.points_per_batch)
        idx = np.nonzero(valid[sl])
        if len(idx[0]) == 0:
            continue
        point_idx = idx[0] + start
        centres, axes = kernel.rays(points, point_idx, idx[1], idx[2], idx[3])
        contacts = find_contacts(mesh, centres, axes, widths[sl][idx].astype(np.float64))
        scores[sl][idx] = labels_from_angles(antipodal_angle(contacts), mus)
    return scores


def label_object(mesh: trimesh.Trimesh, settings: AnnotationSettings | None = None,
                 seed: int | None = None, points: np.ndarray | None = None) -> ObjectLabels:
    """All grasp labels of one mesh (object frame, metres).

    points: optional (Np, 3) grasp points; by default the mesh surface
    sampled at ``settings.grasp_point_voxel``. The gripper checks use the
    surface at ``settings.geometry_voxel`` (the same samples when the two
    voxel sizes agree).
    """
    settings = settings or AnnotationSettings()
    seed = settings.seed if seed is None else seed
    geometry = sample_surface(mesh, settings.geometry_voxel, settings.oversampling, seed)
    if points is None:
        if settings.grasp_point_voxel == settings.geometry_voxel:
            points = geometry
        else:
            points = sample_surface(mesh, settings.grasp_point_voxel, settings.oversampling, seed + 1)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    kernel = SlabKernel(settings)
    widths, collision, empty = candidate_geometry(points, geometry, settings, kernel)
    raycaster = MeshRaycaster.from_trimesh(mesh)
    scores = candidate_scores(raycaster, points, widths, ~collision & ~empty, settings, kernel)
    return ObjectLabels(points.astype(np.float32), widths, collision, scores)


# -- the slow twin -----------------------------------------------------------
def candidate_grasp(points: np.ndarray, view, angle, depth, width,
                    settings: AnnotationSettings) -> GraspGroup:
    """Candidates (point, view index, angle index, depth index) at ``width`` (m) as a
    GraspGroup in the object frame; scalars or (N,) arrays, (N, 3) or (3,) points."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    view, angle, depth = (np.atleast_1d(np.asarray(i, dtype=np.int64)) for i in (view, angle, depth))
    n = max(len(points), len(view), len(angle), len(depth))
    points = np.broadcast_to(points, (n, 3))
    approach = np.broadcast_to(-settings.views[view], (n, 3))
    return GraspGroup.from_approach(points, approach, np.broadcast_to(settings.angles[angle], (n,)),
                                    np.broadcast_to(settings.depths[depth], (n,)),
                                    np.broadcast_to(np.asarray(width, dtype=np.float64), (n,)),
                                    height=settings.gripper.height, frame_id="object")


def candidate_naive(geometry: np.ndarray, point: np.ndarray, view: int, angle: int, depth: int,
                    settings: AnnotationSettings) -> tuple[float, bool, bool]:
    """Width (m), collision and empty of one candidate, straight from the definition.

    Puts every geometry point into the candidate's gripper frame, takes the
    largest |y| among the points between the jaws (finger slab, |y| below
    max_width / 2), adds the margin, caps at max_width, then asks the
    gripper model's dense check (:func:`check_collision_naive`) at that width.
    """
    g = settings.gripper
    grasp = candidate_grasp(point, view, angle, depth, settings.max_width, settings)
    local = (np.asarray(geometry, float) - grasp.translations[0]) @ grasp.rotations[0]
    x, ay, z = local[:, 0], np.abs(local[:, 1]), local[:, 2]
    slab = (np.abs(z) < g.height / 2) & (x > -g.depth_base) & (x < settings.depths[depth])
    inner = slab & (ay < settings.max_width / 2)
    if not inner.any():
        width = settings.max_width
    else:
        width = min(2 * float(np.float32(ay[inner].max())) + settings.width_margin,
                    settings.max_width)
    width = float(np.float32(width))
    result = check_collision_naive(candidate_grasp(point, view, angle, depth, width, settings),
                                   geometry, g)
    return width, bool(result.collision[0]), not inner.any()
