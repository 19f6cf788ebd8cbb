"""Scene-level collision labels (paper section 3.3, second stage).

Each object's labelled candidates are posed in the scene (table frame:
T_table<-obj = cam0_wrt_table @ T_cam0<-obj) and checked with the
simplified gripper, at the width stored in the object's label, against
the rest of the scene: every other object's surface points (sampled
densely, one per ``scene_voxel`` cube) and a table point grid
(:func:`graspnet_ros.gripper.table_points`, top at z = 0) covering the
objects' footprint plus a margin.

Only candidates with a valid label (score > 0, hence free of self-collision
and not empty) are checked; every other candidate is labelled True
(colliding), so ``label > 0 & ~collision`` is exactly the set of usable
grasps, as the reference loaders use it.

The check reuses the object-level slab geometry: per grasp point, the scene
points within reach of its widest checked candidate are put into the view
frames, kept when inside the x range and in-plane radius of that view's
checked candidates, tested against the slabs of the checked angles only,
and compared with each checked candidate's finger and base regions at its
own width for all depths at once. Compiled with numba when installed, numpy
otherwise (identical flags); both are tested against
:func:`graspnet_ros.gripper.check_collision`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ..gripper import table_points
from ._kernel_geometry import IN_CORE, OUT_OF_REACH, neighbour_offsets, numba, view_point
from .object_labels import SlabKernel, neighbour_csr, slab_entries, use_compiled
from .settings import AnnotationSettings


@dataclass
class CandidateSet:
    """The candidates of one object to check in a scene (object frame), compact.

    Only the candidates with a valid label (score > 0) are kept: their flat
    index into the (Np, V, A, D) label block and their width, so a worker
    can hold every object of a dataset in memory.
    """

    points: np.ndarray  # (Np, 3) grasp points, m
    shape: tuple[int, int, int]  # (V, A, D)
    index: np.ndarray  # (K,) int64 sorted flat indices of the valid candidates
    widths: np.ndarray  # (K,) float32 their widths, m

    @classmethod
    def from_labels(cls, points: np.ndarray, widths: np.ndarray, scores: np.ndarray) -> "CandidateSet":
        """From label arrays: widths and scores (Np, V, A, D)."""
        scores = np.asarray(scores)
        index = np.flatnonzero(scores.reshape(-1) > 0)
        return cls(np.asarray(points, dtype=np.float64).reshape(-1, 3), tuple(scores.shape[1:]),
                   index, np.asarray(widths, dtype=np.float32).reshape(-1)[index])

    @property
    def nbytes(self) -> int:
        return self.points.nbytes + self.index.nbytes + self.widths.nbytes

    def rows(self) -> np.ndarray:
        """Grasp points (sorted) that have at least one valid candidate."""
        return np.unique(self.index // int(np.prod(self.shape)))

    def dense(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Widths (R, V, A, D) float32 and check mask (R, V, A, D) of grasp points ``rows``."""
        block = int(np.prod(self.shape))
        widths = np.zeros((len(rows), block), dtype=np.float32)
        check = np.zeros((len(rows), block), dtype=bool)
        point = self.index // block
        pos = np.searchsorted(rows, point)
        keep = (pos < len(rows)) & (rows[np.minimum(pos, len(rows) - 1)] == point)
        cols = self.index[keep] % block
        widths[pos[keep], cols] = self.widths[keep]
        check[pos[keep], cols] = True
        return widths.reshape((len(rows),) + self.shape), check.reshape((len(rows),) + self.shape)


def scene_table_points(object_points: np.ndarray, settings: AnnotationSettings) -> np.ndarray:
    """(T, 3) table grid (table frame, m) under the objects' footprint plus ``table_margin``."""
    lo = object_points[:, :2].min(axis=0) - settings.table_margin
    hi = object_points[:, :2].max(axis=0) + settings.table_margin
    size = hi - lo
    grid = table_points(float(size[0]), float(size[1]), settings.table_thickness,
                        settings.table_spacing)
    return grid + np.array([*(lo + hi) / 2, 0.0])


