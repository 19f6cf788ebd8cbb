"""What a real lab shows around the table: scene kind ``lab`` of the synthetic generator.

The default scene kind, ``tabletop``, renders the settled objects on a
1.6 m square table top and nothing else, so nearly every valid pixel lies on
the table plane. A ``lab`` scene keeps the same objects, poses and camera
arc and adds what real GraspNet-1Billion frames also hold:

* a table of finite size with visible edges: a top slab (its upper face at
  z = 0, 2.5-5 cm thick) and four legs, 0.6-0.9 m above the floor, with one
  of a few table materials (albedo and gloss, jittered per scene);
* the floor, a back wall a metre or two behind the table and sometimes a
  side wall;
* a robot arm (the KUKA iiwa or the Franka Panda meshes that
  ``pybullet_data`` ships, posed by forward kinematics of their URDF) on the
  table across from the cameras, as the real frames show the robot behind
  the objects;
* a few distractors: cabinets, boxes and bins on the floor beside the table
  and sometimes a box at the far end of the table top.

Frame: the table frame of the generator (metres, z up, origin on the table
top at the clutter's centre, where the objects were dropped). The table top
is not centred on the origin: its edge on the cameras' side is 0.35-0.6 m
from it, the far edge 0.7-1.0 m. Layouts are built in an "arc frame" (u
towards the middle of the camera arc, w to its left, z up) and rotated by
the arc's yaw into the table frame.

Everything here is background: the raycaster indexes its parts after the
table, so the label image reads 0 on them, the object annotations never
list them, and the stereo and time-of-flight sensor models see them because
they ray-cast the same :class:`~graspnet_ros.dataset.synthetic.render.SceneRaycaster`.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from ...cameras.mount import rpy_to_matrix

#: Scene kinds of the generator: objects on an endless-looking table, or the lab around it.
SCENE_KINDS = ("tabletop", "lab")

#: Table materials: (name, RGB albedo in [0, 1], gloss range). The grey level is the infrared albedo.
TABLE_MATERIALS = (
    ("white laminate", (0.84, 0.83, 0.80), (0.1, 0.4)),
    ("light wood", (0.72, 0.58, 0.42), (0.0, 0.3)),
    ("dark wood", (0.36, 0.25, 0.17), (0.1, 0.4)),
    ("grey melamine", (0.52, 0.52, 0.54), (0.0, 0.2)),
    ("black", (0.10, 0.10, 0.11), (0.2, 0.5)),
)

#: The arms on disk after ``pip install pybullet``: URDF (relative to pybullet_data), two
#: nominal joint configurations (rad: "ready", folded over the base, and "reaching", the hand
#: 0.15-0.3 m above the table top 0.7-0.8 m out), link albedo.
ROBOTS = {
    "kuka_iiwa": ("kuka_iiwa/model.urdf", ((0.0, 0.5, 0.0, -1.4, 0.0, 0.9, 0.0), (0.0, 1.1, 0.0, -0.9, 0.0, 1.1, 0.0)),
                  (0.90, 0.45, 0.10)),
    "franka_panda": ("franka_panda/panda.urdf",
                     ((0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8), (0.0, 0.7, 0.0, -1.5, 0.0, 2.2, 0.8)), (0.86, 0.86, 0.84)),
}


@dataclass(frozen=True)
class LabSettings:
    """Ranges a lab scene is drawn from (metres unless stated)."""

    table_height: tuple[float, float] = (0.6, 0.9)  # floor to table top
    table_near: tuple[float, float] = (0.35, 0.6)  # origin to the table edge on the cameras' side
    table_far: tuple[float, float] = (0.7, 1.0)  # origin to the edge on the robot's side
    table_side: tuple[float, float] = (0.45, 0.8)  # origin to each side edge
    table_thickness: tuple[float, float] = (0.025, 0.05)
    back_wall: tuple[float, float] = (0.6, 2.0)  # far table edge to the back wall
    side_wall: tuple[float, float] = (0.5, 1.5)  # side table edge to the side wall ...
    side_wall_probability: float = 0.5  # ... which not every scene has
    room_height: float = 2.7  # walls' height above the floor
    robot_inset: tuple[float, float] = (0.12, 0.22)  # far table edge to the robot base's centre
    robot_clearance: float = 0.38  # no robot vertex within this horizontal radius of the origin ...
    robot_clear_height: float = 0.45  # ... below this height (the clutter stays within 0.3 m)
    floor_distractors: tuple[int, int] = (2, 4)
    table_distractor_probability: float = 0.5


@dataclass
class LabScene:
    """Background geometry and materials of one lab scene, in the table frame (m).

    ``table`` becomes the raycaster's table (index n after the n objects),
    ``parts`` the background after it (indices n + 1 ...).
    """

    table: trimesh.Trimesh
    table_colour: np.ndarray  # (3,) RGB albedo
    table_gloss: float
    table_material: str
    table_height: float  # m, floor to table top
    parts: list[trimesh.Trimesh] = field(default_factory=list)
    part_names: list[str] = field(default_factory=list)  # "floor", "wall", "leg", "robot", "distractor"
    part_colours: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (k, 3) RGB albedo
    part_gloss: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,)
    robot: str = ""

    def colours(self) -> np.ndarray:
        """(1 + k, 3) RGB albedo of the table then each part (raycaster indices n, n + 1, ...)."""
        return np.vstack([self.table_colour[None], self.part_colours.reshape(-1, 3)])

    def gloss(self) -> np.ndarray:
        """(1 + k,) glossiness of the table then each part."""
        return np.concatenate([[self.table_gloss], self.part_gloss])

    def indices(self, name: str, num_objects: int) -> np.ndarray:
        """Raycaster indices of the parts called ``name`` in a scene of ``num_objects`` objects."""
        return num_objects + 1 + np.flatnonzero(np.array(self.part_names) == name)


def _box(extents, centre) -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=np.asarray(extents, float))
    box.apply_translation(np.asarray(centre, float))
    return box


def _quad(corners) -> trimesh.Trimesh:
    """Two triangles through four corners (4, 3), in order around the quad."""
    return trimesh.Trimesh(np.asarray(corners, float), np.array([[0, 1, 2], [0, 2, 3]]), process=False)


# ---------------------------------------------------------------------------
# robot arms


@functools.cache
def _urdf_chain(urdf: str) -> tuple[dict, list]:
    """({link: (mesh path, T_link<-mesh)}, joints in file order as (name, type,
    parent, child, T_parent<-joint, axis)) of a URDF under pybullet_data."""
    import pybullet_data

    path = Path(pybullet_data.getDataPath()) / urdf
    root = ET.parse(path).getroot()

    def origin(el) -> np.ndarray:
        o = el.find("origin") if el is not None else None
        if o is None:
            return np.eye(4)
        return rpy_to_matrix([float(v) for v in o.get("xyz", "0 0 0").split()],
                             [float(v) for v in o.get("rpy", "0 0 0").split()])

    links = {}
    for link in root.findall("link"):
        for kind in ("collision", "visual"):  # collision meshes: coarser, quicker to ray-cast
            el = link.find(kind)
            mesh = el.find("geometry/mesh") if el is not None else None
            if mesh is not None:
                name = mesh.get("filename").replace("package://", "")
                links[link.get("name")] = (path.parent / name, origin(el))
                break
    joints = []
    for j in root.findall("joint"):
        axis = j.find("axis")
        joints.append((j.get("name"), j.get("type"), j.find("parent").get("link"), j.find("child").get("link"),
                       origin(j), np.array([float(v) for v in (axis.get("xyz") if axis is not None else "0 0 1")
                                            .split()])))
    return links, joints


@functools.cache
def _link_mesh(path: Path) -> trimesh.Trimesh:
    return trimesh.load(path, force="mesh", process=False)


def robot_meshes(name: str, q: np.ndarray | list[float], T_table_base: np.ndarray) -> list[trimesh.Trimesh]:
    """The arm ``name`` (a key of :data:`ROBOTS`) at joint angles ``q`` (rad,
    one per revolute joint in URDF order) with its base link at ``T_table_base``:
    one mesh per link in the table frame (m)."""
    links, joints = _urdf_chain(ROBOTS[name][0])
    child_of = {j[3] for j in joints}
    base = [n for n in links if n not in child_of] or [joints[0][2]]
    poses = {base[0]: np.asarray(T_table_base, float)}
    angles = iter(np.asarray(q, float))
    for _jname, jtype, parent, child, T_pj, axis in joints:  # URDF chains list parents first
        T = poses[parent] @ T_pj
        if jtype in ("revolute", "continuous"):
            a = next(angles, 0.0)
            R = trimesh.transformations.rotation_matrix(a, axis / np.linalg.norm(axis))
            T = T @ R
        poses[child] = T
    out = []
    for link, (path, T_lm) in links.items():
        if link in poses:
            out.append(_link_mesh(path).copy().apply_transform(poses[link] @ T_lm))
    return out


def place_robot(rng: np.random.Generator, settings: LabSettings, base_xy: np.ndarray, yaw: float,
                name: str) -> list[trimesh.Trimesh]:
    """The arm on the table top (z = 0) at ``base_xy`` (table frame, m) turned
    by ``yaw`` (rad), its joints drawn around one of its nominal poses; a draw
    that reaches into the clutter (see ``robot_clearance``) or the table is
    redrawn, and after ten the "ready" pose is used."""
    nominal = np.asarray(ROBOTS[name][1][int(rng.integers(len(ROBOTS[name][1])))])
    T = np.eye(4)
    T[:3, :3] = trimesh.transformations.rotation_matrix(yaw, (0, 0, 1))[:3, :3]
    T[:2, 3] = base_xy
    for attempt in range(11):
        q = nominal + rng.uniform(-0.4, 0.4, nominal.shape) if attempt < 10 else np.asarray(ROBOTS[name][1][0])
        meshes = robot_meshes(name, q, T)
        lift = -float(meshes[0].vertices[:, 2].min())  # the base link's underside onto the table
        v = np.vstack([m.vertices for m in meshes[1:]]) + (0, 0, lift)
        low = v[:, 2] < settings.robot_clear_height
        if (np.linalg.norm(v[low, :2], axis=1) > settings.robot_clearance).all() and v[:, 2].min() > 0.02:
            break
    for m in meshes:
        m.apply_translation((0, 0, lift))
    return meshes


# ---------------------------------------------------------------------------
# the scene


def lab_scene(rng: np.random.Generator, arc_yaw: float, settings: LabSettings = LabSettings()) -> LabScene:
    """A lab around the clutter at the table frame's origin, drawn from ``rng``.

    ``arc_yaw``: azimuth (rad, table frame) of the middle of the cameras'
    arc (:func:`~graspnet_ros.dataset.synthetic.cameras.viewpoints` with
    ``azimuth0 = arc_yaw - azimuth_span / 2``): the robot stands across the
    table from it, the back wall behind the robot.
    """
    s = settings
    u = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    height, thick = u(s.table_height), u(s.table_thickness)
    near, far, side_l, side_r = u(s.table_near), u(s.table_far), u(s.table_side), u(s.table_side)
    mat = TABLE_MATERIALS[int(rng.integers(len(TABLE_MATERIALS)))]
    table_colour = np.clip(np.array(mat[1]) * rng.uniform(0.85, 1.15), 0.02, 0.95)
    # arc frame: u (x) towards the cameras, w (y) to their left; table spans u in [-far, near], w in [-side_r, side_l]
    table = _box((near + far, side_l + side_r, thick), ((near - far) / 2, (side_l - side_r) / 2, -thick / 2))
    parts, names, colours, gloss = [], [], [], []

    def add(mesh, name, colour, g=0.0):
        parts.append(mesh)
        names.append(name)
        colours.append(np.clip(colour, 0.0, 1.0))
        gloss.append(g)

    leg = 0.05
    leg_h = height - thick
    for cu in (near - 0.06, -far + 0.06):
        for cw in (side_l - 0.06, -side_r + 0.06):
            add(_box((leg, leg, leg_h), (cu, cw, -thick - leg_h / 2)), "leg", np.full(3, 0.4), 0.3)
    big = 8.0
    floor_grey = rng.uniform(0.25, 0.6)
    add(_quad([[-big, -big, -height], [big, -big, -height], [big, big, -height], [-big, big, -height]]), "floor",
        floor_grey * np.array([1.0, 0.97, 0.92]))
    top = s.room_height - height
    wall_u = -far - u(s.back_wall)
    wall_colour = rng.uniform(0.65, 0.9) * np.array([1.0, 0.98, 0.94])
    add(_quad([[wall_u, -big, -height], [wall_u, big, -height], [wall_u, big, top], [wall_u, -big, top]]), "wall",
        wall_colour)
    if rng.uniform() < s.side_wall_probability:
        sign = 1.0 if rng.uniform() < 0.5 else -1.0
        wall_w = sign * ((side_l if sign > 0 else side_r) + u(s.side_wall))
        add(_quad([[-big, wall_w, -height], [big, wall_w, -height], [big, wall_w, top], [-big, wall_w, top]]),
            "wall", wall_colour * rng.uniform(0.9, 1.0))
    # the robot across the table from the cameras, facing the clutter
    robot = sorted(ROBOTS)[int(rng.integers(len(ROBOTS)))]
    base = np.array([-far + u(s.robot_inset), rng.uniform(-0.2, 0.2) * min(side_l, side_r)])
    yaw = float(np.arctan2(-base[1], -base[0]) + rng.uniform(-1.2, 1.2))
    for m in place_robot(rng, s, base, yaw, robot):
        add(m, "robot", np.array(ROBOTS[robot][2]) * rng.uniform(0.9, 1.05), 0.25)
    # distractors on the floor: beside or behind the table
    for _ in range(int(rng.integers(s.floor_distractors[0], s.floor_distractors[1] + 1))):
        where = int(rng.integers(3))
        if where == 2:  # behind the table, before the back wall
            cu, cw = rng.uniform(wall_u + 0.3, -far - 0.1), rng.uniform(-1.5, 1.5)
        else:
            sign = 1.0 if where == 0 else -1.0
            cu = rng.uniform(-far, near + 0.4)
            cw = sign * ((side_l if sign > 0 else side_r) + rng.uniform(0.25, 0.8))
        if rng.uniform() < 0.6:  # a cabinet or a cardboard box
            ext = (rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.6), rng.uniform(0.3, 1.1))
            mesh = _box(ext, (cu, cw, -height + ext[2] / 2))
            colour = (np.array([0.62, 0.47, 0.32]) if rng.uniform() < 0.5 else np.full(3, rng.uniform(0.2, 0.8)))
        else:  # a bin
            r, h = rng.uniform(0.12, 0.22), rng.uniform(0.3, 0.65)
            mesh = trimesh.creation.cylinder(radius=r, height=h, sections=32)
            mesh.apply_translation((cu, cw, -height + h / 2))
            colour = np.full(3, rng.uniform(0.08, 0.5))
        add(mesh, "distractor", colour * rng.uniform(0.9, 1.1), float(rng.uniform(0.0, 0.3)))
    if rng.uniform() < s.table_distractor_probability:  # a box on the table, well away from the clutter
        ext = (rng.uniform(0.1, 0.3), rng.uniform(0.1, 0.3), rng.uniform(0.05, 0.3))
        sign = 1.0 if rng.uniform() < 0.5 else -1.0
        edge = side_l if sign > 0 else side_r
        cw = sign * rng.uniform(min(0.45, edge - 0.2), edge - 0.16)
        cu = rng.uniform(-far + 0.16, max(-far + 0.16, -0.45 + 0.15))
        if np.hypot(cu, cw) > 0.45 + 0.2 and abs(cw - base[1]) + abs(cu - base[0]) > 0.35:
            add(_box(ext, (cu, cw, ext[2] / 2)), "distractor", rng.uniform(0.15, 0.85, 3), 0.1)
    # into the table frame: the arc frame's u axis points at arc_yaw
    R = trimesh.transformations.rotation_matrix(arc_yaw, (0, 0, 1))
    table.apply_transform(R)
    for m in parts:
        m.apply_transform(R)
    return LabScene(table, table_colour, float(rng.uniform(*mat[2])), mat[0], height, parts, names,
                    np.array(colours).reshape(-1, 3), np.array(gloss), robot)
