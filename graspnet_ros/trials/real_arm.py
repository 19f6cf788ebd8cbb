"""Trial sessions on a real arm: camera frames -> detector -> executor, judged by width + operator.

ROS-free. :func:`graspnet_ros.trials.session.run_session` hands a session here
when the executor config's ``robot.driver`` names a real arm (ur_rtde, xarm;
built by :func:`~graspnet_ros.robot.executor.build_arm`, whose errors name the
missing SDK). The hardware is a :class:`RealRig`:

* a :class:`~graspnet_ros.cameras.base.Camera` built by
  :func:`graspnet_ros.cameras.factory.make_camera` from a camera_node.yaml-style
  file (``source``, ``camera_name``, ``realsense.*`` ...);
* the grasp_detector_node's :class:`~graspnet_ros.detection.runner.DetectionPipeline`
  from its YAML (default: the package's) and an optional checkpoint (without
  one, the model-free baseline);
* the :class:`~graspnet_ros.robot.executor.GraspExecutor` with the executor
  config's calibration and safety checks: eye-to-hand T_base<-camera, or
  eye-in-hand T_flange<-camera composed with the flange pose read when the
  frame is captured (kept in the :class:`Capture` and used for that frame's
  cloud and grasps, whatever the arm does afterwards).

Every trial: let the scene come to rest, capture a frame, back-project its
depth to a cloud in the camera's optical frame (cropped to the executor's
safety workspace, metres, base frame, kept ``TABLE_MARGIN`` below it so the
table top stays in the cloud), detect, execute one grasp, propose the outcome
from the gripper width after the lift and let the operator confirm or
override it (:func:`~graspnet_ros.trials.operator.judge_with_operator`); the
record is appended to the JSONL log (flushed and synced) before anything else.

* **clear-table**: at each scene start the operator declares how many objects
  are on the table. Attempts ``clear-table/<scene>/<attempt>`` go on until
  every declared object is removed, the operator says the table is clear, no
  grasp is found, or ``max_consecutive_failures`` failures in a row. After a
  success the operator takes the object out of the gripper and off the table
  (the jaws open once they answer). Completion rate = objects removed /
  objects declared.
* **score-bins** (paper Table 2): the operator places one named object; the
  detected grasps are binned by their PREDICTED score (|s - bin| <=
  ``bin_tolerance``, or the nearest bin) and one safe grasp of the trial's bin,
  drawn at random, is executed (``score-bins/<object>/s<bin>/<trial>``).

Resume: a rerun with the same output folder skips every logged key; the
operator re-creates the scene state (clear-table: the declared objects not
yet removed). A driver error (:class:`~graspnet_ros.robot.base.RobotError`)
or a camera error ends the session: the trial in progress is not counted, an
``abort`` record with the reason is logged, results.json is written from the
log and :class:`SessionAborted` is raised; a rerun resumes at that trial.
"""

from __future__ import annotations

import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from ..cameras.base import Camera, CameraError
from ..cameras.geometry import depth_to_points
from ..grasp import GraspGroup
from ..params import read_node_parameters
from ..detection.runner import DetectionPipeline
from ..robot.base import Arm, RobotError
from ..robot.executor import ExecutorConfig, GraspExecutor, build_arm
from .clear_table import clear_table_data, format_clear_table
from .config import SessionConfig
from .operator import SessionAborted, SessionOperator, judge_with_operator
from .results import TrialLog, TrialsReport, write_json_atomic
from .score_bins import BinStats, format_score_table, plot_score_bins, score_bins_data

#: s the scene is given to come to rest before each capture (objects rolling after a drop).
SETTLE_SECONDS = 0.5


#: m below the safety workspace still kept in the cloud (the table top, for collision checks).
TABLE_MARGIN = 0.02


#: score-bins: placements of the object per trial before a bin is given up as unavailable.
MAX_PLACEMENTS = 3


