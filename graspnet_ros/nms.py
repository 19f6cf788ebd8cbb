"""Pose non-maximum suppression of grasps.

Greedy, best score first: a grasp is suppressed when a better grasp that was
kept lies within ``translation_threshold`` metres (grasp points) AND within
``rotation_threshold`` radians (angle of the relative rotation R1^T R2).
Defaults are the benchmark's 0.03 m and 30 degrees.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .grasp import GraspGroup


def rotation_angles(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Angles (rad) of the relative rotations between (P, 3, 3) stacks r1 and r2."""
    trace = np.einsum("pij,pij->p", r1, r2)  # trace(r1^T r2)
    return np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0))


def pose_nms(grasps: GraspGroup, translation_threshold: float = 0.03,
             rotation_threshold: float = np.deg2rad(30.0)) -> np.ndarray:
    """Indices of the grasps kept by pose NMS, best score first.

    Candidate neighbours come from one k-d tree pair query; rotation angles
    are computed for those pairs only. The greedy pass then walks the grasps
    once in score order (it is sequential by definition).
    """
    n = len(grasps)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if translation_threshold < 0 or rotation_threshold < 0:
        raise ValueError("NMS thresholds must be >= 0 (metres, radians)")
    order = np.argsort(-grasps.scores, kind="stable")
    t = grasps.translations[order]
    rot = grasps.rotations[order]
    # Pairs (i < j in score rank) closer than the threshold; strict inequality below.
    pairs = cKDTree(t).query_pairs(translation_threshold, output_type="ndarray")
    if len(pairs):
        i, j = pairs.min(axis=1), pairs.max(axis=1)
        close = (np.linalg.norm(t[i] - t[j], axis=1) < translation_threshold) & (
            rotation_angles(rot[i], rot[j]) < rotation_threshold)
        i, j = i[close], j[close]
    else:
        i = j = np.zeros(0, dtype=np.int64)
    # CSR adjacency: for each better grasp, the worse grasps it would suppress.
    sort = np.argsort(i, kind="stable")
    i, j = i[sort], j[sort]
    starts = np.searchsorted(i, np.arange(n + 1))
    suppressed = np.zeros(n, dtype=bool)
    keep = []
    for k in range(n):
        if suppressed[k]:
            continue
        keep.append(k)
        suppressed[j[starts[k]:starts[k + 1]]] = True
    return order[np.asarray(keep, dtype=np.int64)]


def pose_nms_naive(grasps: GraspGroup, translation_threshold: float = 0.03,
                   rotation_threshold: float = np.deg2rad(30.0)) -> np.ndarray:
    """O(N^2) reference implementation of :func:`pose_nms` for tests."""
    order = np.argsort(-grasps.scores, kind="stable")
    kept: list[int] = []
    for idx in order:
        ok = True
        for k in kept:
            dt = np.linalg.norm(grasps.translations[idx] - grasps.translations[k])
            ang = rotation_angles(grasps.rotations[idx][None], grasps.rotations[k][None])[0]
            if dt < translation_threshold and ang < rotation_threshold:
                ok = False
                break
        if ok:
            kept.append(int(idx))
    return np.asarray(kept, dtype=np.int64)
