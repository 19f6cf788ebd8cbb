"""Settled scenes for live use: the run loop, the synthetic camera node, benches.

Objects of the dataset's object set are prepared once (mesh and convex collision
pieces, :func:`graspnet_ros.dataset.objects.prepare_object`) and cached under
``$GRASPNET_ROS_CACHE/objects`` (default ``~/.cache/graspnet_ros/objects``), then
dropped on the table and settled by MuJoCo (:mod:`.physics`). Frames: the table
frame (z up, table top at z = 0), metres.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from ...params import cache_root

#: Seen (YCB) objects whose collision pieces are a single hull (prepared in < 1 s).
QUICK_SEEN = (2, 6, 7, 24)
#: Ids the loop draws its other objects from: pybullet random_urdfs (ids 55-167 and seven
#: more) and, since the object set grew, YCB and procedural objects (ids 168-254 but those
#: seven; graspnet_ros/data/object_set.yaml); all prepare in under 3 s. The default
#: scenes (seed 0) hold the same random objects as before.
NOVEL_RANGE = (55, 255)
CACHE_VERSION = 1


# ---------------------------------------------------------------------------
# objects and their cache


def cache_dir() -> Path:
    """``$GRASPNET_ROS_CACHE/objects`` or ``~/.cache/graspnet_ros/objects``."""
    return cache_root() / "objects"


def _cache_file(obj_id: int) -> Path:
    from ..objects import get_spec

    spec = get_spec(obj_id)
    key = hashlib.sha1(f"{CACHE_VERSION}:{spec}".encode()).hexdigest()[:10]
    return cache_dir() / f"{obj_id:03d}_{key}.npz"


def load_object(obj_id: int, use_cache: bool = True):
    """The :class:`~graspnet_ros.dataset.objects.PreparedObject` of ``obj_id``
    (metres, object frame), from the cache when present; prepared objects are
    written to the cache atomically (npz of vertex and face arrays)."""
    from ..objects import PreparedObject, get_spec, prepare_object

    path = _cache_file(obj_id)
    if use_cache and path.is_file():
        try:
            with np.load(path) as z:
                mesh = trimesh.Trimesh(z["mesh_v"], z["mesh_f"], process=False)
                pieces = [trimesh.Trimesh(z[f"piece{i}_v"], z[f"piece{i}_f"], process=False)
                          for i in range(int(z["num_pieces"]))]
            return PreparedObject(mesh, pieces)
        except (OSError, KeyError, ValueError):
            pass  # unreadable cache entry: prepare again and overwrite it
    prepared = prepare_object(get_spec(obj_id))
    if use_cache:
        arrays: dict[str, Any] = {"mesh_v": np.asarray(prepared.mesh.vertices),
                                  "mesh_f": np.asarray(prepared.mesh.faces),
                                  "num_pieces": np.array(len(prepared.pieces))}
        for i, p in enumerate(prepared.pieces):
            arrays[f"piece{i}_v"] = np.asarray(p.vertices)
            arrays[f"piece{i}_f"] = np.asarray(p.faces)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".npz", prefix=f".{path.stem}_", dir=path.parent)
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return prepared


def default_object_ids(num: int, seed: int) -> list[int]:
    """``num`` object ids drawn with ``seed``: about a third quick seen (YCB)
    objects, the rest novel ones (sorted)."""
    if num < 0:
        raise ValueError(f"number of objects must be >= 0, got {num}")
    rng = np.random.default_rng(seed)
    n_seen = min(len(QUICK_SEEN), num // 3)
    seen = rng.choice(QUICK_SEEN, n_seen, replace=False) if n_seen else np.zeros(0, dtype=np.int64)
    novel = rng.choice(np.arange(*NOVEL_RANGE), num - n_seen, replace=False)
    return sorted(int(i) for i in np.concatenate([seen, novel]))


# ---------------------------------------------------------------------------
# scene


@dataclass
class SettledScene:
    """Objects settled on the table (table frame = robot base frame)."""

    obj_ids: list[int]
    meshes: list[trimesh.Trimesh]  # object frame, m
    pieces: list[list[trimesh.Trimesh]]  # convex collision pieces, object frame
    poses: np.ndarray  # (n, 4, 4) T_table<-object
    timings: dict[str, float] = field(default_factory=dict)  # s


def build_scene(obj_ids: list[int], seed: int = 0, use_cache: bool = True) -> SettledScene:
    """Prepare (or load from the cache) and settle the objects; objects that
    roll off the kept area are dropped. An empty list gives an empty table."""
    from .physics import PhysicsSettings, settle

    t0 = time.perf_counter()
    prepared = [load_object(int(i), use_cache) for i in obj_ids]
    t1 = time.perf_counter()
    if not prepared:
        return SettledScene([], [], [], np.zeros((0, 4, 4)), {"prepare": t1 - t0, "settle": 0.0})
    res = settle([p.pieces for p in prepared], seed, PhysicsSettings())
    keep = np.flatnonzero(res.kept)
    return SettledScene([int(obj_ids[i]) for i in keep], [prepared[i].mesh for i in keep],
                     [prepared[i].pieces for i in keep], res.poses[keep],
                     {"prepare": t1 - t0, "settle": time.perf_counter() - t1})


def camera_pose(centre: np.ndarray, distance: float = 0.55, elevation_deg: float = 70.0,
                azimuth_deg: float = -90.0) -> np.ndarray:
    """T_table<-camera of a camera looking at ``centre`` (x, y on the table, m)
    from above: ``distance`` m away, ``elevation_deg`` above the table."""
    from .cameras import look_at

    el, az = np.deg2rad(elevation_deg), np.deg2rad(azimuth_deg)
    target = np.array([centre[0], centre[1], 0.0])
    eye = target + distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    return look_at(eye, target)