# -- the hardware ----------------------------------------------------------------------
def camera_from_config(path: str | Path) -> Camera:
    """A (closed) camera from a camera_node.yaml-style file: ``source``, ``camera_name`` (optical
    frame ``<camera_name>_color_optical_frame``, as the camera node names it) and the source's
    settings; see docs/nodes.md."""
    from ..cameras.factory import make_camera

    p = read_node_parameters(path, "camera_node")
    source = str(p.get("source") or "")
    if not source:
        raise ValueError(f"{path}: no camera 'source' (realsense | kinect | synthetic | dataset)")
    return make_camera(source, p, f"{p.get('camera_name', 'camera')}_color_optical_frame")


def detection_pipeline(path: str | Path | None = None, checkpoint: str | Path | None = None) -> DetectionPipeline:
    """grasp_detector_node's pipeline from its parameter file (None: the package's
    config/grasp_detector_node.yaml). A ``checkpoint`` overrides the file's and selects the
    network; without any checkpoint the detector is the model-free baseline (``detector: auto``)."""
    from ..detection.detector_params import build_pipeline, detector_params

    overrides = {"checkpoint": str(checkpoint), "detector": "model"} if checkpoint else None
    return build_pipeline(detector_params(path, overrides))


@dataclass
class Capture:
    """One detection on a fresh camera frame."""

    grasps: GraspGroup  # camera optical frame, best first
    cloud_base: np.ndarray  # (M, 3) prepared cloud, base frame (executor clearance checks), m
    frame_id: str
    num_points: int  # cloud points inside the workspace
    error: str = ""  # why detection gave nothing ('' when it ran)
    seconds: float = 0.0
    T_base_flange: np.ndarray | None = None  # eye-in-hand: flange pose when the frame was taken (4x4, m)


@dataclass
class RealRig:
    """Camera + detection pipeline + executor (with its arm) of a real-arm session.

    settle: s the arm waits before each capture; read_timeout: s for a frame;
    max_stale_frames: frames stamped before the capture request (buffered by
    the device while the arm moved) are dropped, at most this many.
    """

    camera: Camera
    pipeline: DetectionPipeline
    executor: GraspExecutor
    settle: float = SETTLE_SECONDS
    read_timeout: float = 2.0
    max_stale_frames: int = 5

    def capture(self) -> Capture:
        """Capture, back-project, crop to the safety workspace and detect (grasps in the camera frame)."""
        t0 = time.perf_counter()
        self.executor.arm.wait(self.settle)
        requested = time.time()
        frame = self.camera.read(self.read_timeout)
        for _ in range(self.max_stale_frames):
            if frame.stamp >= requested:
                break
            frame = self.camera.read(self.read_timeout)
        # eye-in-hand: the camera is where the flange was when the frame was taken (the arm is still)
        flange = self.executor.flange_pose() if self.executor.config.eye_in_hand else None
        points = depth_to_points(frame.depth, frame.intrinsics, organised=False)
        base = self.executor.cloud_to_base(points, frame.frame_id, flange)
        ws = self.executor.config.safety.workspace
        lo = np.asarray(ws.lower, dtype=np.float64) - (0.0, 0.0, TABLE_MARGIN)
        points = points[((base >= lo) & (base <= np.asarray(ws.upper))).all(axis=1)]
        try:
            result = self.pipeline.process(points, frame.frame_id)
            grasps, cloud = result.grasps, result.cloud
        except ValueError as exc:  # nothing (usable) in view
            return Capture(GraspGroup(frame_id=frame.frame_id), np.zeros((0, 3)), frame.frame_id, len(points),
                           str(exc), time.perf_counter() - t0, flange)
        return Capture(grasps, self.executor.cloud_to_base(cloud, frame.frame_id, flange), frame.frame_id,
                       len(points), "", time.perf_counter() - t0, flange)


