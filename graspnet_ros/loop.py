"""The whole loop without ROS: synthetic camera -> grasp detector -> simulated arm.

One run builds a cluttered scene from the package's own dataset generator
(object set, MuJoCo-settled poses), renders one depth + colour frame of it
with a camera model (RealSense or Kinect, with its depth noise), back-projects
the depth to a cloud in the camera's optical frame, detects grasps (the
model-free baseline, or a checkpoint), and executes the best grasp that passes
the executor's safety checks in the MuJoCo simulation built from the SAME
objects and poses. The simulation's base frame is the table frame (z up, table
top at z = 0), so the camera pose from the render is the executor's
calibration T_base<-camera.

With ``attempts > 1`` the loop clears the table: a lifted object is removed,
the rest settle, the camera renders the simulation's current state and the
next grasp is detected on the new frame.

Frames: ``camera`` = optical frame (z forward, x right, y down); ``base`` =
table frame. Units: metres, radians, seconds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
import yaml

from .grasp import GraspGroup

#: Seen (YCB) objects whose collision pieces are a single hull (prepared in < 1 s).
QUICK_SEEN = (2, 6, 7, 24)
#: Ids the loop draws its other objects from: pybullet random_urdfs (ids 55-167 and seven
#: more) and, since the object set grew, YCB and procedural objects (ids 168-254 but those
#: seven; graspnet_ros/data/object_set.yaml); all prepare in under 3 s. The default
#: scenes (seed 0) hold the same random objects as before.
NOVEL_RANGE = (55, 255)
CACHE_VERSION = 1
DEFAULT_EXECUTOR_CONFIG = Path(__file__).resolve().parent.parent / "config" / "executor.yaml"
#: Region of the table (m, table frame) whose points reach the detector.
WORKSPACE_HALF = 0.3
#: A grasp belongs to the object with a surface point this close to its grasp point (m).
OBJECT_DISTANCE = 0.02


# ---------------------------------------------------------------------------
# objects and their cache


def cache_dir() -> Path:
    """``$GRASPNET_ROS_CACHE/objects`` or ``~/.cache/graspnet_ros/objects``."""
    root = os.environ.get("GRASPNET_ROS_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "graspnet_ros"
    return base / "objects"


def _cache_file(obj_id: int) -> Path:
    from .dataset.objects import get_spec

    spec = get_spec(obj_id)
    key = hashlib.sha1(f"{CACHE_VERSION}:{spec}".encode()).hexdigest()[:10]
    return cache_dir() / f"{obj_id:03d}_{key}.npz"


def load_object(obj_id: int, use_cache: bool = True):
    """The :class:`~graspnet_ros.dataset.objects.PreparedObject` of ``obj_id``
    (metres, object frame), from the cache when present; prepared objects are
    written to the cache atomically (npz of vertex and face arrays)."""
    from .dataset.objects import PreparedObject, get_spec, prepare_object

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
        arrays = {"mesh_v": np.asarray(prepared.mesh.vertices), "mesh_f": np.asarray(prepared.mesh.faces),
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
    seen = rng.choice(QUICK_SEEN, n_seen, replace=False) if n_seen else []
    novel = rng.choice(np.arange(*NOVEL_RANGE), num - n_seen, replace=False)
    return sorted(int(i) for i in np.concatenate([seen, novel]))


# ---------------------------------------------------------------------------
# scene


@dataclass
class LoopScene:
    """Objects settled on the table (table frame = robot base frame)."""

    obj_ids: list[int]
    meshes: list[trimesh.Trimesh]  # object frame, m
    pieces: list[list[trimesh.Trimesh]]  # convex collision pieces, object frame
    poses: np.ndarray  # (n, 4, 4) T_table<-object
    timings: dict[str, float] = field(default_factory=dict)  # s


def build_scene(obj_ids: list[int], seed: int = 0, use_cache: bool = True) -> LoopScene:
    """Prepare (or load from the cache) and settle the objects; objects that
    roll off the kept area are dropped. An empty list gives an empty table."""
    from .dataset.synthetic.physics import PhysicsSettings, settle

    t0 = time.perf_counter()
    prepared = [load_object(int(i), use_cache) for i in obj_ids]
    t1 = time.perf_counter()
    if not prepared:
        return LoopScene([], [], [], np.zeros((0, 4, 4)), {"prepare": t1 - t0, "settle": 0.0})
    res = settle([p.pieces for p in prepared], seed, PhysicsSettings())
    keep = np.flatnonzero(res.kept)
    return LoopScene([int(obj_ids[i]) for i in keep], [prepared[i].mesh for i in keep],
                     [prepared[i].pieces for i in keep], res.poses[keep],
                     {"prepare": t1 - t0, "settle": time.perf_counter() - t1})


def camera_pose(centre: np.ndarray, distance: float = 0.55, elevation_deg: float = 70.0,
                azimuth_deg: float = -90.0) -> np.ndarray:
    """T_table<-camera of a camera looking at ``centre`` (x, y on the table, m)
    from above: ``distance`` m away, ``elevation_deg`` above the table."""
    from .dataset.synthetic.cameras import look_at

    el, az = np.deg2rad(elevation_deg), np.deg2rad(azimuth_deg)
    target = np.array([centre[0], centre[1], 0.0])
    eye = target + distance * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    return look_at(eye, target)


@dataclass
class Frame:
    """One rendered view: colour, noisy depth, cloud in the camera frame."""

    rgb: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 m, 0 = no data
    cloud: np.ndarray  # (M, 3) camera frame, m (cropped to the workspace)
    T_table_camera: np.ndarray  # (4, 4)
    intrinsics: object  # cameras.base.CameraIntrinsics
    seconds: float


def render(meshes: list[trimesh.Trimesh], poses: np.ndarray, obj_ids: list[int], camera: str,
           T_table_camera: np.ndarray, rng: np.random.Generator, noise: str = "sensor") -> Frame:
    """Ray-cast one noisy frame and back-project it to a cloud (camera frame)
    cropped to a ``WORKSPACE_HALF`` square of the table (z >= -1 cm).
    ``noise``: ``sensor`` (the camera simulated: active stereo or time of
    flight) or ``simple`` (per-pixel noise on the render)."""
    from .cameras.base import CameraIntrinsics
    from .cameras.geometry import depth_to_points
    from .dataset.synthetic.cameras import camera_model
    from .dataset.synthetic.render import SceneRaycaster
    from .dataset.synthetic.scenes import render_frame

    t0 = time.perf_counter()
    model = camera_model(camera)
    raycaster = SceneRaycaster(meshes, np.asarray(poses).reshape(-1, 4, 4))
    rgb, depth, _, _ = render_frame(raycaster, camera, T_table_camera, obj_ids, rng, noise)
    intr = CameraIntrinsics.from_matrix(model.K, model.width, model.height)
    pts = depth_to_points(depth, intr, organised=False)
    in_table = pts @ T_table_camera[:3, :3].T + T_table_camera[:3, 3]
    keep = (np.abs(in_table[:, :2]) <= WORKSPACE_HALF).all(axis=1) & (in_table[:, 2] >= -0.01)
    return Frame(rgb, depth, pts[keep], T_table_camera, intr, time.perf_counter() - t0)


def assign_objects(points_base: np.ndarray, meshes: list[trimesh.Trimesh], poses: np.ndarray,
                   max_distance: float = OBJECT_DISTANCE) -> np.ndarray:
    """Index of the object (ground truth) nearest each point (N, 3, base frame),
    -1 when none is within ``max_distance`` m."""
    from scipy.spatial import cKDTree

    pts = np.asarray(points_base, dtype=np.float64).reshape(-1, 3)
    if not len(meshes) or not len(pts):
        return np.full(len(pts), -1, dtype=np.int64)
    clouds, owner = [], []
    for i, (mesh, pose) in enumerate(zip(meshes, poses)):
        s, _ = trimesh.sample.sample_surface(mesh, 3000, seed=i)
        clouds.append(s @ pose[:3, :3].T + pose[:3, 3])
        owner.append(np.full(len(s), i))
    dist, idx = cKDTree(np.concatenate(clouds)).query(pts)
    return np.where(dist <= max_distance, np.concatenate(owner)[idx], -1)


class DatasetScene:
    """A dataset-generator scene as a :class:`~graspnet_ros.cameras.synthetic.SceneRenderer`
    (for ``SyntheticCamera(scene=DatasetScene(...))``): settled objects, rendered
    noiseless (the camera adds its own noise). World frame = table frame."""

    def __init__(self, num_objects: int = 5, seed: int = 0, obj_ids: list[int] | None = None) -> None:
        from .dataset.synthetic.render import SceneRaycaster

        ids = default_object_ids(num_objects, seed) if obj_ids is None else [int(i) for i in obj_ids]
        self.scene = build_scene(ids, seed)
        self._raycaster = SceneRaycaster(self.scene.meshes, self.scene.poses)
        self._seed = seed

    def render(self, intrinsics, T_world_optical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rgb (H, W, 3) uint8, depth (H, W) float32 m) seen from T_table<-optical."""
        return raycast_view(self._raycaster, self.scene.obj_ids, intrinsics, T_world_optical,
                            np.random.default_rng(self._seed))

    def sensor_depth(self, model: str, intrinsics, T_world_optical: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """float32 (H, W) depth (m, 0 = invalid) of the simulated ``model`` camera
        ('realsense' active stereo, 'kinect' time of flight) from T_table<-optical."""
        from .dataset.synthetic.sensors import camera_sensor_depth, infrared_materials

        albedo, gloss = infrared_materials(self.scene.obj_ids)
        return camera_sensor_depth(model, self._raycaster, intrinsics, T_world_optical, albedo, gloss, rng)


def raycast_view(raycaster, obj_ids: list[int], intrinsics, T_world_optical: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless (rgb (H, W, 3) uint8, depth (H, W) float32 m, 0 = no hit) of a
    :class:`~graspnet_ros.dataset.synthetic.render.SceneRaycaster` seen through pinhole
    ``intrinsics`` (:class:`~graspnet_ros.cameras.base.CameraIntrinsics`) from T_table<-optical;
    objects coloured by their dataset ids."""
    from .dataset.objects import object_colour
    from .dataset.synthetic.cameras import CameraModel
    from .dataset.synthetic.render import albedo_image, shade

    i = intrinsics
    model = CameraModel("custom", i.width, i.height, i.fx, i.fy, i.cx, i.cy, "stereo", 0.1, 10.0, 0.05)
    hits = raycaster.cast(model, np.asarray(T_world_optical, dtype=np.float64))
    colours = np.array([object_colour(k) for k in obj_ids]).reshape(-1, 3)
    albedo, _ = albedo_image(hits, colours)
    return shade(hits, albedo, rng), hits.depth.astype(np.float32)


class SimArmCamera:
    """A :class:`~graspnet_ros.cameras.base.Camera` looking at a :class:`~graspnet_ros.robot.sim.SimArm`'s table.

    Every :meth:`read` ray-casts the objects still in the simulation at their
    CURRENT poses (``arm.object_poses()``; removed ones left out) plus the table
    top, so a frame taken after a pick no longer shows the picked object. The
    sim's base frame is the table frame (table top at z = 0); ``T_base_optical``
    (4x4, m) places the REP-103 optical frame in it and is the calibration
    T_base<-camera of an executor driving that arm. Depth is exact (float32 m,
    0 = no hit); the gripper itself is not rendered.
    """

    name = "sim_arm"

    def __init__(self, arm, T_base_optical: np.ndarray, intrinsics=None,
                 frame_id: str = "camera_color_optical_frame", seed: int = 0) -> None:
        from .cameras.base import camera_model
        from .robot.base import as_pose

        if abs(float(arm.config.table_z)) > 1e-9:
            raise ValueError(f"SimArmCamera renders the table top at z = 0; the sim's table_z is "
                             f"{arm.config.table_z} m (set robot.sim.scene.table_z: 0.0)")
        self.arm = arm
        self.T_base_optical = as_pose(T_base_optical, "T_base_optical")
        self._intrinsics = intrinsics if intrinsics is not None else camera_model("realsense", 0.5)
        self.frame_id = frame_id
        self._rng = np.random.default_rng(seed)
        self._index = 0

    @property
    def intrinsics(self):
        return self._intrinsics

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def read(self, timeout: float = 1.0):
        """A :class:`~graspnet_ros.cameras.base.CameraFrame` of the simulation as it is now."""
        from .cameras.base import CameraFrame
        from .dataset.synthetic.render import SceneRaycaster

        left = [int(i) for i in self.arm.remaining()]
        objects = [self.arm.objects[i] for i in left]
        raycaster = SceneRaycaster([o.mesh for o in objects], self.arm.object_poses()[left])
        ids = [o.object_id if o.object_id >= 0 else i for o, i in zip(objects, left)]
        rgb, depth = raycast_view(raycaster, ids, self._intrinsics, self.T_base_optical, self._rng)
        frame = CameraFrame(rgb, depth, self._intrinsics, time.time(), self.frame_id, self._index)
        self._index += 1
        return frame


# ---------------------------------------------------------------------------
# the loop


@dataclass
class Attempt:
    """One detect-and-execute cycle (grasps in the camera frame unless named _base)."""

    num_objects: int  # on the table when the frame was taken
    grasps: GraspGroup  # detected, camera frame, best first
    detect_ms: dict[str, float]
    num_safe: int  # detected grasps that pass the safety checks
    chosen: GraspGroup | None  # executed grasp, camera frame
    chosen_base: GraspGroup | None  # the same grasp in the base frame
    chosen_object: int  # object id under the chosen grasp (ground truth), -1 = none
    success: bool
    measured_width: float
    reason: str
    lifted_object: int  # object id lifted (ground truth), -1 = none
    physics_moved: float  # m, largest object displacement during execution
    gripper_closed: bool  # the jaws were commanded closed
    rgb: np.ndarray | None = None
    frame: Frame | None = None
    seconds: float = 0.0


@dataclass
class LoopResult:
    scene: LoopScene
    camera: str
    attempts: list[Attempt]
    image: Path | None
    timings: dict[str, float]  # s

    @property
    def successes(self) -> int:
        return sum(a.success for a in self.attempts)


def _executor_config(path: Path, T_base_camera: np.ndarray):
    from .robot.executor import ExecutorConfig

    if not path.is_file():
        raise FileNotFoundError(f"executor config not found: {path}")
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cfg["calibration"] = {"file": None, "transform": np.asarray(T_base_camera).tolist()}
    cfg["robot"] = {"driver": "sim", "sim": (cfg.get("robot") or {}).get("sim") or {}}
    return ExecutorConfig.from_mapping(cfg, path.parent)


def run_loop(num_objects: int = 5, seed: int = 0, attempts: int = 1, camera: str = "realsense",
             out: str | Path | None = "output/loop.png", obj_ids: list[int] | None = None,
             checkpoint: str | Path | None = None, executor_config: str | Path = DEFAULT_EXECUTOR_CONFIG,
             use_cache: bool = True, log=print, noise: str = "sensor") -> LoopResult:
    """Build, settle, render, detect, execute; repeat ``attempts`` times while
    objects are left (a lifted object is removed from the table).

    ``obj_ids`` overrides ``num_objects`` (an empty list is an empty table).
    ``noise``: the camera's depth model, ``sensor`` (simulated) or ``simple``.
    Writes ``out`` (colour image of the last attempt with the detected grasps,
    the executed one highlighted, and the outcome) unless it is None.
    """
    from .dataset.synthetic.cameras import CAMERA_MODELS
    from .detection.detector_params import build_pipeline, detector_params
    from .detection.segment import plane_from_pose
    from .robot.executor import GraspExecutor, build_arm
    from .robot.sim import SimObject

    if camera not in CAMERA_MODELS:
        raise ValueError(f"unknown camera '{camera}'; use one of {sorted(CAMERA_MODELS)}")
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    t_start = time.perf_counter()
    ids = default_object_ids(num_objects, seed) if obj_ids is None else [int(i) for i in obj_ids]
    scene = build_scene(ids, seed, use_cache)
    centre = scene.poses[:, :2, 3].mean(axis=0) if len(scene.obj_ids) else np.zeros(2)
    T_cam = camera_pose(centre)
    exec_cfg = _executor_config(Path(executor_config), T_cam)
    objects = [SimObject(m, p, parts=pc, name=str(i), object_id=i)
               for m, p, pc, i in zip(scene.meshes, scene.poses, scene.pieces, scene.obj_ids)]
    t0 = time.perf_counter()
    arm = build_arm(exec_cfg.robot, objects, seed)
    executor = GraspExecutor(arm, exec_cfg)
    t_sim = time.perf_counter() - t0
    # the detector node's pipeline (config/grasp_detector_node.yaml); the table is known here,
    # so segmentation takes its plane instead of fitting one
    pipeline = build_pipeline(detector_params(overrides={"checkpoint": str(checkpoint or ""), "seed": seed}))
    table_plane = plane_from_pose(np.linalg.inv(T_cam))
    rng = np.random.default_rng(seed)
    history: list[Attempt] = []
    for k in range(attempts):
        left = [int(i) for i in arm.remaining()]
        if k > 0 and not left:
            break
        t_att = time.perf_counter()
        poses_now = arm.object_poses()[left]
        meshes_now = [scene.meshes[i] for i in left]
        ids_now = [scene.obj_ids[i] for i in left]
        frame = render(meshes_now, poses_now, ids_now, camera, T_cam, rng, noise)
        try:
            det = pipeline.process(frame.cloud, "camera", support_plane=table_plane)
            grasps, det_ms = det.grasps, {k: v * 1000.0 for k, v in det.timings.items()}
        except ValueError as exc:  # nothing on the table, too few points
            log(f"detector: {exc}")
            grasps, det_ms = GraspGroup(), {}
        grasps = GraspGroup(grasps.array, frame_id="camera", copy=False, validate=False)
        cloud_base = executor.cloud_to_base(frame.cloud, "camera")
        num_safe, chosen = 0, None
        if len(grasps):
            _, report = executor.check(grasps, cloud_base)
            num_safe = int(report.ok.sum())
            if num_safe:
                best = int(np.flatnonzero(report.ok)[0])  # grasps are sorted best first
                chosen = grasps[best:best + 1]
        before = arm.object_poses()
        if chosen is None:
            reason = "no grasps detected" if not len(grasps) else \
                f"no grasps: all {len(grasps)} detected grasps refused by the safety checks"
            res = None
        else:
            res = executor.execute(chosen, cloud_base)
            reason = res.reason
        moved = float(np.linalg.norm(arm.object_poses()[:, :3, 3] - before[:, :3, 3], axis=1).max()) \
            if len(before) else 0.0
        chosen_base = res.grasp if res is not None else None
        chosen_obj = -1
        if chosen is not None:
            gp = executor.to_base(chosen).translations
            idx = assign_objects(gp, [scene.meshes[i] for i in left], before[left])[0]
            chosen_obj = scene.obj_ids[left[idx]] if idx >= 0 else -1
        lifted = res.object_index if res is not None else None
        att = Attempt(len(left), grasps, det_ms, num_safe, chosen, chosen_base, chosen_obj,
                      bool(res.success) if res is not None else False,
                      float(res.measured_width) if res is not None else 0.0, reason,
                      scene.obj_ids[lifted] if lifted is not None else -1, moved,
                      res is not None and res.phase in ("close", "lift", "verify"), frame.rgb, frame,
                      time.perf_counter() - t_att)
        history.append(att)
        log(attempt_summary(k, att))
        if lifted is not None:
            arm.remove_object(lifted)
        executor.reset()
        if res is not None:
            arm.settle(0.3)
    image = write_picture(out, history[-1]) if out is not None and history else None
    timings = dict(scene.timings, sim_build=t_sim, total=time.perf_counter() - t_start)
    return LoopResult(scene, camera, history, image, timings)


# ---------------------------------------------------------------------------
# reporting


def _fmt_grasp(g: GraspGroup) -> str:
    t = g.translations[0]
    return (f"t=({t[0]:+.3f}, {t[1]:+.3f}, {t[2]:+.3f}) m approach=({g.approaches[0][0]:+.2f}, "
            f"{g.approaches[0][1]:+.2f}, {g.approaches[0][2]:+.2f}) score={g.scores[0]:.3f} "
            f"width={g.widths[0]:.3f} m")


def attempt_summary(k: int, a: Attempt) -> str:
    """Human-readable lines for one attempt."""
    ms = a.detect_ms
    lines = [f"attempt {k + 1}: {a.num_objects} object(s) on the table; {len(a.grasps)} grasps detected"
             + (f" in {ms.get('total', 0):.0f} ms (prepare and segment {ms.get('prepare', 0):.0f}, "
                f"candidates {ms.get('detect.network', 0):.0f}, collision {ms.get('detect.collision', 0):.0f}, "
                f"nms {ms.get('nms', 0):.0f})" if ms else "") + f"; {a.num_safe} pass the safety checks"]
    if a.chosen is not None:
        lines.append(f"  chosen (camera): {_fmt_grasp(a.chosen)}")
        if a.chosen_base is not None:
            lines.append(f"  chosen (base):   {_fmt_grasp(a.chosen_base)}  on object {a.chosen_object}")
    outcome = "SUCCESS" if a.success else "FAILED"
    lines.append(f"  outcome: {outcome}; measured width {a.measured_width:.4f} m"
                 + (f"; lifted object {a.lifted_object}" if a.lifted_object >= 0 else "")
                 + (f"; reason: {a.reason}" if a.reason else "")
                 + f" ({a.seconds:.1f} s)")
    return "\n".join(lines)


def summary(result: LoopResult) -> str:
    s = result.scene
    t = result.timings
    head = (f"scene: {len(s.obj_ids)} objects {s.obj_ids} settled (prepare {t['prepare']:.1f} s, "
            f"settle {t['settle']:.1f} s, sim build {t['sim_build']:.1f} s); camera {result.camera}")
    tail = (f"result: {result.successes}/{len(result.attempts)} successful grasps; "
            f"total {t['total']:.1f} s" + (f"; picture {result.image}" if result.image else ""))
    return head + "\n" + tail


def write_picture(out: str | Path, a: Attempt) -> Path:
    """Colour image of an attempt: detected grasps (score-coloured), the
    executed one drawn on top in blue, and the outcome as a caption."""
    import cv2

    from .viz.image_overlay import draw_grasps, write_png

    outcome = ("SUCCESS" if a.success else "FAILED") + f": width {a.measured_width:.3f} m"
    caption = f"{len(a.grasps)} grasps, {a.num_safe} safe; {outcome}"
    if a.reason:
        caption += "\n" + a.reason[:110]
    img = draw_grasps(a.frame.rgb, a.grasps, a.frame.intrinsics, max_grasps=30, caption=caption)
    if a.chosen is not None:
        from .cameras.geometry import project_points
        from .viz.gripper_lines import gripper_polylines

        uv = project_points(gripper_polylines(a.chosen).reshape(-1, 3), a.frame.intrinsics).reshape(6, 2)
        if np.isfinite(uv).all():
            pts = np.round(uv).astype(np.int32)
            bgr = np.ascontiguousarray(img[..., ::-1])
            colour = (255, 128, 0)  # BGR: blue-ish
            cv2.polylines(bgr, [pts[:4]], False, colour, 4, cv2.LINE_AA)
            cv2.line(bgr, tuple(pts[4]), tuple(pts[5]), colour, 4, cv2.LINE_AA)
            img = bgr[..., ::-1].copy()
    return write_png(out, img)


__all__ = ["run_loop", "DatasetScene", "SimArmCamera", "raycast_view", "LoopResult", "Attempt", "LoopScene", "Frame",
           "build_scene", "render", "camera_pose", "load_object", "default_object_ids", "assign_objects",
           "cache_dir", "summary", "attempt_summary", "write_picture"]