def scene_point_cloud(poses: np.ndarray, object_points: list[np.ndarray],
                      settings: AnnotationSettings) -> tuple[np.ndarray, np.ndarray]:
    """Scene points (N, 3) in the table frame and their owner (N,): object index, -1 table.

    object_points[i]: object i's surface points in its own frame (e.g.
    :func:`sample_surface` at ``scene_voxel``), posed by poses[i]
    (T_table<-obj, (4, 4)); the table grid is added under them.
    """
    clouds = [np.asarray(pts, float) @ pose[:3, :3].T + pose[:3, 3]
              for pts, pose in zip(object_points, poses)]
    owners = [np.full(len(pts), i) for i, pts in enumerate(object_points)]
    objects = np.concatenate(clouds) if clouds else np.zeros((0, 3))
    table = scene_table_points(objects, settings) if len(objects) else np.zeros((0, 3))
    return (np.concatenate([objects, table]),
            np.concatenate(owners + [np.full(len(table), -1)]).astype(np.int64))


def candidate_scene_collision(candidates: CandidateSet, pose: np.ndarray, scene: np.ndarray,
                              owner: np.ndarray, index: int, settings: AnnotationSettings,
                              tree: cKDTree | None = None, kernel: SlabKernel | None = None
                              ) -> np.ndarray:
    """Collision label (Np, V, A, D) bool of one object's candidates in a scene.

    candidates: the object's labels (object frame); pose: T_table<-obj
    (4, 4); scene, owner: :func:`scene_point_cloud` output (table frame);
    index: this object's owner index (its own points are ignored). True
    where the candidate collides with the rest of the scene or was not
    checked (no valid label).
    """
    kernel = kernel or SlabKernel(settings)
    tree = tree or cKDTree(scene)
    g = settings.gripper
    nd = settings.num_depths
    if candidates.shape != settings.shape:
        raise ValueError(f"candidate blocks {candidates.shape} do not match the settings' "
                         f"(V, A, D) = {settings.shape}")
    rot, trans = np.asarray(pose[:3, :3], float), np.asarray(pose[:3, 3], float)
    result = np.ones((len(candidates.points),) + settings.shape, dtype=bool)
    todo = candidates.rows()
    if len(todo) == 0:
        return result
    widths, check = candidates.dense(todo)
    posed = candidates.points[todo] @ rot.T + trans
    # reach of each grasp point's widest candidate
    point = candidates.index // int(np.prod(candidates.shape))  # sorted, like todo
    widest = np.maximum.reduceat(candidates.widths.astype(np.float64),
                                 np.flatnonzero(np.r_[True, point[1:] != point[:-1]]))
    x_reach = max(g.depth_base + g.finger_width, float(settings.depths[-1]))
    radius = np.sqrt(x_reach ** 2 + (widest / 2 + g.finger_width) ** 2 + (g.height / 2) ** 2)
    neighbours = tree.query_ball_point(posed, radius + 1e-9)
    if use_compiled(settings):
        indptr, indices = neighbour_csr(neighbours)
        others = owner[indices] != index
        keep = np.concatenate([[0], np.cumsum(others)])
        collide = np.zeros(check.shape, dtype=bool)
        _scene_kernel(np.ascontiguousarray(posed), np.ascontiguousarray(rot),
                      np.ascontiguousarray(scene, dtype=np.float64), keep[indptr], indices[others],
                      kernel.frames, settings.angles, settings.depths, g.height, g.depth_base,
                      g.finger_width, settings.max_width, widths, check, collide)
        result[todo] = ~check | collide
        return result
    depth_index = np.arange(nd)
    for row, i in enumerate(todo):
        near = np.asarray(neighbours[row], dtype=np.int64)
        near = near[owner[near] != index]
        if len(near) == 0:
            result[i] = ~check[row]
            continue
        rel = (scene[near] - posed[row]) @ rot  # object-frame coordinates
        ent = slab_entries(rel, kernel, view_mask=check[row].any(axis=(1, 2)))
        collide = np.zeros(check[row].shape, dtype=bool)
        collide[ent.dead] = True
        wanted = check[row].any(axis=2)[ent.view, ent.angle]
        view, angle, bins, y = ent.view[wanted], ent.angle[wanted], ent.bin[wanted], ent.abs_y[wanted]
        half = widths[row][view, angle] / 2  # (E, D)
        y = y[:, None]
        finger = ((bins[:, None] >= 1) & (depth_index[None] >= bins[:, None] - 1)
                  & (y > half) & (y < half + g.finger_width))
        base = (bins[:, None] == 0) & (y < half + g.finger_width)
        e, d = np.nonzero(finger | base)
        collide[view[e], angle[e], d] = True
        result[i] = ~check[row] | collide
    return result


