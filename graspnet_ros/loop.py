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

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
import yaml

from .dataset.synthetic.live import SettledScene, build_scene, camera_pose, default_object_ids
from .grasp import GraspGroup

DEFAULT_EXECUTOR_CONFIG = Path(__file__).resolve().parent.parent / "config" / "executor.yaml"
#: Region of the table (m, table frame) whose points reach the detector.
WORKSPACE_HALF = 0.3
#: A grasp belongs to the object with a surface point this close to its grasp point (m).
OBJECT_DISTANCE = 0.02


# ---------------------------------------------------------------------------
# one rendered view


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
    scene: SettledScene
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
    # the detector's work before the collision stage: the baseline's candidates or the network's forward pass
    proposing = ms.get("detect.candidates", ms.get("detect.network", 0))
    lines = [f"attempt {k + 1}: {a.num_objects} object(s) on the table; {len(a.grasps)} grasps detected"
             + (f" in {ms.get('total', 0):.0f} ms (prepare and segment {ms.get('prepare', 0):.0f}, "
                f"candidates {proposing:.0f}, collision {ms.get('detect.collision', 0):.0f}, "
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


__all__ = ["run_loop", "LoopResult", "Attempt", "Frame", "render", "assign_objects", "summary",
           "attempt_summary", "write_picture"]
