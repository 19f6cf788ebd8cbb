"""Procedural household objects: bottles, boxes, cans, mugs with handles, bowls.

Each object is named ``<family>_<NN>`` (e.g. ``mug_03``); its dimensions are
drawn from the family's ranges (:data:`RANGES`, metres, real-world sizes)
with a generator seeded by the family and the index, so a name always gives
the same mesh. Meshes are watertight triangle meshes in metres, in an
object frame with z up: the base stands on z = 0 and solids of revolution
turn about the z axis (``objects.prepare_object`` recentres them on their
bounding-box centre like every other object). Every object fits a 10 cm
parallel-jaw gripper somewhere: boxes are at most 7 cm thick, bottles and
cans at most 8.4 cm across, mugs have a handle and a rim wall, bowls a rim.
"""

from __future__ import annotations

import re

import numpy as np
import trimesh

#: The procedural families, in the order of their seeds.
FAMILIES = ("bottle", "box", "can", "mug", "bowl")
#: Base seed of the dimension draws (one generator per family and index).
SEED = 20261202
#: Sections of the solids of revolution (around z).
SECTIONS = 64
#: Longest profile segment of the solids of revolution (m).
MAX_SEGMENT = 0.005
#: Parameter ranges per family (m), each drawn uniformly.
RANGES: dict[str, dict[str, tuple[float, float]]] = {
    # body radius, body height, shoulder height, neck radius, neck height, cap height
    "bottle": {"radius": (0.025, 0.040), "body": (0.09, 0.16), "shoulder": (0.02, 0.05),
               "neck_radius": (0.010, 0.016), "neck": (0.010, 0.030), "cap": (0.012, 0.020)},
    # thickness, width (>= thickness), height (>= width)
    "box": {"thickness": (0.025, 0.070), "width": (0.050, 0.140), "height": (0.050, 0.220)},
    "can": {"radius": (0.026, 0.042), "height": (0.050, 0.140)},
    # body radius and height, wall and bottom thickness, handle ring radius (centre line) and tube radius
    "mug": {"radius": (0.035, 0.048), "height": (0.080, 0.115), "wall": (0.003, 0.006),
            "bottom": (0.006, 0.010), "handle": (0.022, 0.030), "tube": (0.005, 0.008)},
    # rim radius, depth, base radius as a share of the rim radius, wall thickness
    "bowl": {"radius": (0.055, 0.090), "depth": (0.040, 0.080), "base": (0.45, 0.60), "wall": (0.003, 0.006)},
}
#: Bounding-box ranges per family (m): low and high of the sorted extents
#: (smallest, middle, largest), implied by :data:`RANGES`; tests check them.
EXTENTS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "bottle": ((0.050, 0.050, 0.130), (0.080, 0.080, 0.260)),
    "box": ((0.025, 0.050, 0.050), (0.070, 0.140, 0.220)),
    "can": ((0.050, 0.052, 0.052), (0.084, 0.084, 0.140)),
    "mug": ((0.070, 0.080, 0.095), (0.096, 0.115, 0.140)),
    "bowl": ((0.040, 0.110, 0.110), (0.080, 0.180, 0.180)),
}
_NAME = re.compile(r"^([a-z]+)_(\d{2})$")


def parse_name(name: str) -> tuple[str, int]:
    """``"mug_03"`` -> ``("mug", 3)``; raises ValueError on other names or families."""
    match = _NAME.match(name)
    if not match or match.group(1) not in FAMILIES:
        raise ValueError(f"procedural object name '{name}' must be <family>_<NN> with family in {FAMILIES}")
    return match.group(1), int(match.group(2))