def _scene_kernel_py(posed, rot, scene, indptr, indices, frames, angles, depths, height, base,
                     finger, max_width, widths, check, collide):
    """Compiled twin of the per-point loop of :func:`candidate_scene_collision`.

    posed (T, 3): grasp points in the table frame; rot: the object's rotation
    T_table<-obj; scene (S, 3) table frame; indptr/indices: each grasp
    point's scene neighbours other than its own object (CSR); widths, check
    (T, V, A, D): the candidates. Sets collide[t, v, a, d] where a checked
    candidate's finger or base holds a scene point (float64 arithmetic).
    """
    nv, na, nd = frames.shape[0], angles.shape[0], depths.shape[0]
    cos, sin = np.cos(angles), np.sin(angles)
    half = na // 2 if na % 2 == 0 else na
    half_h = height / 2
    x_lo = -(base + finger)
    core2 = min(finger, half_h) ** 2
    wanted = np.zeros(na, dtype=np.bool_)
    for t in range(posed.shape[0]):
        offsets = neighbour_offsets(scene, indices, indptr[t], indptr[t + 1], posed[t])
        m = offsets.shape[0]
        rel = np.zeros((m, 3))  # object frame
        for j in range(m):
            for c in range(3):
                for r in range(3):
                    rel[j, c] += offsets[j, r] * rot[r, c]
        for v in range(nv):
            # reach of this view's checked candidates: deepest depth, widest opening
            deepest, widest = -1, -1.0
            for a in range(na):
                wanted[a] = False
                for k in range(nd):
                    if check[t, v, a, k]:
                        wanted[a] = True
                        deepest = max(deepest, k)
                        widest = max(widest, np.float64(widths[t, v, a, k]))
            if deepest < 0:
                continue
            x_hi = depths[deepest]
            rho_max2 = (widest / 2 + finger) ** 2 + half_h ** 2
            for j in range(m):
                where, u, w, b = view_point(rel[j], frames[v], depths, base, x_lo, x_hi,
                                            core2, rho_max2)
                if where == IN_CORE:
                    collide[t, v] = True
                    break
                if where == OUT_OF_REACH:
                    continue
                for a in range(half):
                    if not (wanted[a] or (a + half < na and wanted[a + half])):
                        continue
                    ay = abs(cos[a] * u + sin[a] * w)
                    az = abs(cos[a] * w - sin[a] * u)
                    # angle a: slab |z|, opening |y|; angle a + A/2 (a quarter turn): swapped
                    if az < half_h and wanted[a]:
                        _mark(t, v, a, ay, b, nd, finger, widths, check, collide)
                    if ay < half_h and a + half < na and wanted[a + half]:
                        _mark(t, v, a + half, az, b, nd, finger, widths, check, collide)


def _mark_py(t, v, a, y, b, nd, finger, widths, check, collide):
    """A point at |y| in the slab of (t, v, a), in depth bin b (0: base band): flag the
    checked depths whose finger (w/2 < |y| < w/2 + f, bins up to the depth) or base
    (|y| < w/2 + f) holds it."""
    for k in range(max(b - 1, 0), nd):
        if check[t, v, a, k]:
            jaw = np.float64(widths[t, v, a, k]) / 2
            if y < jaw + finger and (b == 0 or y > jaw):
                collide[t, v, a, k] = True


if numba is not None:
    _mark = numba.njit(cache=True, nogil=True, inline="always")(_mark_py)
    _scene_kernel = numba.njit(cache=True, nogil=True)(_scene_kernel_py)
else:  # pragma: no cover
    _mark, _scene_kernel = _mark_py, _scene_kernel_py
