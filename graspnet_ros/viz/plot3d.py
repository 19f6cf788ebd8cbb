"""Headless 3D pictures of point clouds with grasps coloured by score."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..grasp import GraspGroup  # noqa: E402
from .gripper_lines import gripper_polylines  # noqa: E402


def plot_grasps(points: np.ndarray, grasps: GraspGroup, path: str | Path, title: str = "",
                max_points: int = 6000, elev: float = 25.0, azim: float = -60.0) -> Path:
    """Write a PNG of ``points`` (M, 3) and ``grasps`` (same frame, m), colour = score."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pts = points[rng.choice(len(points), min(max_points, len(points)), replace=False)] if len(points) else points
    fig = plt.figure(figsize=(7, 6), dpi=110)
    ax = fig.add_subplot(projection="3d")
    if len(pts):
        ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], s=1.5, c="0.35", alpha=0.6, linewidths=0)
    cmap = plt.get_cmap("RdYlGn")
    lines = gripper_polylines(grasps)
    for line, score in zip(lines, grasps.scores):
        colour = cmap(float(np.clip(score, 0, 1)))
        ax.plot(*line[:4].T, color=colour, linewidth=1.4)
        ax.plot(*line[4:].T, color=colour, linewidth=1.4)
    allpts = np.concatenate([pts.reshape(-1, 3), lines.reshape(-1, 3)]) if len(lines) else pts
    if len(allpts):
        centre, half = allpts.mean(axis=0), (allpts.max(axis=0) - allpts.min(axis=0)).max() / 2
        for setter, c in zip((ax.set_xlim, ax.set_ylim, ax.set_zlim), centre):
            setter(c - half, c + half)
    ax.set_xlabel(f"x [m] ({grasps.frame_id})")
    ax.set_ylabel("y [m]")
    ax.set_zlabel("z [m]")
    ax.view_init(elev=elev, azim=azim)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, shrink=0.6, label="grasp score s = 1.1 - mu")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
