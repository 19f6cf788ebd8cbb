"""RViz markers of grasps: one LINE_LIST gripper outline per grasp, coloured by score."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from ..grasp import GraspGroup
from ..viz.gripper_lines import gripper_polylines

__all__ = ["grasp_markers", "score_colors"]

# segments of gripper_polylines' 6 points: the jaws' U and the approach tail
_SEGMENTS = np.array([0, 1, 1, 2, 2, 3, 4, 5])


def score_colors(scores: np.ndarray, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """(N, 3) RGB in [0, 1]: red (low score) through yellow to green (high)."""
    s = np.clip((np.asarray(scores, float) - low) / max(high - low, 1e-9), 0.0, 1.0)
    return np.stack([np.clip(2.0 * (1.0 - s), 0, 1), np.clip(2.0 * s, 0, 1), np.zeros_like(s)], axis=1)


def grasp_markers(grasps: GraspGroup, header: Header, line_width: float = 0.003,
                  ns: str = "grasps", lifetime: float = 0.0) -> MarkerArray:
    """A DELETEALL marker (clears the previous set) followed by one LINE_LIST per grasp.

    Colours: score mapped red -> green over [0, 1] (the dataset's score range),
    best grasp drawn opaque and the others at 0.8 alpha.
    """
    out = MarkerArray(markers=[Marker(header=header, ns=ns, action=Marker.DELETEALL)])
    if len(grasps) == 0:
        return out
    lines = gripper_polylines(grasps)[:, _SEGMENTS]  # (N, 8, 3)
    colors = score_colors(grasps.scores)
    life = Duration(sec=int(lifetime), nanosec=int((lifetime % 1) * 1e9))
    for i, (pts, c) in enumerate(zip(lines.tolist(), colors.tolist())):
        m = Marker(header=header, ns=ns, id=i, type=Marker.LINE_LIST, action=Marker.ADD, lifetime=life)
        m.pose.orientation.w = 1.0
        m.scale.x = float(line_width)
        m.color = ColorRGBA(r=c[0], g=c[1], b=c[2], a=1.0 if i == 0 else 0.8)
        m.points = [Point(x=p[0], y=p[1], z=p[2]) for p in pts]
        out.markers.append(m)
    return out