def build_rig(cfg: SessionConfig, exec_cfg: ExecutorConfig, arm: Arm | None = None, camera: Camera | None = None,
              pipeline: DetectionPipeline | None = None) -> RealRig:
    """The session's hardware; given parts are used as they are, the others come from the configs
    (the arm last: connecting to a robot is what should happen once everything else is in order)."""
    if exec_cfg.T_base_camera is None and not exec_cfg.eye_in_hand:
        raise ValueError("a real-arm session maps the camera's grasps to the robot base with the calibration "
                         "T_base<-camera: set calibration.file (or calibration.transform) in the executor config")
    if pipeline is None:
        pipeline = detection_pipeline(cfg.detector_config, cfg.checkpoint)
    if camera is None:
        if cfg.camera_config is None:
            raise ValueError("a real-arm session needs a camera: give camera_config (--camera-config), a "
                             "camera_node.yaml-style file with source realsense | kinect and its settings")
        camera = camera_from_config(cfg.camera_config)
    if camera.frame_id not in exec_cfg.camera_frames:
        raise ValueError(f"the camera's frame '{camera.frame_id}' is not a camera frame of the executor config "
                         f"{list(exec_cfg.camera_frames)}: add it to frames.camera (or set camera_name)")
    if arm is None:
        arm = build_arm(exec_cfg.robot, seed=cfg.seed)
    return RealRig(camera, pipeline, GraspExecutor(arm, exec_cfg))


# -- logging helpers -----------------------------------------------------------------------
def _abort(log: TrialLog, key: str, reason: str) -> SessionAborted:
    """Log why the session stops at ``key`` and return the exception to raise."""
    n = sum(k.startswith(f"{key}/aborted/") for k in log.records)
    log.append({"key": f"{key}/aborted/{n}", "protocol": "abort", "trial_key": key, "reason": reason,
                "time": time.time()})
    return SessionAborted(f"{key}: {reason}. Every finished trial is in {log.path}; fix the cause and rerun the "
                          f"same command to resume at {key}")


@contextmanager
def _guard(log: TrialLog, key: str) -> Iterator[None]:
    """Turn a driver or camera error raised at step ``key`` into a logged :class:`SessionAborted`."""
    try:
        yield
    except (RobotError, CameraError) as exc:
        raise _abort(log, key, f"{type(exc).__name__}: {exc}") from exc


def _check_abort(log: TrialLog, key: str, result) -> None:
    if result.reason.startswith("aborted"):
        raise _abort(log, key, result.reason)


def _trial_fields(result, judged: dict, capture: Capture, t0: float, driver: str) -> dict:
    return {**judged, "measured_width": result.measured_width, "reason": result.reason,
            "grasp": None if result.grasp is None else result.grasp.array[0], "num_grasps": len(capture.grasps),
            "driver": driver, "seconds": time.perf_counter() - t0}


# -- clear table -------------------------------------------------------------------------
def _scene_attempts(log: TrialLog, scene: str) -> list[dict]:
    return sorted((r for r in log.records.values() if r.get("protocol") == "clear-table"
                   and r.get("scene") == scene and "attempt" in r), key=lambda r: r["attempt"])


