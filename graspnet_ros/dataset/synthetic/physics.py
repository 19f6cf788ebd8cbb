"""Drop objects on a table and let MuJoCo settle them.

Frames: the table frame has its origin at the centre of the table top, z up
(metres). Each object is a free body whose frame is the object (model mesh)
frame; its collision geometry is the object's convex pieces
(``models/%03d/collision``). The table is a plane at z = 0. While objects
fall, four walls (a square pen of half-width ``wall_half``) keep the clutter
near the table centre; they are then removed and the objects settle again,
so nothing ends up leaning on an invisible wall.

Everything is reproducible from the seed: the initial poses come from
``numpy.random.default_rng(seed)`` and MuJoCo's stepping is deterministic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation


@dataclass(frozen=True)
class PhysicsSettings:
    timestep: float = 0.002  # s
    max_time: float = 2.5  # s of simulated time per phase (walls, then no walls)
    min_time: float = 0.4  # s simulated before a phase may stop
    still_speed: float = 0.01  # m/s: a phase stops when every object is slower ...
    still_spin: float = 0.1  # rad/s: ... and turns slower than this
    drop_radius: float = 0.10  # m, objects start above a disc of this radius
    wall_half: float = 0.16  # m, half-width of the pen used while dropping
    keep_radius: float = 0.30  # m, objects settling farther from the centre are dropped
    friction: float = 0.8
    density: float = 500.0  # kg/m^3


@dataclass
class SettleResult:
    poses: np.ndarray  # (n, 4, 4) T_table<-object, metres
    kept: np.ndarray  # (n,) bool: on the table, within keep_radius of the centre
    sim_time: float  # s simulated
    wall_time: float  # s elapsed
    min_contact_distance: float  # m, most negative contact distance (penetration) at the end


def _fmt(values: np.ndarray) -> str:
    return " ".join(f"{v:.6g}" for v in np.asarray(values).reshape(-1))


def scene_xml(pieces: list[list[trimesh.Trimesh]], settings: PhysicsSettings) -> str:
    """MJCF of the table, the pen walls and one free body per object (identity poses)."""
    assets, bodies = [], []
    for i, obj_pieces in enumerate(pieces):
        geoms = []
        for j, piece in enumerate(obj_pieces):
            assets.append(f'<mesh name="o{i}p{j}" vertex="{_fmt(piece.vertices)}" inertia="convex"/>')
            geoms.append(f'<geom type="mesh" mesh="o{i}p{j}" class="obj"/>')
        bodies.append(f'<body name="obj{i}"><freejoint/>{"".join(geoms)}</body>')
    h = settings.wall_half
    walls = "".join(
        f'<geom name="wall{k}" type="box" size="{sx} {sy} 0.3" pos="{px} {py} 0.3" class="wall"/>'
        for k, (sx, sy, px, py) in enumerate([(0.01, h + 0.02, h + 0.01, 0), (0.01, h + 0.02, -h - 0.01, 0),
                                             (h + 0.02, 0.01, 0, h + 0.01), (h + 0.02, 0.01, 0, -h - 0.01)]))
    return f"""<mujoco model="graspnet_scene">
  <option timestep="{settings.timestep}" gravity="0 0 -9.81" integrator="implicitfast" cone="elliptic"/>
  <default>
    <geom condim="6" friction="{settings.friction} 0.01 0.003" solref="0.004 1" solimp="0.95 0.99 0.001"/>
    <default class="obj"><geom density="{settings.density}"/></default>
    <default class="wall"><geom contype="1" conaffinity="1"/></default>
  </default>
  <asset>{"".join(assets)}</asset>
  <worldbody>
    <geom name="table" type="plane" size="1 1 0.01"/>
    {walls}
    {"".join(bodies)}
  </worldbody>
</mujoco>"""


def _still(qvel: np.ndarray, settings: PhysicsSettings) -> bool:
    v = qvel.reshape(-1, 6)  # free joints: linear (world), angular (body) velocity
    return bool(np.linalg.norm(v[:, :3], axis=1).max() < settings.still_speed
                and np.linalg.norm(v[:, 3:], axis=1).max() < settings.still_spin)


def initial_poses(radii: np.ndarray, rng: np.random.Generator, settings: PhysicsSettings) -> np.ndarray:
    """Random orientations above a disc, stacked so bounding spheres do not overlap.

    ``radii``: (n,) bounding-sphere radius of each object about its origin (m).
    Returns (n, 4, 4) T_table<-object.
    """
    n = len(radii)
    poses = np.tile(np.eye(4), (n, 1, 1))
    poses[:, :3, :3] = Rotation.random(n, random_state=rng).as_matrix()
    r = settings.drop_radius * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    xy = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
    z = np.zeros(n)
    for i in range(n):  # n is ~10: a loop over objects, not points
        z[i] = radii[i] + 0.005
        if i:
            close = np.linalg.norm(xy[:i] - xy[i], axis=1) < radii[:i] + radii[i]
            if close.any():
                z[i] = max(z[i], (z[:i] + radii[:i])[close].max() + radii[i] + 0.005)
    poses[:, :2, 3], poses[:, 2, 3] = xy, z
    return poses


def settle(pieces: list[list[trimesh.Trimesh]], seed: int,
           settings: PhysicsSettings = PhysicsSettings()) -> SettleResult:
    """Drop objects (each a list of convex pieces in its own frame) on the table.

    Returns the settled poses T_table<-object; the same seed gives the same poses.
    """
    import mujoco

    if not pieces or any(len(p) == 0 for p in pieces):
        raise ValueError("settle needs at least one object, each with at least one convex piece")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    radii = np.array([max(np.linalg.norm(p.vertices, axis=1).max() for p in obj) for obj in pieces])
    start = initial_poses(radii, rng, settings)
    model = mujoco.MjModel.from_xml_string(scene_xml(pieces, settings))
    data = mujoco.MjData(model)
    for i in range(len(pieces)):
        adr = model.jnt_qposadr[i]
        data.qpos[adr:adr + 3] = start[i, :3, 3]
        data.qpos[adr + 3:adr + 7] = Rotation.from_matrix(start[i, :3, :3]).as_quat(scalar_first=True)
    mujoco.mj_forward(model, data)
    walls = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"wall{k}") for k in range(4)]
    chunk = max(1, int(round(0.05 / settings.timestep)))
    for phase in ("walls", "free"):
        if phase == "free":
            model.geom_contype[walls] = 0
            model.geom_conaffinity[walls] = 0
        t_phase = 0.0
        while t_phase < settings.max_time:
            mujoco.mj_step(model, data, nstep=chunk)
            t_phase += chunk * settings.timestep
            if t_phase >= settings.min_time and _still(data.qvel, settings):
                break
    mujoco.mj_forward(model, data)
    poses = np.tile(np.eye(4), (len(pieces), 1, 1))
    body_ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"obj{i}") for i in range(len(pieces))]
    poses[:, :3, :3] = data.xmat[body_ids].reshape(-1, 3, 3)
    poses[:, :3, 3] = data.xpos[body_ids]
    kept = (np.linalg.norm(poses[:, :2, 3], axis=1) < settings.keep_radius) & (poses[:, 2, 3] > -0.01)
    dist = data.contact.dist[:data.ncon] if data.ncon else np.zeros(1)
    return SettleResult(poses, kept, float(data.time), time.perf_counter() - t0, float(dist.min()))
