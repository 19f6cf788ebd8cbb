"""MuJoCo simulation of a floating parallel-jaw gripper picking objects off a table.

The scene, in the robot base frame (metres, z up):

* a table: a static box whose top is the plane ``z = table_z``;
* objects: free bodies, one per :class:`SimObject` (a trimesh mesh in its own
  frame, optional convex parts used as collision geoms, else the mesh's convex
  hull, and its pose ``T_base<-obj``); mass from the volume and a density,
  inertia from the mesh;
* a gripper: a kinematic (mocap) hand that follows the commanded tool pose,
  and two fingers on slide joints along the tool y axis, coupled by an
  equality constraint and driven by one force-limited position actuator on
  the tendon ``left + right`` = the jaw opening. Each finger carries a soft,
  high-friction pad on its inner face. The pads have contact priority, so a
  pad contact uses the pad's own solref/solimp (MuJoCo otherwise averages them
  with the object's defaults, which let a 30 N grip sink 3.7 mm per side into
  a 20 g object, deeper than the 3 mm pad, against 0.9 mm into a 0.6 kg one).

The tool frame is the ``z_approach`` convention with the TCP at the fingertip
centre (``ToolFrame.z_approach(0.0)``): z = approach, y = closing axis, origin
midway between the fingertips. The fingers extend ``finger_length`` back along
-z from the TCP; the palm sits behind them.

Everything is deterministic: the same objects, configuration and seed give
the same trajectory (the seed only draws the optional execution noise).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Sequence

import mujoco
import numpy as np
import trimesh

from ..tool_frame import ToolFrame
from .base import MotionStopped, SpeedLimits, as_pose

_GEOM_MESH = mujoco.mjtGeom.mjGEOM_MESH
_GEOM_BOX = mujoco.mjtGeom.mjGEOM_BOX

#: Tool pose with the approach pointing straight down (tool z = -z_base, y = -y_base).
DOWN = np.diag([1.0, -1.0, -1.0])


@dataclass
class SimObject:
    """One object of the scene.

    mesh: trimesh mesh in the object frame, metres.
    pose: (4, 4) T_base<-obj.
    parts: optional convex decomposition (meshes in the object frame); the
        collision geometry. Without parts the convex hull of ``mesh`` is used.
    mass: kg; None derives it from the volume and ``SimConfig.density``.
    """

    mesh: trimesh.Trimesh
    pose: np.ndarray
    parts: Sequence[trimesh.Trimesh] | None = None
    name: str = ""
    object_id: int = -1
    mass: float | None = None

    def __post_init__(self) -> None:
        self.pose = as_pose(self.pose, f"pose of object '{self.name or self.object_id}'")
        if len(self.mesh.faces) == 0:
            raise ValueError(f"object '{self.name}': mesh has no triangles")
        if self.mesh.extents.max() > 2.0:
            raise ValueError(f"object '{self.name}': mesh is {self.mesh.extents.max():.1f} units across; "
                             "meshes must be in metres")

    def collision_parts(self) -> list[trimesh.Trimesh]:
        """Convex parts in the object frame (the hull when no decomposition is given)."""
        if self.parts:
            return [p.convex_hull for p in self.parts]
        return [self.mesh.convex_hull]


@dataclass(frozen=True)
class SimGripper:
    """Dimensions (m), friction and force (N) of the simulated parallel-jaw gripper."""

    max_width: float = 0.10
    finger_length: float = 0.055
    finger_height: float = 0.02
    finger_thickness: float = 0.008
    pad_thickness: float = 0.003
    palm_depth: float = 0.02
    pad_friction: float = 0.7
    grip_force: float = 30.0
    finger_mass: float = 0.05
    finger_damping: float = 60.0
    hand_mass: float = 1.0


@dataclass(frozen=True)
class SimConfig:
    """Scene and integration settings.

    table_z: height of the table top (m); table_size: (x, y) extent (m) centred
    on ``table_center``; object_friction: sliding friction of objects and
    table; density: kg/m^3 for objects without a mass (masses are clipped to
    ``mass_range`` kg); timestep: physics step (s); control_substeps: physics
    steps per mocap update; settle_time: s of free fall/settling at reset;
    home: tool pose the gripper starts from (4x4 list) or None for 0.4 m above
    the table centre pointing down; noise_translation (m) and noise_rotation
    (rad): standard deviation of a per-trial execution error applied to every
    commanded pose (calibration and control error), 0 disables.
    """

    table_z: float = 0.0
    table_size: tuple[float, float] = (1.0, 1.0)
    table_center: tuple[float, float] = (0.0, 0.0)
    object_friction: float = 0.6
    density: float = 400.0
    mass_range: tuple[float, float] = (0.02, 0.6)
    timestep: float = 0.002
    control_substeps: int = 2
    settle_time: float = 0.4
    home: tuple | None = None
    noise_translation: float = 0.0
    noise_rotation: float = 0.0

    def home_pose(self) -> np.ndarray:
        if self.home is not None:
            return as_pose(np.asarray(self.home, dtype=np.float64), "sim home pose")
        T = np.eye(4)
        T[:3, :3] = DOWN
        T[:3, 3] = (self.table_center[0], self.table_center[1], self.table_z + 0.4)
        return T


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=np.float64).ravel())
    return q


def _quat_to_mat(q: np.ndarray) -> np.ndarray:
    m = np.zeros(9)
    mujoco.mju_quat2Mat(m, np.asarray(q, dtype=np.float64))
    return m.reshape(3, 3)


def _slerp(q0: np.ndarray, q1: np.ndarray, s: np.ndarray) -> np.ndarray:
    """(K, 4) quaternions (w, x, y, z) from q0 to q1 at fractions s (K,)."""
    d = float(q0 @ q1)
    if d < 0:
        q1, d = -q1, -d
    if d > 0.9995:
        out = q0[None] + s[:, None] * (q1 - q0)[None]
        return out / np.linalg.norm(out, axis=1, keepdims=True)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    return (np.sin((1 - s) * theta)[:, None] * q0 + np.sin(s * theta)[:, None] * q1) / np.sin(theta)


def _mass_properties(obj: SimObject, density: float, mass_range: tuple[float, float]
                     ) -> tuple[float, np.ndarray, np.ndarray]:
    """(mass kg, centre of mass (3,), inertia tensor (3, 3)) in the object frame."""
    solid = obj.mesh if obj.mesh.is_volume else trimesh.util.concatenate(obj.collision_parts()).convex_hull
    volume = float(abs(solid.volume))
    mass = obj.mass if obj.mass is not None else float(np.clip(volume * density, *mass_range))
    if volume < 1e-12:
        raise ValueError(f"object '{obj.name}': mesh encloses no volume")
    inertia = np.asarray(solid.moment_inertia, dtype=np.float64) * (mass / float(solid.mass))
    return mass, np.asarray(solid.center_mass, dtype=np.float64), inertia


class SimArm:
    """A simulated arm: the :class:`~graspnet_ros.robot.base.Arm` protocol on MuJoCo.

    Also a :class:`~graspnet_ros.robot.base.LiftOracle` (ground truth about lifts),
    and counts the motions it was commanded (``motion_commands``) so tests can
    check that a refused grasp never moved the arm.
    """

    tool_frame = ToolFrame.z_approach(0.0, name="sim_gripper")

    def __init__(self, objects: Sequence[SimObject] = (), config: SimConfig = SimConfig(),
                 gripper: SimGripper = SimGripper(), seed: int = 0) -> None:
        self.config = config
        self.gripper = gripper
        self.max_width = gripper.max_width
        self.motion_commands = 0
        self.gripper_commands = 0
        self._stop = threading.Event()
        self.objects = list(objects)
        self._build()
        self.reset(seed)

    # -- model ------------------------------------------------------------
    def _build(self) -> None:
        cfg, g = self.config, self.gripper
        spec = mujoco.MjSpec()
        spec.modelname = "graspnet_ros_sim"
        spec.option.timestep = cfg.timestep
        spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
        spec.option.impratio = 10.0
        world = spec.worldbody
        tx, ty = cfg.table_size
        world.add_geom(name="table", type=_GEOM_BOX, size=[tx / 2, ty / 2, 0.025],
                       pos=[cfg.table_center[0], cfg.table_center[1], cfg.table_z - 0.025],
                       friction=[cfg.object_friction, 0.005, 0.0001], rgba=[0.6, 0.5, 0.4, 1])
        self._object_bodies: list[str] = []
        for i, obj in enumerate(self.objects):
            mass, com, inertia = _mass_properties(obj, cfg.density, cfg.mass_range)
            body = world.add_body(name=f"obj{i}", pos=obj.pose[:3, 3].tolist(),
                                  quat=_quat_wxyz(obj.pose[:3, :3]).tolist())
            body.add_freejoint(name=f"obj{i}_free")
            body.explicitinertial = True
            body.mass = mass
            body.ipos = com.tolist()
            body.fullinertia = [inertia[0, 0], inertia[1, 1], inertia[2, 2],
                                inertia[0, 1], inertia[0, 2], inertia[1, 2]]
            for k, part in enumerate(obj.collision_parts()):
                mesh = spec.add_mesh(name=f"obj{i}_part{k}")
                mesh.uservert = np.asarray(part.vertices, dtype=np.float64).ravel().tolist()
                mesh.userface = np.asarray(part.faces, dtype=np.int64).ravel().tolist()
                body.add_geom(type=_GEOM_MESH, meshname=f"obj{i}_part{k}", mass=0.0,
                              friction=[cfg.object_friction, 0.005, 0.0001], condim=4,
                              rgba=[0.3, 0.5, 0.8, 1])
            self._object_bodies.append(f"obj{i}")

        # The commanded pose drives a mocap body; the hand is a free body welded
        # to it, so it has real velocities (friction acts on a moving pad) and
        # yields a little on collisions, like a compliant arm.
        home = cfg.home_pose()
        home_pos, home_quat = home[:3, 3].tolist(), _quat_wxyz(home[:3, :3]).tolist()
        world.add_body(name="target", mocap=True, pos=home_pos, quat=home_quat)
        hand = world.add_body(name="hand", pos=home_pos, quat=home_quat, gravcomp=1.0)
        hand.add_freejoint(name="hand_free")
        L = g.finger_length
        half_span = g.max_width / 2 + g.pad_thickness + g.finger_thickness
        hand.add_geom(name="palm", type=_GEOM_BOX, size=[0.02, half_span, g.palm_depth / 2],
                      pos=[0, 0, -(L + g.palm_depth / 2)], mass=g.hand_mass, rgba=[0.2, 0.2, 0.2, 1])
        for side, sign in (("left", -1.0), ("right", 1.0)):
            finger = hand.add_body(name=f"{side}_finger", gravcomp=1.0)
            finger.add_joint(name=side, type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, sign, 0],
                             range=[0.0, g.max_width / 2], damping=g.finger_damping, armature=0.01)
            finger.add_geom(name=f"{side}_pad", type=_GEOM_BOX,
                            size=[g.finger_height / 2, g.pad_thickness / 2, L / 2],
                            pos=[0, sign * g.pad_thickness / 2, -L / 2], mass=g.finger_mass * 0.2,
                            friction=[g.pad_friction, 0.01, 0.0001], condim=4,
                            solref=[0.01, 1.0], solimp=[0.9, 0.97, 0.002, 0.5, 2], priority=1,
                            rgba=[0.9, 0.3, 0.2, 1])
            finger.add_geom(name=f"{side}_body", type=_GEOM_BOX,
                            size=[g.finger_height / 2, g.finger_thickness / 2, L / 2 + 0.005],
                            pos=[0, sign * (g.pad_thickness + g.finger_thickness / 2), -L / 2 - 0.005],
                            mass=g.finger_mass * 0.8, friction=[0.3, 0.005, 0.0001], rgba=[0.3, 0.3, 0.3, 1])
        spec.add_exclude(bodyname1="left_finger", bodyname2="right_finger")
        spec.add_equality(type=mujoco.mjtEq.mjEQ_WELD, name1="hand", name2="target",
                          objtype=mujoco.mjtObj.mjOBJ_BODY, solref=[0.01, 1.0],
                          data=[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0])
        tendon = spec.add_tendon(name="opening")
        tendon.wrap_joint("left", 1.0)
        tendon.wrap_joint("right", 1.0)
        spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1="left", name2="right",
                          data=[0, 1, 0, 0, 0] + [0] * 7)
        act = spec.add_actuator(name="grip", target="opening", trntype=mujoco.mjtTrn.mjTRN_TENDON)
        act.set_to_position(kp=2000.0)
        act.ctrlrange = [0.0, g.max_width]
        act.forcerange = [-g.grip_force, g.grip_force]
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._obj_body_ids = np.array([m.body(n).id for n in self._object_bodies], dtype=np.int64)
        self._obj_qpos_adr = np.array([m.jnt_qposadr[m.joint(f"{n}_free").id] for n in self._object_bodies],
                                      dtype=np.int64)
        self._obj_dof_adr = np.array([m.jnt_dofadr[m.joint(f"{n}_free").id] for n in self._object_bodies],
                                     dtype=np.int64)
        self._finger_qpos = np.array([m.jnt_qposadr[m.joint(s).id] for s in ("left", "right")])
        self._finger_dof = np.array([m.jnt_dofadr[m.joint(s).id] for s in ("left", "right")])
        self._pad_geoms = np.array([m.geom("left_pad").id, m.geom("right_pad").id])
        self._hand_geoms = np.flatnonzero(np.isin(m.geom_bodyid, [m.body(n).id for n in
                                                                  ("hand", "left_finger", "right_finger")]))
        self._mocap = m.body("target").mocapid[0]
        self._hand = m.body("hand").id
        self._hand_qpos = m.jnt_qposadr[m.joint("hand_free").id]
        self._hand_dof = m.jnt_dofadr[m.joint("hand_free").id]
        self._actuator = m.actuator("grip").id
        self._state_spec = mujoco.mjtState.mjSTATE_INTEGRATION
        self._settled_state: np.ndarray | None = None

    # -- scene state --------------------------------------------------------
    def reset(self, seed: int | None = 0) -> None:
        """Restore the settled scene, open the jaws fully, put the tool at home.

        The first reset after construction settles the objects on the table
        (``settle_time`` s of physics) and caches that state, so later resets
        are exact copies of it. ``seed`` draws this trial's execution noise.
        The command counters restart at zero.
        """
        m, d = self.model, self.data
        self._stop.clear()
        self.motion_commands = 0
        self.gripper_commands = 0
        self.removed = np.zeros(len(self.objects), dtype=bool)
        m.body_gravcomp[self._obj_body_ids] = 0.0
        if self._settled_state is None:
            mujoco.mj_resetData(m, d)
            self._set_tool(self.config.home_pose())
            d.qpos[self._finger_qpos] = self.gripper.max_width / 2
            d.ctrl[self._actuator] = self.gripper.max_width
            mujoco.mj_forward(m, d)
            mujoco.mj_step(m, d, nstep=max(1, int(round(self.config.settle_time / m.opt.timestep))))
            d.qvel[:] = 0.0
            d.time = 0.0
            self._settled_state = np.zeros(mujoco.mj_stateSize(m, self._state_spec))
            mujoco.mj_getState(m, d, self._settled_state, self._state_spec)
        else:
            mujoco.mj_resetData(m, d)
            mujoco.mj_setState(m, d, self._settled_state, self._state_spec)
            mujoco.mj_forward(m, d)
        self.rest_heights = d.xpos[self._obj_body_ids, 2].copy()
        rng = np.random.default_rng(seed)
        self._noise = np.eye(4)
        if self.config.noise_translation > 0 or self.config.noise_rotation > 0:
            from scipy.spatial.transform import Rotation

            self._noise[:3, 3] = rng.normal(0.0, self.config.noise_translation, 3)
            self._noise[:3, :3] = Rotation.from_rotvec(rng.normal(0.0, self.config.noise_rotation, 3)).as_matrix()
        self.seed = seed

    def object_poses(self) -> np.ndarray:
        """(n, 4, 4) current T_base<-obj of every object (removed ones included)."""
        d = self.data
        out = np.zeros((len(self.objects), 4, 4))
        out[:, :3, :3] = d.xmat[self._obj_body_ids].reshape(-1, 3, 3)
        out[:, :3, 3] = d.xpos[self._obj_body_ids]
        out[:, 3, 3] = 1.0
        return out

    def remaining(self) -> np.ndarray:
        """Indices of objects still in the scene (not removed, above the floor)."""
        on_table = self.data.xpos[self._obj_body_ids, 2] > self.config.table_z - 0.1
        return np.flatnonzero(~self.removed & on_table)

    def remove_object(self, index: int) -> None:
        """Take object ``index`` out of the scene (as a bin drop would) and re-settle the rest."""
        m, d = self.model, self.data
        q, v = self._obj_qpos_adr[index], self._obj_dof_adr[index]
        d.qpos[q:q + 3] = (100.0 + 2.0 * index, 100.0, 0.0)
        d.qvel[v:v + 6] = 0.0
        m.body_gravcomp[self._obj_body_ids[index]] = 1.0
        self.removed[index] = True
        mujoco.mj_forward(m, d)

    def settle(self, seconds: float = 0.3) -> None:
        """Let the objects come to rest and take their heights as the new rest heights."""
        self._step(max(1, int(round(seconds / self.model.opt.timestep))))
        self.rest_heights = self.data.xpos[self._obj_body_ids, 2].copy()

    def scene_points(self, spacing: float = 0.005, table: bool = True, seed: int = 0) -> np.ndarray:
        """(M, 3) points on the current object surfaces (and the table top), base frame.

        A stand-in for a depth camera's cloud (no occlusion), used for the
        pre-grasp clearance check.
        """
        poses = self.object_poses()
        clouds = []
        for i in self.remaining():
            mesh = self.objects[i].mesh
            n = int(np.clip(mesh.area / spacing**2, 50, 20000))
            pts, _ = trimesh.sample.sample_surface(mesh, n, seed=seed + int(i))
            clouds.append(pts @ poses[i, :3, :3].T + poses[i, :3, 3])
        if table:
            cx, cy = self.config.table_center
            tx, ty = self.config.table_size
            xs = np.arange(cx - tx / 2, cx + tx / 2, 2 * spacing)
            ys = np.arange(cy - ty / 2, cy + ty / 2, 2 * spacing)
            gx, gy = np.meshgrid(xs, ys)
            clouds.append(np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, self.config.table_z)], 1))
        return np.concatenate(clouds) if clouds else np.zeros((0, 3))

    # -- the Arm protocol -----------------------------------------------------
    def tool_pose(self) -> np.ndarray:
        """Measured T_base<-tool (the hand lags the command by a little under load)."""
        d = self.data
        T = np.eye(4)
        T[:3, :3] = d.xmat[self._hand].reshape(3, 3)
        T[:3, 3] = d.xpos[self._hand]
        return T

    def _commanded_pose(self) -> np.ndarray:
        d = self.data
        T = np.eye(4)
        T[:3, :3] = _quat_to_mat(d.mocap_quat[self._mocap])
        T[:3, 3] = d.mocap_pos[self._mocap]
        return T

    def _set_tool(self, pose: np.ndarray) -> None:
        """Teleport the command and the hand to ``pose`` (reset only)."""
        d = self.data
        d.mocap_pos[self._mocap] = pose[:3, 3]
        d.mocap_quat[self._mocap] = _quat_wxyz(pose[:3, :3])
        d.qpos[self._hand_qpos:self._hand_qpos + 3] = pose[:3, 3]
        d.qpos[self._hand_qpos + 3:self._hand_qpos + 7] = _quat_wxyz(pose[:3, :3])
        d.qvel[self._hand_dof:self._hand_dof + 6] = 0.0

    def _step(self, n: int) -> None:
        """Advance n physics steps, honouring stop()."""
        sub = self.config.control_substeps
        for _ in range(0, n, sub):
            if self._stop.is_set():
                self._stop.clear()
                raise MotionStopped("motion stopped on request")
            mujoco.mj_step(self.model, self.data, nstep=sub)

    def move_tool(self, pose: np.ndarray, speed: SpeedLimits = SpeedLimits()) -> None:
        """Straight-line Cartesian move of the TCP (slerp on orientation) within ``speed``."""
        target = as_pose(pose, "tool target") @ self._noise
        self._stop.clear()  # stop() acts on the command in progress, like a real controller
        self.motion_commands += 1
        start = self._commanded_pose()
        dist = float(np.linalg.norm(target[:3, 3] - start[:3, 3]))
        q0, q1 = _quat_wxyz(start[:3, :3]), _quat_wxyz(target[:3, :3])
        angle = 2 * np.arccos(np.clip(abs(float(q0 @ q1)), 0.0, 1.0))
        duration = max(dist / speed.linear, angle / speed.angular)
        dt = self.model.opt.timestep * self.config.control_substeps
        n = max(1, int(np.ceil(duration / dt)))
        s = np.arange(1, n + 1) / n
        s = s * s * (3 - 2 * s)  # smooth start and stop
        pos = start[:3, 3][None] + s[:, None] * (target[:3, 3] - start[:3, 3])[None]
        quats = _slerp(q0, q1, s)
        d = self.data
        for k in range(n):
            if self._stop.is_set():
                self._stop.clear()
                raise MotionStopped("motion stopped on request")
            d.mocap_pos[self._mocap] = pos[k]
            d.mocap_quat[self._mocap] = quats[k]
            mujoco.mj_step(self.model, d, nstep=self.config.control_substeps)

    def _run_gripper(self, timeout: float = 1.0, min_time: float = 0.06) -> None:
        """Step until the fingers stop moving (or ``timeout`` s)."""
        dt = self.model.opt.timestep
        sub = self.config.control_substeps
        still = 0
        for k in range(int(timeout / (dt * sub))):
            self._step(sub)
            v = np.abs(self.data.qvel[self._finger_dof]).max()
            still = still + 1 if v < 1e-3 else 0
            if still >= 5 and (k + 1) * dt * sub >= min_time:
                break

    def open_gripper(self, width: float) -> None:
        if not (0.0 <= width <= self.max_width + 1e-9):
            raise ValueError(f"gripper width {width:.4f} m outside [0, {self.max_width}] m")
        self.gripper_commands += 1
        self._stop.clear()
        self.model.actuator_forcerange[self._actuator] = (-self.gripper.grip_force, self.gripper.grip_force)
        self.data.ctrl[self._actuator] = width
        self._run_gripper()

    def close_gripper(self, force: float | None = None) -> None:
        f = self.gripper.grip_force if force is None else float(force)
        if not (f > 0):
            raise ValueError(f"grip force must be positive (N), got {force}")
        self.gripper_commands += 1
        self._stop.clear()
        self.model.actuator_forcerange[self._actuator] = (-f, f)
        self.data.ctrl[self._actuator] = 0.0
        self._run_gripper()

    def gripper_width(self) -> float:
        return float(self.data.qpos[self._finger_qpos].sum())

    def _pad_contacts(self) -> tuple[np.ndarray, np.ndarray]:
        """(pad index 0/1, object index) of every pad-object contact."""
        d = self.data
        g1, g2 = d.contact.geom1[:d.ncon], d.contact.geom2[:d.ncon]
        body = self.model.geom_bodyid
        pads, objs = [], []
        for a, b in ((g1, g2), (g2, g1)):
            hit = np.isin(a, self._pad_geoms)
            obj_of = np.searchsorted(self._obj_body_ids, body[b[hit]])
            valid = (obj_of < len(self._obj_body_ids))
            valid[valid] &= self._obj_body_ids[obj_of[valid]] == body[b[hit]][valid]
            pads.append((a[hit] == self._pad_geoms[1]).astype(np.int64)[valid])
            objs.append(obj_of[valid])
        return np.concatenate(pads), np.concatenate(objs)

    def gripper_contact(self) -> bool:
        """True when both pads touch the same object."""
        pads, objs = self._pad_contacts()
        return bool(np.intersect1d(objs[pads == 0], objs[pads == 1]).size)

    def wait(self, seconds: float) -> None:
        self._stop.clear()
        self._step(max(1, int(round(seconds / self.model.opt.timestep))))

    def stop(self) -> None:
        """Interrupt the command in progress (it raises MotionStopped); no effect when idle."""
        self._stop.set()

    # -- ground truth ---------------------------------------------------------
    def lifted_object(self, min_height: float = 0.05) -> int | None:
        """The object held between both pads at least ``min_height`` m above its rest height."""
        pads, objs = self._pad_contacts()
        held = np.intersect1d(objs[pads == 0], objs[pads == 1])
        rise = self.data.xpos[self._obj_body_ids, 2] - self.rest_heights
        ok = [int(i) for i in held if rise[i] >= min_height and not self.removed[i]]
        return ok[0] if ok else None

    def hand_contacts_table(self) -> bool:
        """Whether any gripper geom touches the table (diagnostics)."""
        d = self.data
        g1, g2 = d.contact.geom1[:d.ncon], d.contact.geom2[:d.ncon]
        table = self.model.geom("table").id
        return bool((np.isin(g1, self._hand_geoms) & (g2 == table)).any()
                    | (np.isin(g2, self._hand_geoms) & (g1 == table)).any())


def sim_from_config(cfg: dict, objects: Sequence[SimObject] = (), seed: int = 0) -> SimArm:
    """A :class:`SimArm` from the ``sim`` section of ``config/executor.yaml``.

    Keys: ``scene`` (fields of :class:`SimConfig`) and ``gripper`` (fields of
    :class:`SimGripper`); unknown keys raise ValueError naming them.
    """
    def build(cls, section: dict):
        known = set(cls.__dataclass_fields__)
        unknown = set(section) - known
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys {sorted(unknown)}; known: {sorted(known)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
        return cls(**values)

    return SimArm(objects, build(SimConfig, dict(cfg.get("scene") or {})),
                  build(SimGripper, dict(cfg.get("gripper") or {})), seed=seed)


__all__ = ["SimObject", "SimGripper", "SimConfig", "SimArm", "DOWN", "sim_from_config"]
