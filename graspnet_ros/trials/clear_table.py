"""Clear-table trials in simulation: capture, detect, execute the best grasp, remove the lifted object.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision
from ..robot.executor import ExecutionResult, ExecutorConfig, GraspExecutor
from ..robot.sim import SimArm, SimConfig, SimGripper, SimObject
from ..views import look_at
from .operator import Confirm, judge_with_operator
from .results import TrialLog
from .scenes import SceneCase
from .score_bins import _trial_seed, wilson_interval


# -- clear table ----------------------------------------------------------------------------
@dataclass
class Observation:
    """What a detector sees: a point cloud in the camera frame plus the calibration.

    points: (M, 3) metres in ``frame_id`` (a camera optical frame);
    T_base_camera: 4x4. ``object_poses`` / ``objects`` are ground truth for
    detectors that use labels (never for a learned detector).
    """

    points: np.ndarray
    frame_id: str
    T_base_camera: np.ndarray
    objects: list[SimObject] = field(default_factory=list)
    object_poses: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))
    remaining: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


#: A grasp detector for the clear-table protocol: grasps in ``obs.frame_id``, best first.
Detector = Callable[[Observation], GraspGroup]


class GroundTruthDetector:
    """Grasps from force-closure labels of the remaining objects at their current poses.

    labels: per object index, labelled grasps in that object's frame. Grasps
    colliding with the current scene cloud (benchmark gripper) are dropped;
    the rest are pose-NMSed and returned best first in the camera frame.
    """

    def __init__(self, labels: dict[int, GraspGroup], top_k: int = 50) -> None:
        self.labels = labels
        self.top_k = top_k

    def __call__(self, obs: Observation) -> GraspGroup:
        T_cam_base = np.linalg.inv(obs.T_base_camera)
        groups = []
        for i in obs.remaining:
            g = self.labels.get(int(i))
            if g is None or len(g) == 0:
                continue
            groups.append(g.transform(obs.object_poses[i], frame_id="base").array)
        if not groups:
            return GraspGroup(frame_id=obs.frame_id)
        grasps = GraspGroup(np.concatenate(groups), frame_id="base", validate=False)
        cloud_base = obs.points @ obs.T_base_camera[:3, :3].T + obs.T_base_camera[:3, 3]
        ok = ~check_collision(grasps, cloud_base, GripperModel()).collision
        grasps = grasps.filter(ok).nms()[: self.top_k]
        return grasps.transform(T_cam_base, frame_id=obs.frame_id)


def run_clear_table(scenes: Sequence[SceneCase], detector: Detector | Callable[[SceneCase], Detector],
                    log: TrialLog, max_consecutive_failures: int = 3, max_attempts: int | None = None,
                    seed: int = 0, executor_config: ExecutorConfig | None = None,
                    sim_config: SimConfig = SimConfig(), gripper: SimGripper = SimGripper(),
                    camera_pose: np.ndarray | None = None, camera_frame: str = "camera",
                    per_scene_detector: bool = False, progress: Callable[[dict], None] | None = None,
                    confirm: Confirm | None = None) -> dict[str, dict]:
    """Run (or resume) clear-table in simulation; returns per-scene counts.

    detector: called with an :class:`Observation` and returns grasps in the
    camera frame (or, with ``per_scene_detector``, a factory called with the
    SceneCase that returns such a detector). The executor receives them in the
    camera frame and maps them with the calibration (the camera's true pose).
    confirm: the real-arm path (see :func:`judge_with_operator`); an object
    is removed when the operator's verdict is a success.
    """
    T_bc = look_at((0.0, -0.45, 0.55), (0.0, 0.0, 0.0)) if camera_pose is None else camera_pose
    base_cfg = executor_config or ExecutorConfig()
    cfg = ExecutorConfig(tool=base_cfg.tool, safety=base_cfg.safety, motion=base_cfg.motion,
                         grasping=base_cfg.grasping, base_frame=base_cfg.base_frame,
                         camera_frames=(camera_frame,), T_base_camera=T_bc, robot=base_cfg.robot)
    out: dict[str, dict] = {}
    for si, scene in enumerate(scenes):
        arm = SimArm(scene.objects, sim_config, gripper, seed=seed)
        executor = GraspExecutor(arm, cfg)
        detect = detector(scene) if per_scene_detector else detector
        arm.reset(_trial_seed(seed, si))
        done = sorted((r for r in log.records.values() if r.get("scene") == scene.name
                       and r.get("protocol") == "clear-table" and "attempt" in r), key=lambda r: r["attempt"])
        for r in done:  # replay the logged removals to restore a half-cleared scene
            if r.get("removed") is not None:
                arm.remove_object(int(r["removed"]))
        if done:
            arm.settle()
        attempts, successes = len(done), sum(int(r["success"]) for r in done)
        consecutive = 0
        for r in done:
            consecutive = 0 if r["success"] else consecutive + 1
        finished = f"clear-table/{scene.name}/end" in log
        while not finished:
            remaining = arm.remaining()
            if len(remaining) == 0 or consecutive >= max_consecutive_failures or (
                    max_attempts is not None and attempts >= max_attempts):
                break
            cloud_base = arm.scene_points(seed=attempts)
            T_cb = np.linalg.inv(T_bc)
            obs = Observation(cloud_base @ T_cb[:3, :3].T + T_cb[:3, 3], camera_frame, T_bc, scene.objects,
                              arm.object_poses(), remaining)
            t0 = time.perf_counter()
            grasps = detect(obs)
            res: ExecutionResult = executor.execute_best(grasps, cloud_base)
            key = f"clear-table/{scene.name}/{attempts}"
            judged = {"success": bool(res.success)}
            if confirm is not None and not res.refused:
                judged = judge_with_operator(key, res, executor.config.grasping.min_closed_width, confirm,
                                             sim_success=bool(res.success))
            removed = res.object_index if judged["success"] else None
            if removed is not None:
                arm.remove_object(removed)
            rec = {"key": key, "protocol": "clear-table", "scene": scene.name,
                   "attempt": attempts, "seed": arm.seed, **judged, "removed": removed,
                   "object": None if removed is None else scene.objects[removed].name,
                   "remaining_before": len(remaining), "num_grasps": len(grasps), "refused": res.refused,
                   "measured_width": res.measured_width, "reason": res.reason,
                   "grasp": None if res.grasp is None else res.grasp.array[0], "seconds": time.perf_counter() - t0}
            log.append(rec)
            if progress is not None:
                progress(log.records[rec["key"]])
            attempts += 1
            successes += int(judged["success"])
            consecutive = 0 if judged["success"] else consecutive + 1
            executor.reset()
            arm.settle(0.2)
        if not finished:
            log.append({"key": f"clear-table/{scene.name}/end", "protocol": "clear-table-end",
                        "scene_name": scene.name, "objects": len(scene.objects)})
        recs = [r for r in log.records.values() if r.get("scene") == scene.name and "attempt" in r]
        cleared = sum(r["removed"] is not None for r in recs)
        out[scene.name] = {"objects": len(scene.objects), "attempts": len(recs),
                           "successes": sum(int(r["success"]) for r in recs), "cleared": cleared}
    return out


def clear_table_data(per_scene: dict[str, dict]) -> dict:
    scenes = {}
    for name, c in per_scene.items():
        scenes[name] = dict(c, success_rate=c["successes"] / c["attempts"] if c["attempts"] else None,
                            completion_rate=c["cleared"] / c["objects"] if c["objects"] else None)
    a = sum(c["attempts"] for c in per_scene.values())
    s = sum(c["successes"] for c in per_scene.values())
    o = sum(c["objects"] for c in per_scene.values())
    cl = sum(c["cleared"] for c in per_scene.values())
    lo, hi = wilson_interval(s, a)
    return {"scenes": scenes, "overall": {"attempts": a, "successes": s, "objects": o, "cleared": cl,
                                          "success_rate": s / a if a else None, "success_ci95": [float(lo), float(hi)],
                                          "completion_rate": cl / o if o else None}}


def format_clear_table(per_scene: dict[str, dict]) -> str:
    data = clear_table_data(per_scene)
    head = f"{'Scene':<16}{'objects':>8}{'cleared':>9}{'attempts':>10}{'success':>10}{'completion':>12}"
    lines = [head, "-" * len(head)]

    def row(name: str, c: dict) -> str:
        sr = "n/a" if c["success_rate"] is None else f"{c['success_rate']:.0%}"
        cr = "n/a" if c["completion_rate"] is None else f"{c['completion_rate']:.0%}"
        return f"{name:<16}{c['objects']:>8}{c['cleared']:>9}{c['attempts']:>10}{sr:>10}{cr:>12}"

    lines += [row(n, c) for n, c in data["scenes"].items()]
    lines += ["-" * len(head), row("overall", data["overall"])]
    return "\n".join(lines)