def run_real_clear_table(rig: RealRig, scenes: Sequence[str], log: TrialLog, operator: SessionOperator,
                         max_consecutive_failures: int = 3, default_objects: int = 5,
                         progress: Callable[[dict], None] | None = None) -> None:
    """Run (or resume) clear-table on a real arm; every attempt is in ``log`` (see the module docstring)."""
    min_width = rig.executor.config.grasping.min_closed_width
    driver = str(rig.executor.config.robot.get("driver", ""))
    for name in scenes:
        start, end = f"clear-table/{name}/start", f"clear-table/{name}/end"
        if end in log:
            continue
        done = _scene_attempts(log, name)
        cleared = sum(bool(r["removed"]) for r in done)
        with _guard(log, start):
            if start not in log:
                n = operator.count(start, f"set up scene '{name}': put its objects on the table in view of the "
                                          "camera, gripper empty, hands clear (the jaws open, and the arm goes to "
                                          "motion.home if set, when you answer). How many objects are on the table?",
                                   default_objects)
                log.append({"key": start, "protocol": "clear-table-start", "scene_name": name, "objects": int(n),
                            "driver": driver, "time": time.time()})
            else:
                n = int(log.records[start]["objects"])
                operator.ready(f"clear-table/{name}/resume",
                               f"resuming scene '{name}' after {len(done)} logged attempts: put back the "
                               f"{max(n - cleared, 0)} of {n} declared objects not yet removed, take anything out "
                               "of the gripper (the jaws open when you answer), hands clear")
            rig.executor.reset()
        attempts, consecutive = len(done), 0
        for r in done:
            consecutive = 0 if r["success"] else consecutive + 1
        reason = ""
        while not reason:
            if cleared >= n:
                reason = f"all {n} declared objects removed"
                break
            if consecutive >= max_consecutive_failures:
                reason = f"{consecutive} consecutive failures"
                break
            key = f"clear-table/{name}/{attempts}"
            with _guard(log, key):
                t0 = time.perf_counter()
                cap = rig.capture()
                res = rig.executor.execute_best(cap.grasps, cap.cloud_base, T_base_flange=cap.T_base_flange)
                if res.refused:
                    reason = f"no grasp found: {cap.error or res.reason}"
                    break
                _check_abort(log, key, res)
                judged = judge_with_operator(key, res, min_width, operator.confirm)
                log.append({"key": key, "protocol": "clear-table", "scene": name, "attempt": attempts,
                            "objects_declared": n, "cleared_before": cleared, "removed": judged["success"],
                            "object": None, "refused": False,
                            "score": None if res.grasp is None else float(res.grasp.scores[0]),
                            **_trial_fields(res, judged, cap, t0, driver)})
                if progress is not None:
                    progress(log.records[key])
                attempts += 1
                if judged["success"]:
                    cleared, consecutive = cleared + 1, 0
                    take = "take the picked object out of the gripper and off the table (the jaws open when you answer)"
                    if cleared >= n:
                        operator.ready(key, take)
                    elif operator.ask(key, take + ". Is the table clear now?", False):
                        reason = "the operator declared the table clear"
                else:
                    consecutive += 1
                rig.executor.reset()
        log.append({"key": end, "protocol": "clear-table-end", "scene_name": name, "objects": n, "reason": reason})


def clear_table_counts(log: TrialLog, scenes: Sequence[str]) -> dict[str, dict]:
    """Per started scene: objects declared, attempts, successes, objects removed (from the log)."""
    out = {}
    for name in scenes:
        start = log.records.get(f"clear-table/{name}/start")
        if start is None:
            continue
        recs = _scene_attempts(log, name)
        out[name] = {"objects": int(start["objects"]), "attempts": len(recs),
                     "successes": sum(int(r["success"]) for r in recs),
                     "cleared": sum(bool(r["removed"]) for r in recs)}
    return out


