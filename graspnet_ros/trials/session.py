"""One session: simulated score-bins / clear-table trials, or a real arm through :mod:`.real_arm`.
"""

from __future__ import annotations

import time
from typing import Callable

from ..robot.executor import ExecutorConfig
from ..robot.sim import SimObject
from .clear_table import Detector, GroundTruthDetector, clear_table_data, format_clear_table, run_clear_table
from .config import SessionConfig
from .operator import Confirm, SessionOperator, console_confirm
from .results import TrialLog, TrialsReport, write_json_atomic
from .scenes import ObjectCase, SceneCase, cached_labels, iter_names, place, primitive_objects, random_scene
from .score_bins import format_score_table, plot_score_bins, run_score_bins, score_bins_data


def run_session(cfg: SessionConfig, detector: Detector | None = None,
                progress: Callable[[dict], None] | None = None, confirm: Confirm | None = None,
                operator: SessionOperator | None = None) -> TrialsReport:
    """Run or resume a session and write results.json (+ the PNG for score-bins).

    In simulation unless the executor config's ``robot.driver`` names a real
    arm (ur_rtde, xarm): then :func:`graspnet_ros.trials.real_arm.run_real_session`
    runs it with the configured camera and detector, the operator answering
    through ``operator`` (default: the console; ``confirm`` replaces its
    verdict prompt).

    detector: simulated clear-table grasp detector (default: ground-truth
    labels of the scene's objects, :class:`GroundTruthDetector`). With
    ``cfg.operator_confirm`` every outcome goes through ``confirm`` (default:
    :func:`console_confirm` on stdin), see :func:`judge_with_operator`.
    """
    exec_cfg = ExecutorConfig.load(cfg.executor_config) if cfg.executor_config else ExecutorConfig()
    if str(exec_cfg.robot.get("driver", "sim")) != "sim":
        from .operator import ConsoleOperator
        from .real_arm import run_real_session

        if detector is not None:
            raise ValueError("a --detector callable (Observation -> grasps) is for simulated clear-table; a real-arm "
                             "session detects on camera frames with detector_config / checkpoint")
        if operator is None:
            operator = ConsoleOperator(confirm=confirm)
        return run_real_session(cfg, exec_cfg, operator=operator, progress=progress)
    if cfg.operator_confirm and confirm is None:
        confirm = console_confirm()
    if not cfg.operator_confirm:
        confirm = None
    cfg.out.mkdir(parents=True, exist_ok=True)
    log_name = "trials_open_jaws.jsonl" if cfg.negative_control else "trials.jsonl"
    log = TrialLog(cfg.out / log_name)
    catalogue = primitive_objects()
    t0 = time.perf_counter()
    before = len(log)
    if cfg.protocol == "score-bins":
        names = iter_names(cfg.objects, list(catalogue), "objects")
        cases = []
        for name in names:
            mesh = catalogue[name]
            labels = cached_labels(name, mesh, cfg.label_cache, cfg.seed, cfg.labels)
            cases.append(ObjectCase(name, SimObject(mesh, place(mesh, 0.0, 0.0, 0.3), name=name,
                                                    object_id=list(catalogue).index(name)), labels))
        t_trials = time.perf_counter()
        stats = run_score_bins(cases, log, cfg.trials, cfg.bins, cfg.seed, exec_cfg,
                               close_jaws=not cfg.negative_control, progress=progress, confirm=confirm)
        seconds = time.perf_counter() - t_trials
        table = format_score_table(stats, cfg.bins)
        data = score_bins_data(stats, cfg.bins)
        title = "Success rate per score bin" + (" (negative control: jaws open)" if cfg.negative_control else "")
        plot = plot_score_bins(stats, cfg.out / ("success_rate_open_jaws.png" if cfg.negative_control
                                                 else "success_rate.png"), cfg.bins, title)
    else:
        scene_ids = cfg.scenes or list(range(cfg.trials))
        scenes = [SceneCase(f"scene_{s:04d}", random_scene(s, cfg.objects_per_scene)) for s in scene_ids]
        if detector is None:
            def detector_for(scene: SceneCase) -> Detector:
                return GroundTruthDetector({i: cached_labels(o.name.split("#")[0], o.mesh, cfg.label_cache,
                                                             cfg.seed, cfg.labels)
                                            for i, o in enumerate(scene.objects)})
            det, per_scene = detector_for, True
        else:
            det, per_scene = detector, False
        t_trials = time.perf_counter()
        per = run_clear_table(scenes, det, log, cfg.max_consecutive_failures, seed=cfg.seed,
                              executor_config=exec_cfg, per_scene_detector=per_scene, progress=progress,
                              confirm=confirm)
        seconds = time.perf_counter() - t_trials
        table = format_clear_table(per)
        data = clear_table_data(per)
        plot = None
    fresh = [r for r in list(log.records.values())[before:] if "success" in r]
    data.update({"protocol": cfg.protocol, "negative_control": cfg.negative_control, "seed": cfg.seed,
                 "trials_run_now": len(fresh), "trial_seconds": float(sum(r["seconds"] for r in fresh)),
                 "session_seconds": seconds, "total_seconds": time.perf_counter() - t0,
                 "log": str(log.path), "simulator": "mujoco", "operator_confirm": cfg.operator_confirm})
    write_json_atomic(cfg.out / ("results_open_jaws.json" if cfg.negative_control else "results.json"), data)
    return TrialsReport(table, data, plot, log.path)