def parameters(family: str, index: int) -> dict[str, float]:
    """The dimensions (m; ``base`` of a bowl is a ratio) of one instance, drawn
    reproducibly from the family's :data:`RANGES` with the seed (SEED, family, index)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown procedural family '{family}'; use one of {FAMILIES}")
    ranges = RANGES[family]
    lo, hi = np.array([r[0] for r in ranges.values()]), np.array([r[1] for r in ranges.values()])
    draw = np.random.default_rng([SEED, FAMILIES.index(family), int(index)]).uniform(lo, hi)
    p = dict(zip(ranges, draw.tolist()))
    if family == "box":  # thickness <= width <= height, each still inside its own range
        p["width"] = max(p["width"], p["thickness"])
        p["height"] = max(p["height"], p["width"])
    return p


def _revolve(profile: np.ndarray) -> trimesh.Trimesh:
    """Solid of revolution about z of a (r, z) profile (m) that starts and ends on
    the axis, running outwards along the bottom and back inwards at the top."""
    profile = np.asarray(profile, dtype=np.float64)
    # points every <= MAX_SEGMENT along the profile, so the written model (no edge over 5 mm)
    # needs few extra splits of long, thin triangles
    steps = np.maximum(1, np.ceil(np.linalg.norm(np.diff(profile, axis=0), axis=1) / MAX_SEGMENT)).astype(int)
    t = np.concatenate([np.arange(n) / n for n in steps] + [[1.0]])
    seg = np.concatenate([np.full(n, i) for i, n in enumerate(steps)] + [[len(steps) - 1]])
    dense = profile[seg] + t[:, None] * (profile[np.minimum(seg + 1, len(profile) - 1)] - profile[seg])
    dense[-1] = profile[-1]
    mesh = trimesh.creation.revolve(dense, sections=SECTIONS)
    mesh.merge_vertices()
    return mesh


def _arc(start: np.ndarray, end: np.ndarray, n: int = 8) -> np.ndarray:
    """(n, 2) points from ``start`` to ``end`` (r, z) on a quarter-sine shoulder:
    r eases out from ``start``'s tangent (vertical) to ``end``'s (horizontal)."""
    s = np.linspace(0.0, 1.0, n + 1)[1:, None]
    return start + (end - start) * np.hstack([1.0 - np.cos(0.5 * np.pi * s), np.sin(0.5 * np.pi * s)])


def bottle(p: dict[str, float]) -> trimesh.Trimesh:
    """A bottle: chamfered cylindrical body, rounded shoulder, neck and a wider cap."""
    r, body, neck_r = p["radius"], p["body"], p["neck_radius"]
    top_shoulder = body + p["shoulder"]
    top_neck = top_shoulder + p["neck"]
    cap_r = neck_r + 0.002
    profile = np.vstack([[0.0, 0.0], [r - 0.003, 0.0], [r, 0.003], [r, body],
                         _arc(np.array([r, body]), np.array([neck_r, top_shoulder])),
                         [neck_r, top_neck], [cap_r, top_neck], [cap_r, top_neck + p["cap"]],
                         [0.0, top_neck + p["cap"]]])
    return _revolve(profile)


def box(p: dict[str, float]) -> trimesh.Trimesh:
    """A closed cardboard-like box standing on its thickness x width face."""
    return trimesh.creation.box(extents=(p["width"], p["thickness"], p["height"]),
                                transform=trimesh.transformations.translation_matrix([0, 0, 0.5 * p["height"]]))


def can(p: dict[str, float]) -> trimesh.Trimesh:
    """A food or drink can: a cylinder with rolled rims and a recessed lid."""
    r, h = p["radius"], p["height"]
    profile = [[0.0, 0.0], [r - 0.003, 0.0], [r, 0.004], [r, h - 0.004], [r - 0.0015, h],
               [r - 0.003, h], [r - 0.004, h - 0.003], [0.0, h - 0.003]]
    return _revolve(np.array(profile))


def mug(p: dict[str, float]) -> trimesh.Trimesh:
    """A mug: an open cylindrical cup (wall and bottom thickness) with a ring
    handle on its +x side, the handle's ends sunk into the wall."""
    r, h, w, b = p["radius"], p["height"], p["wall"], p["bottom"]
    body = _revolve(np.array([[0.0, 0.0], [r - 0.002, 0.0], [r, 0.002], [r, h], [r - w, h], [r - w, b], [0.0, b]]))
    ring_r = min(p["handle"], 0.5 * h - p["tube"] - 0.008)  # keep the handle inside the body's height
    ring = trimesh.creation.torus(ring_r, p["tube"], major_sections=48, minor_sections=16)
    ring.apply_transform(trimesh.transformations.rotation_matrix(0.5 * np.pi, [1, 0, 0]))  # ring in the xz plane
    ring.apply_translation([r, 0.0, 0.5 * h])
    half = trimesh.creation.box(bounds=[[r - 0.5 * w, -0.05, -0.05], [r + 0.1, 0.05, h + 0.05]])
    handle = trimesh.boolean.intersection([ring, half], engine="manifold")
    mesh = trimesh.boolean.union([body, handle], engine="manifold")
    mesh.merge_vertices()
    return mesh


def bowl(p: dict[str, float]) -> trimesh.Trimesh:
    """A bowl: flat base, walls curving out to the rim, constant wall thickness."""
    r, d, w = p["radius"], p["depth"], p["wall"]
    base = p["base"] * r
    outer = np.array([base, 0.0]) + (np.array([r, d]) - np.array([base, 0.0])) * _ease_out(12)
    inner = np.array([base - w, w]) + (np.array([r - w, d]) - np.array([base - w, w])) * _ease_out(12)
    profile = np.vstack([[0.0, 0.0], [base, 0.0], outer, inner[::-1], [[base - w, w], [0.0, w]]])
    return _revolve(profile)


def _ease_out(n: int) -> np.ndarray:
    """(n, 2) fractions (r, z) in (0, 1] of a wall that leaves the base
    horizontally and reaches the rim vertically (a quarter ellipse)."""
    s = np.linspace(0.0, 1.0, n + 1)[1:, None]
    return np.hstack([np.sin(0.5 * np.pi * s), 1.0 - np.cos(0.5 * np.pi * s)])


_BUILDERS = {"bottle": bottle, "box": box, "can": can, "mug": mug, "bowl": bowl}


def make_mesh(name: str) -> trimesh.Trimesh:
    """The watertight mesh (m, z up, base on z = 0) of the procedural object ``name``."""
    family, index = parse_name(name)
    mesh = _BUILDERS[family](parameters(family, index))
    if not mesh.is_watertight or mesh.volume <= 0:
        raise ValueError(f"procedural object {name}: mesh is not a closed volume")
    return mesh