# -- score bins --------------------------------------------------------------------------
def bin_index(scores: np.ndarray, bins: Sequence[float], tolerance: float | str = 0.05) -> np.ndarray:
    """(N,) index into ``bins`` of each predicted score: the nearest bin, kept when
    |score - bin| <= ``tolerance`` (-1 otherwise); ``tolerance='nearest'`` keeps every score."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1, 1)
    dist = np.abs(s - np.asarray(bins, dtype=np.float64).reshape(1, -1))
    idx = dist.argmin(axis=1) if len(bins) else np.full(len(s), -1)
    if tolerance == "nearest" or len(idx) == 0:
        return idx
    return np.where(dist[np.arange(len(idx)), idx] <= float(tolerance) + 1e-9, idx, -1)


def _bin_tag(close_jaws: bool) -> str:
    return "score-bins" if close_jaws else "score-bins-open-jaws"


def run_real_score_bins(rig: RealRig, objects: Sequence[str], log: TrialLog, operator: SessionOperator,
                        trials_per_bin: int = 20, bins: Sequence[float] = (1.0, 0.5, 0.1),
                        tolerance: float | str = 0.05, seed: int = 0, close_jaws: bool = True,
                        progress: Callable[[dict], None] | None = None) -> None:
    """Run (or resume) score-bins on a real arm: per object and bin, ``trials_per_bin`` grasps whose
    predicted score falls in the bin, one per placement of the object (see the module docstring).

    A bin is given up for an object (``.../unavailable`` record) after
    ``MAX_PLACEMENTS`` placements without a safe grasp in it.
    """
    tag = _bin_tag(close_jaws)
    min_width = rig.executor.config.grasping.min_closed_width
    driver = str(rig.executor.config.robot.get("driver", ""))
    with _guard(log, f"{tag}/start"):
        rig.executor.reset()
    for name in objects:
        for bi, s in enumerate(bins):
            for ti in range(trials_per_bin):
                key = f"{tag}/{name}/s{s:.1f}/{ti}"
                if f"{tag}/{name}/s{s:.1f}/unavailable" in log:
                    break
                if key in log:
                    continue
                with _guard(log, key):
                    t0 = time.perf_counter()
                    message = f"place '{name}' alone on the table in view of the camera (any pose), hands clear"
                    res = None
                    for placement in range(1, MAX_PLACEMENTS + 1):  # noqa: B007 - logged after the loop
                        operator.ready(key, message)
                        cap = rig.capture()
                        in_bin = np.flatnonzero(bin_index(cap.grasps.scores, bins, tolerance) == bi)
                        why = cap.error or f"{len(cap.grasps)} grasps detected, {len(in_bin)} in bin {s:g}"
                        safe = in_bin[:0]
                        if len(in_bin):
                            _, report = rig.executor.check(cap.grasps[in_bin], cap.cloud_base, cap.T_base_flange)
                            safe = in_bin[report.ok]
                            why += f", {len(safe)} pass the safety checks"
                        if len(safe):
                            rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
                            gi = int(rng.choice(safe))
                            res = rig.executor.execute(cap.grasps[gi:gi + 1], cap.cloud_base, close_jaws=close_jaws,
                                                       T_base_flange=cap.T_base_flange)
                            if not res.refused:
                                break
                            why, res = res.reason, None
                        message = (f"no grasp with a predicted score in bin {s:g} ({why}); move '{name}' to "
                                   "another pose, hands clear")
                    if res is None:
                        log.append({"key": f"{tag}/{name}/s{s:.1f}/unavailable", "protocol": f"{tag}-unavailable",
                                    "object": name, "bin": s, "placements": MAX_PLACEMENTS, "reason": why})
                        break
                    _check_abort(log, key, res)
                    judged = judge_with_operator(key, res, min_width, operator.confirm)
                    log.append({"key": key, "protocol": tag, "object": name, "bin": s, "trial": ti,
                                "score": float(cap.grasps.scores[gi]), "grasp_camera": cap.grasps.array[gi],
                                "num_in_bin": len(in_bin), "num_safe_in_bin": len(safe), "placements": placement,
                                **_trial_fields(res, judged, cap, t0, driver)})
                    if progress is not None:
                        progress(log.records[key])
                    rig.executor.reset()


def score_bins_counts(log: TrialLog, objects: Sequence[str], bins: Sequence[float], close_jaws: bool = True
                      ) -> dict[str, dict[float, BinStats]]:
    """Per object and bin: successes, trials and the in-bin grasps of the latest trial (from the log)."""
    tag = _bin_tag(close_jaws)
    out: dict[str, dict[float, BinStats]] = {}
    for name in objects:
        out[name] = {}
        for s in bins:
            recs = sorted((r for r in log.records.values() if r.get("protocol") == tag and r.get("object") == name
                           and "trial" in r and np.isclose(r["bin"], s)), key=lambda r: r["trial"])
            out[name][s] = BinStats(sum(int(r["success"]) for r in recs), len(recs),
                                    int(recs[-1]["num_in_bin"]) if recs else 0)
    return out


# -- the session ---------------------------------------------------------------------------
def run_real_session(cfg: SessionConfig, exec_cfg: ExecutorConfig, operator: SessionOperator,
                     arm: Arm | None = None, camera: Camera | None = None, pipeline: DetectionPipeline | None = None,
                     progress: Callable[[dict], None] | None = None) -> TrialsReport:
    """Run or resume a real-arm session; writes results.json (+ the PNG for score-bins) from the log.

    arm / camera / pipeline: the hardware (default: from ``exec_cfg.robot``,
    ``cfg.camera_config``, ``cfg.detector_config`` + ``cfg.checkpoint``).
    Raises :class:`SessionAborted` after writing the results when a driver
    or camera error ended the session.
    """
    if cfg.protocol == "score-bins" and not cfg.objects:
        raise ValueError("real-arm score-bins needs the names of the objects the operator will place: "
                         "objects: [mug, ...] in the trials config or --objects mug ...")
    t0 = time.perf_counter()
    rig = build_rig(cfg, exec_cfg, arm, camera, pipeline)
    cfg.out.mkdir(parents=True, exist_ok=True)
    log = TrialLog(cfg.out / ("trials_open_jaws.jsonl" if cfg.negative_control else "trials.jsonl"))
    before = set(log.records)
    scenes = [f"scene_{s:04d}" for s in (cfg.scenes or range(cfg.trials))]
    aborted: SessionAborted | None = None
    t_trials = time.perf_counter()
    try:
        with _guard(log, f"{cfg.protocol}/camera"):
            rig.camera.open()
        if cfg.protocol == "clear-table":
            run_real_clear_table(rig, scenes, log, operator, cfg.max_consecutive_failures, cfg.objects_per_scene,
                                 progress)
        else:
            run_real_score_bins(rig, cfg.objects, log, operator, cfg.trials, cfg.bins, cfg.bin_tolerance, cfg.seed,
                                not cfg.negative_control, progress)
    except SessionAborted as exc:
        aborted = exc
    finally:
        rig.camera.close()
    seconds = time.perf_counter() - t_trials
    plot = None
    if cfg.protocol == "clear-table":
        per = clear_table_counts(log, scenes)
        table, data = format_clear_table(per), clear_table_data(per)
    else:
        stats = score_bins_counts(log, cfg.objects, cfg.bins, not cfg.negative_control)
        table, data = format_score_table(stats, cfg.bins), score_bins_data(stats, cfg.bins)
        title = "Success rate per predicted-score bin (real arm)" + (" (jaws open)" if cfg.negative_control else "")
        plot = plot_score_bins(stats, cfg.out / ("success_rate_open_jaws.png" if cfg.negative_control
                                                 else "success_rate.png"), cfg.bins, title)
    fresh = [r for k, r in log.records.items() if k not in before and "success" in r]
    data.update({"protocol": cfg.protocol, "negative_control": cfg.negative_control, "seed": cfg.seed,
                 "trials_run_now": len(fresh), "trial_seconds": float(sum(r["seconds"] for r in fresh)),
                 "session_seconds": seconds, "total_seconds": time.perf_counter() - t0, "log": str(log.path),
                 "simulator": None, "driver": str(exec_cfg.robot.get("driver")), "operator_confirm": True,
                 "camera": rig.camera.name, "detector": getattr(rig.pipeline.detector, "name", ""),
                 "bin_tolerance": cfg.bin_tolerance, "aborted": None if aborted is None else str(aborted)})
    write_json_atomic(cfg.out / ("results_open_jaws.json" if cfg.negative_control else "results.json"), data)
    if aborted is not None:
        raise aborted
    return TrialsReport(table, data, plot, log.path)
