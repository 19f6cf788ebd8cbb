"""Per-point view geometry shared by the compiled annotation kernels.

The object-label kernel (:mod:`.object_labels`) and the scene-collision
kernel (:mod:`.scene_collision`) both walk, per grasp point and view, the
points near the grasp point and ask the same question of each one: where
does it lie in the view's gripper frame (x = approach, y0 / z0 the
in-plane axes at angle 0)? :func:`neighbour_offsets` gathers the points
relative to the grasp point, :func:`view_point` answers the question; both
kernels then spread the answer over the angles their own way.

``numba`` is the optional accelerator (numba==0.68.1), None where it is not
installed; the kernels then run as plain Python and the callers use their
numpy paths instead.

Numba's on-disk cache (``cache=True``) checks only the source file of the
cached kernel, not the files of the functions it calls: after editing this
module, touch ``object_labels.py`` and ``scene_collision.py`` (or delete
``graspnet_ros/annotation/__pycache__/*.nbi``) so the cached kernels are
compiled again with the change.
"""

from __future__ import annotations

import numpy as np

try:  # optional accelerator: the kernels compiled (numba==0.68.1); numpy otherwise
    import numba
except ImportError:  # pragma: no cover - exercised where numba is not installed
    numba = None

#: :func:`view_point` outcomes
OUT_OF_REACH = 0  # outside the gripper's reach for this view: skip the point
IN_CORE = 1  # inside the base at every angle and width: every candidate of the view collides
IN_REACH = 2  # may touch some candidate: u, w and the depth bin are set


def _neighbour_offsets_py(cloud, indices, start, stop, origin):
    """(m, 3) float64 offsets cloud[indices[start:stop]] - origin, m = stop - start.

    cloud (N, 3) and origin (3,) in one frame, m; indices, start, stop: one
    grasp point's neighbours in a CSR neighbour list.
    """
    m = stop - start
    rel = np.empty((m, 3))
    for j in range(m):
        for c in range(3):
            rel[j, c] = cloud[indices[start + j], c] - origin[c]
    return rel


def _view_point_py(rel, frame, depths, base, x_lo, x_hi, core2, rho_max2):
    """Where one point lies in one view's gripper frame, in float64 arithmetic.

    rel (3,): the point minus the grasp point, object frame, m. frame (3, 3):
    the view's rotation at angle 0, columns x (approach), y0, z0. depths
    (D,) gripper depths, m; base: the gripper base depth b, m; x_lo, x_hi
    (m): the open x range of reach along the approach (x_lo = -(b + f));
    core2: squared radius (m^2) of the base core, the disc inside the base
    at every angle and width; rho_max2: squared in-plane radius (m^2) beyond
    which no candidate of the view reaches.

    Returns (where, u, w, bin): where is OUT_OF_REACH (x outside (x_lo,
    x_hi), x == -b exactly, or u^2 + w^2 >= rho_max2), IN_CORE (x < -b and
    u^2 + w^2 < core2) or IN_REACH; u, w (m) the in-plane coordinates along
    y0, z0 (0.0 when x is already out of reach); bin 0 for the base band
    x < -b, k + 1 when k depths lie at or below x (the finger slab), 0
    unless IN_REACH. The in-plane coordinates are computed only for points
    inside the x range, as the kernels' speed relies on.
    """
    x = rel[0] * frame[0, 0] + rel[1] * frame[1, 0] + rel[2] * frame[2, 0]
    if x <= x_lo or x >= x_hi or x == -base:
        return OUT_OF_REACH, 0.0, 0.0, 0
    u = rel[0] * frame[0, 1] + rel[1] * frame[1, 1] + rel[2] * frame[2, 1]
    w = rel[0] * frame[0, 2] + rel[1] * frame[1, 2] + rel[2] * frame[2, 2]
    r2 = u * u + w * w
    if x < -base and r2 < core2:
        return IN_CORE, u, w, 0
    if r2 >= rho_max2:
        return OUT_OF_REACH, u, w, 0
    b = 0
    if x > -base:
        b = 1
        for k in range(depths.shape[0]):
            if x >= depths[k]:
                b += 1
    return IN_REACH, u, w, b


if numba is not None:
    neighbour_offsets = numba.njit(cache=True, nogil=True, inline="always")(_neighbour_offsets_py)
    view_point = numba.njit(cache=True, nogil=True, inline="always")(_view_point_py)
else:  # pragma: no cover
    neighbour_offsets, view_point = _neighbour_offsets_py, _view_point_py
