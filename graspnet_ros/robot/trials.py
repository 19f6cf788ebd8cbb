"""Success-rate trials: the paper's score bins (Table 2) and table clearing.

ROS-free; runs on any :class:`~graspnet_ros.robot.base.Arm` through the
:class:`~graspnet_ros.robot.executor.GraspExecutor`, automatically with the
simulator (scene reset per trial, seeds recorded).

* **score-bins** (paper Table 2): for each object, grasps whose label score
  s = 1.1 - mu equals a bin (1.0, 0.5, 0.1 by default) are drawn at random,
  N per bin, and executed one per trial on a freshly reset scene; the success
  rate per object and bin is reported in the paper's table layout.
* **clear-table**: capture -> detect -> execute the best grasp -> remove the
  lifted object, until the table is empty or K consecutive failures; success
  rate = successful grasps / attempts, completion rate = objects cleared /
  objects, per scene and overall.

Every trial is appended to a JSONL log as it finishes (flushed and synced),
so an interrupted session loses at most the trial in progress; a rerun with
the same log skips what is done (clear-table replays the logged removals to
restore a half-cleared scene). Outputs: ``results.json`` (atomic), a console
table and a PNG plot of the success rate per score bin with 95% Wilson
intervals.

On a real arm (``robot.driver`` ur_rtde or xarm) :func:`run_session` hands
the session to :mod:`.real_session`: camera frames, a grasp detector, outcomes
judged by the gripper width and confirmed by the operator, the same log,
tables and plot.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np
import trimesh

from ..grasp import GraspGroup
from ..gripper import GripperModel, check_collision
from .executor import ExecutionResult, ExecutorConfig, GraspExecutor
from .sim import SimArm, SimConfig, SimGripper, SimObject
from ..views import look_at

if TYPE_CHECKING:
    from .real_session import SessionOperator

DEFAULT_BINS = (1.0, 0.5, 0.1)


# -- statistics ------------------------------------------------------------------
def wilson_interval(successes: np.ndarray | int, trials: np.ndarray | int, z: float = 1.96
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (vectorised); (0, 1) when trials = 0."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    safe = np.maximum(n, 1.0)
    p = k / safe
    denom = 1.0 + z**2 / safe
    centre = (p + z**2 / (2 * safe)) / denom
    half = z * np.sqrt(p * (1 - p) / safe + z**2 / (4 * safe**2)) / denom
    lo, hi = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    return np.where(n > 0, lo, 0.0), np.where(n > 0, hi, 1.0)


# -- the JSONL log -----------------------------------------------------------------
class TrialLog:
    """Append-only JSON-lines log of trials, keyed by ``record['key']``.

    Opening an existing log reads every complete line; a torn last line (the
    process died while writing it) is cut off so new records start cleanly.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, dict] = {}
        if self.path.exists():
            raw = self.path.read_bytes()
            good = 0
            for line in raw.splitlines(keepends=True):
                if not line.endswith(b"\n"):
                    break
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    break
                self.records[rec["key"]] = rec
                good += len(line)
            if good < len(raw):
                with open(self.path, "r+b") as f:
                    f.truncate(good)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def append(self, record: dict) -> None:
        if "key" not in record:
            raise ValueError("a trial record needs a 'key'")
        line = json.dumps(record, separators=(",", ":"), default=_json_default) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        self.records[record["key"]] = json.loads(line)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)!r}")


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write JSON through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=_json_default)
    os.replace(tmp, path)
    return path


# -- real-arm outcomes: width proposal + operator verdict ------------------------------
#: Operator confirmation of a real-arm trial: called with the proposal record
#: (key, proposed_success, measured_width, threshold, reason) once the lift is
#: over; returns the operator's verdict (True success, False failure) or None
#: when no answer came in time (the width-based proposal is kept).
Confirm = Callable[[dict], "bool | None"]


def propose_outcome(result: ExecutionResult, min_closed_width: float) -> bool:
    """Width-based outcome of a real-arm trial (no simulator ground truth).

    Proposed success = the grasp reached the verify phase without a driver
    abort and the jaws are still open wider than ``min_closed_width`` (m)
    after the lift, i.e. they closed on something and still hold it.
    """
    aborted = result.reason.startswith("aborted")
    return bool(result.phase == "verify" and not aborted and result.measured_width > min_closed_width)


def console_confirm(input_fn: Callable[[str], str] = input, output: Callable[[str], None] = print) -> Confirm:
    """A :data:`Confirm` that asks the operator on the console (``input_fn``, stdin by default).

    Enter accepts the proposal; y/yes/s/1 records a success, n/no/f/0 a
    failure; anything else asks again. A closed stdin (EOFError) raises a
    ``ValueError``: the trial is not logged, and a rerun resumes at it.
    """
    yes, no = {"y", "yes", "s", "success", "1"}, {"n", "no", "f", "failure", "0"}

    def confirm(proposal: dict) -> bool | None:
        proposed = bool(proposal["proposed_success"])
        prompt = (f"{proposal['key']}: gripper width {proposal['measured_width']:.4f} m after the lift "
                  f"(threshold {proposal['threshold']:.4f} m) -> proposed {'SUCCESS' if proposed else 'FAILURE'}. "
                  "[Enter] accept, [y] success, [n] failure: ")
        while True:
            try:
                answer = input_fn(prompt).strip().lower()
            except EOFError:
                raise ValueError(f"{proposal['key']}: no operator answer (stdin closed); the trial was not "
                                 "logged -- rerun the same command to resume at it") from None
            if answer == "":
                return proposed
            if answer in yes:
                return True
            if answer in no:
                return False
            output(f"  answer y (success), n (failure) or press Enter to accept; got {answer!r}")

    return confirm


def judge_with_operator(key: str, result: ExecutionResult, min_closed_width: float, confirm: Confirm,
                        sim_success: bool | None = None) -> dict:
    """Fields of a real-arm trial record: the width proposal, the operator's verdict and the outcome.

    ``success`` is the operator's verdict (the proposal when the operator did
    not answer in time); ``verdict`` is 'confirmed', 'overridden' or
    'timeout'; ``sim_success`` (ground truth of a simulator driven through
    this path, None on a real arm) is stored for comparison only.
    """
    proposed = propose_outcome(result, min_closed_width)
    proposal = {"key": key, "proposed_success": proposed, "measured_width": float(result.measured_width),
                "threshold": float(min_closed_width), "reason": result.reason}
    answer = confirm(proposal)
    if answer is None:
        success, verdict = proposed, "timeout"
    else:
        success, verdict = bool(answer), "confirmed" if bool(answer) == proposed else "overridden"
    return {"success": success, "proposed_success": proposed, "operator_success": None if answer is None
            else bool(answer), "verdict": verdict, "width_threshold": float(min_closed_width),
            "sim_success": sim_success}


# -- objects and grasp labels -------------------------------------------------------
def primitive_objects() -> dict[str, trimesh.Trimesh]:
    """Boxes and cylinders (object frame at the bottom centre, metres) for simulated trials."""
    def box(x: float, y: float, z: float) -> trimesh.Trimesh:
        m = trimesh.creation.box((x, y, z))
        m.apply_translation((0, 0, z / 2))
        return m

    def cyl(r: float, h: float) -> trimesh.Trimesh:
        m = trimesh.creation.cylinder(radius=r, height=h, sections=48)
        m.apply_translation((0, 0, h / 2))
        return m

    return {"box_5x5x8": box(0.05, 0.05, 0.08), "box_7x4x10": box(0.07, 0.04, 0.10),
            "box_9x6x4": box(0.09, 0.06, 0.04), "cylinder_r3h10": cyl(0.03, 0.10),
            "cylinder_r2h12": cyl(0.02, 0.12), "cylinder_r4h6": cyl(0.04, 0.06)}


def label_object_grasps(mesh: trimesh.Trimesh, seed: int = 0, num_points: int = 80, num_views: int = 120,
                        num_angles: int = 12, depths: Sequence[float] = (0.01, 0.02, 0.03, 0.04),
                        max_width: float = 0.1) -> GraspGroup:
    """Force-closure grasp labels on a mesh, in its own frame (paper section 3.3 recipe).

    Candidates: surface points x outside views x in-plane angles x depths;
    each is closed onto the mesh (ray-cast contacts), labelled with the
    smallest passing mu of 0.1 .. 1.0, given the tight width plus 1 cm, and
    checked against the object's own points with the benchmark gripper.
    Returns the valid grasps with score s = 1.1 - mu (frame_id 'object').
    """
    from ..demo import sample_candidates
    from ..force_closure import (ANNOTATION_MUS, MeshRaycaster, antipodal_angle, grasp_contacts,
                                 labels_from_angles, tight_widths)

    cand = sample_candidates(mesh, num_points, num_views, num_angles, tuple(depths), max_width, seed)
    contacts = grasp_contacts(cand, MeshRaycaster.from_trimesh(mesh))
    labels = labels_from_angles(antipodal_angle(contacts), ANNOTATION_MUS)
    fc = labels > 0
    cand.array[fc, 1] = tight_widths(contacts, max_width=max_width)[fc]
    cloud, _ = trimesh.sample.sample_surface_even(mesh, 3000, seed=seed)
    good = fc & check_collision(cand, cloud, GripperModel()).valid
    return cand.filter(good).with_scores(np.round(1.1 - labels[good], 2))


def place(mesh: trimesh.Trimesh, x: float, y: float, yaw: float, table_z: float = 0.0) -> np.ndarray:
    """T_base<-obj standing the mesh's bottom on the table at (x, y), rotated by yaw (rad)."""
    T = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    T[:2, :2] = ((c, -s), (s, c))
    T[:3, 3] = (x, y, table_z - mesh.bounds[0, 2] + 1e-4)
    return T


def random_scene(seed: int, num_objects: int = 5, table_z: float = 0.0, spread: float = 0.18
                 ) -> list[SimObject]:
    """A cluttered scene of primitives at random non-overlapping spots (deterministic in seed)."""
    rng = np.random.default_rng(seed)
    catalogue = primitive_objects()
    names = list(catalogue)
    chosen = rng.choice(len(names), size=num_objects, replace=num_objects > len(names))
    objects, centres = [], []
    for k, i in enumerate(chosen):
        mesh = catalogue[names[i]]
        radius = float(np.linalg.norm(mesh.extents[:2]) / 2)
        for _ in range(200):
            xy = rng.uniform(-spread, spread, 2)
            if all(np.linalg.norm(xy - c) > radius + r + 0.01 for c, r in centres):
                break
        centres.append((xy, radius))
        objects.append(SimObject(mesh, place(mesh, xy[0], xy[1], rng.uniform(0, np.pi), table_z),
                                 name=f"{names[i]}#{k}", object_id=int(i)))
    return objects


def table_collision_free(grasps: GraspGroup, table_z: float, model: GripperModel = GripperModel()) -> np.ndarray:
    """(N,) bool: the benchmark gripper at each grasp (base frame) stays clear of the table slab."""
    if len(grasps) == 0:
        return np.zeros(0, bool)
    c = grasps.translations[:, :2].mean(axis=0)
    pts = np.concatenate([
        _grid(c, 0.5, 0.004, table_z),
        _grid(c, 0.5, 0.004, table_z - 0.01)])
    return ~check_collision(grasps, pts, model).collision


def _grid(center: np.ndarray, size: float, spacing: float, z: float) -> np.ndarray:
    a = np.arange(-size / 2, size / 2, spacing)
    gx, gy = np.meshgrid(a + center[0], a + center[1])
    return np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)], axis=1)


# -- score bins -------------------------------------------------------------------------
@dataclass
class ObjectCase:
    """One object of the score-bins protocol: its mesh, pose and grasp labels (object frame)."""

    name: str
    obj: SimObject
    labels: GraspGroup


@dataclass
class BinStats:
    successes: int
    trials: int
    available: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else float("nan")


@dataclass
class TrialsReport:
    """Summary of a run: ``table`` is the console text, ``data`` goes to results.json."""

    table: str
    data: dict
    plot: Path | None = None
    log: Path | None = None


def _trial_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0])


def run_score_bins(cases: Sequence[ObjectCase], log: TrialLog, trials_per_bin: int = 20,
                   bins: Sequence[float] = DEFAULT_BINS, seed: int = 0,
                   executor_config: ExecutorConfig | None = None, sim_config: SimConfig = SimConfig(),
                   gripper: SimGripper = SimGripper(), close_jaws: bool = True,
                   progress: Callable[[dict], None] | None = None, confirm: Confirm | None = None
                   ) -> dict[str, dict[float, BinStats]]:
    """Run (or resume) the score-bins protocol in simulation; returns stats per object and bin.

    Grasps are drawn from the labels of each bin (|s - bin| < 0.05) among
    those the executor's safety checks accept on the settled scene, without
    replacement when enough exist. ``close_jaws=False`` runs the negative
    control. Each trial's record is appended to ``log`` as it finishes.
    confirm: the real-arm path (see :func:`judge_with_operator`): the outcome
    is the operator's verdict on the width-based proposal, not the
    simulator's ground truth (which is kept as ``sim_success``).
    """
    tag = "score-bins" if close_jaws else "score-bins-open-jaws"
    stats: dict[str, dict[float, BinStats]] = {}
    for oi, case in enumerate(cases):
        arm = SimArm([case.obj], sim_config, gripper, seed=seed)
        executor = GraspExecutor(arm, executor_config or ExecutorConfig())
        pose = arm.object_poses()[0]
        grasps = case.labels.transform(pose, frame_id=executor.config.base_frame)
        grasps = grasps.filter(table_collision_free(grasps, sim_config.table_z))
        cloud = arm.scene_points()
        _, report = executor.check(grasps, cloud)
        grasps = grasps.filter(report.ok)
        stats[case.name] = {}
        for bi, s in enumerate(bins):
            pool = np.flatnonzero(np.abs(grasps.scores - s) < 0.05)
            n = min(trials_per_bin, len(pool))
            rng = np.random.default_rng(_trial_seed(seed, oi, bi))
            chosen = rng.choice(pool, size=n, replace=False) if n else np.zeros(0, np.int64)
            wins = 0
            for ti, gi in enumerate(chosen):
                key = f"{tag}/{case.name}/s{s:.1f}/{ti}"
                if key not in log:
                    trial_seed = _trial_seed(seed, oi, bi, ti)
                    arm.reset(trial_seed)
                    t0 = time.perf_counter()
                    res = executor.execute(grasps[int(gi)], cloud, close_jaws=close_jaws)
                    ok = bool(res.success and res.object_index == 0)
                    judged = {"success": ok} if confirm is None else judge_with_operator(
                        key, res, executor.config.grasping.min_closed_width, confirm, sim_success=ok)
                    log.append({"key": key, "protocol": tag, "object": case.name, "object_id": case.obj.object_id,
                                "bin": s, "trial": ti, "seed": trial_seed, **judged,
                                "measured_width": res.measured_width, "reason": res.reason,
                                "score": float(grasps.scores[gi]), "grasp": grasps.array[gi],
                                "seconds": time.perf_counter() - t0})
                    if progress is not None:
                        progress(log.records[key])
                wins += int(log.records[key]["success"])
            stats[case.name][s] = BinStats(wins, n, len(pool))
    return stats


def format_score_table(stats: dict[str, dict[float, BinStats]], bins: Sequence[float] = DEFAULT_BINS) -> str:
    """The paper's Table 2 layout: one row per object, one column per score, plus the mean."""
    head = f"{'Object':<20}" + "".join(f"{f's={s:g}':>16}" for s in bins)
    lines = [head, "-" * len(head)]
    for name, per in stats.items():
        cells = []
        for s in bins:
            b = per.get(s)
            cells.append(f"{'n/a':>16}" if b is None or b.trials == 0 else
                         f"{f'{b.rate:.0%} ({b.successes}/{b.trials})':>16}")
        lines.append(f"{name:<20}" + "".join(cells))
    totals = []
    for s in bins:
        k = sum(per[s].successes for per in stats.values() if s in per)
        n = sum(per[s].trials for per in stats.values() if s in per)
        totals.append(f"{f'{k / n:.0%} ({k}/{n})':>16}" if n else f"{'n/a':>16}")
    lines += ["-" * len(head), f"{'all objects':<20}" + "".join(totals)]
    return "\n".join(lines)


def score_bins_data(stats: dict[str, dict[float, BinStats]], bins: Sequence[float] = DEFAULT_BINS) -> dict:
    out: dict[str, Any] = {"objects": {}, "overall": {}}
    for name, per in stats.items():
        out["objects"][name] = {}
        for s, b in per.items():
            lo, hi = wilson_interval(b.successes, b.trials)
            out["objects"][name][f"{s:g}"] = {"successes": b.successes, "trials": b.trials,
                                              "available_grasps": b.available,
                                              "rate": None if b.trials == 0 else b.rate,
                                              "ci95": [float(lo), float(hi)]}
    for s in bins:
        k = sum(per[s].successes for per in stats.values() if s in per)
        n = sum(per[s].trials for per in stats.values() if s in per)
        lo, hi = wilson_interval(k, n)
        out["overall"][f"{s:g}"] = {"successes": k, "trials": n, "rate": k / n if n else None,
                                    "ci95": [float(lo), float(hi)]}
    return out


def plot_score_bins(stats: dict[str, dict[float, BinStats]], path: str | Path,
                    bins: Sequence[float] = DEFAULT_BINS, title: str = "Grasp success rate per score bin") -> Path:
    """PNG: success rate vs score with 95% Wilson intervals, per object and overall (atomic write)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = np.asarray(bins, dtype=float)
    names = list(stats)
    for j, name in enumerate(names):
        k = np.array([stats[name][s].successes if s in stats[name] else 0 for s in bins])
        n = np.array([stats[name][s].trials if s in stats[name] else 0 for s in bins])
        ok = n > 0
        if not ok.any():
            continue
        lo, hi = wilson_interval(k, n)
        rate = k / np.maximum(n, 1)
        dx = (j - (len(names) - 1) / 2) * 0.008
        ax.errorbar(xs[ok] + dx, rate[ok], yerr=[rate[ok] - lo[ok], hi[ok] - rate[ok]], fmt="o", alpha=0.5,
                    capsize=2, label=name)
    k = np.array([sum(p[s].successes for p in stats.values() if s in p) for s in bins])
    n = np.array([sum(p[s].trials for p in stats.values() if s in p) for s in bins])
    ok = n > 0
    if ok.any():
        lo, hi = wilson_interval(k, n)
        rate = k / np.maximum(n, 1)
        ax.errorbar(xs[ok], rate[ok], yerr=[rate[ok] - lo[ok], hi[ok] - rate[ok]], fmt="s-", color="k",
                    capsize=4, lw=2, label="all objects")
    ax.set_xlabel("grasp score s = 1.1 - mu")
    ax.set_ylabel("success rate (95% Wilson CI)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


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


@dataclass
class SceneCase:
    name: str
    objects: list[SimObject]


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


def iter_names(values: Iterable[str] | None, known: Sequence[str], what: str) -> list[str]:
    """Validate user-given names against the known ones (all when None)."""
    if not values:
        return list(known)
    bad = [v for v in values if v not in known]
    if bad:
        raise ValueError(f"unknown {what} {bad}; choose from {list(known)}")
    return list(values)


# -- sessions: what the command, the node and the bench run ---------------------------------
@dataclass
class SessionConfig:
    """One trials session (``config/trials.yaml`` + command-line overrides).

    protocol: 'score-bins' or 'clear-table'; trials: grasps per object and bin
    (score-bins) or number of scenes when ``scenes`` is empty (clear-table);
    objects: primitive names for score-bins (all when empty); scenes: scene
    seeds for clear-table; out: output folder (trials.jsonl, results.json,
    success_rate.png); label_cache: folder for cached grasp labels.
    operator_confirm: the real-arm outcome path -- each trial's width-based
    proposal is confirmed or overridden by the operator (console or the
    trial_node's ``confirm_trial`` service, which waits ``confirm_timeout`` s
    and then keeps the proposal).

    Real-arm sessions (the executor config's ``robot.driver`` is not ``sim``;
    see :mod:`graspnet_ros.robot.real_session`): camera_config: a
    camera_node.yaml-style file (source, camera_name, device settings);
    detector_config: a grasp_detector_node.yaml-style file (None: the
    package's); checkpoint: network weights (overrides the detector file's);
    bin_tolerance: score-bins window |predicted score - bin| (or 'nearest':
    each grasp goes to its nearest bin); objects: the names of the objects
    the operator places (score-bins); objects_per_scene: the default object
    count the operator confirms at each clear-table scene start. Real-arm
    outcomes always go through the operator, whatever ``operator_confirm`` says.
    """

    protocol: str = "score-bins"
    trials: int = 20
    objects: list[str] = field(default_factory=list)
    scenes: list[int] = field(default_factory=list)
    objects_per_scene: int = 5
    bins: tuple[float, ...] = DEFAULT_BINS
    seed: int = 0
    out: Path = Path("output/trials")
    max_consecutive_failures: int = 3
    negative_control: bool = False
    label_cache: Path | None = Path("output/trial_labels")
    labels: dict = field(default_factory=lambda: {"num_points": 60, "num_views": 120, "num_angles": 12,
                                                  "depths": [0.01, 0.02, 0.03, 0.04]})
    executor_config: Path | None = None
    operator_confirm: bool = False
    confirm_timeout: float = 120.0
    camera_config: Path | None = None
    detector_config: Path | None = None
    checkpoint: Path | None = None
    bin_tolerance: float | str = 0.05

    def __post_init__(self) -> None:
        if self.bin_tolerance != "nearest" and not (isinstance(self.bin_tolerance, (int, float))
                                                    and self.bin_tolerance > 0):
            raise ValueError(f"bin_tolerance must be a score window > 0 or 'nearest', got {self.bin_tolerance!r}")
        if self.protocol not in ("score-bins", "clear-table"):
            raise ValueError(f"unknown protocol '{self.protocol}'; use score-bins or clear-table")
        if self.trials < 1:
            raise ValueError(f"--trials must be >= 1, got {self.trials}")
        if not (self.confirm_timeout > 0):
            raise ValueError(f"confirm_timeout must be > 0 s, got {self.confirm_timeout}")
        self.out = Path(self.out)

    @classmethod
    def from_yaml(cls, path: str | Path | None, **overrides: Any) -> "SessionConfig":
        data: dict = {}
        if path is not None:
            import yaml

            path = Path(path)
            if not path.is_file():
                raise FileNotFoundError(f"trials config not found: {path}")
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown trials keys {sorted(unknown)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("out", "label_cache", "executor_config", "camera_config", "detector_config", "checkpoint"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        if "bins" in data:
            data["bins"] = tuple(float(b) for b in data["bins"])
        return cls(**data)


def cached_labels(name: str, mesh: trimesh.Trimesh, cache: Path | None, seed: int, params: dict) -> GraspGroup:
    """:func:`label_object_grasps`, cached as .npy under ``cache`` (atomic write)."""
    key = f"{name}_s{seed}_" + "_".join(f"{k}{v}" for k, v in sorted(params.items())).replace(" ", "")
    key = "".join(c if c.isalnum() or c in "._-" else "-" for c in key)
    path = None if cache is None else Path(cache) / f"{key}.npy"
    if path is not None and path.is_file():
        return GraspGroup.load(path, frame_id="object")
    labels = label_object_grasps(mesh, seed=seed, **{k: tuple(v) if isinstance(v, list) else v
                                                     for k, v in params.items()})
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp.npy")
        np.save(tmp, labels.array)
        os.replace(tmp, path)
    return labels


def load_detector(spec: str) -> Detector:
    """A detector from 'package.module:callable' (the callable takes an Observation)."""
    import importlib

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError(f"detector '{spec}' must look like 'package.module:callable'")
    obj = getattr(importlib.import_module(module), attr, None)
    if not callable(obj):
        raise ValueError(f"detector '{spec}': '{attr}' is not a callable in {module}")
    return obj


def run_session(cfg: SessionConfig, detector: Detector | None = None,
                progress: Callable[[dict], None] | None = None, confirm: Confirm | None = None,
                operator: SessionOperator | None = None) -> TrialsReport:
    """Run or resume a session and write results.json (+ the PNG for score-bins).

    In simulation unless the executor config's ``robot.driver`` names a real
    arm (ur_rtde, xarm): then :func:`graspnet_ros.robot.real_session.run_real_session`
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
        from .real_session import ConsoleOperator, run_real_session

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
        for k, name in enumerate(names):
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


def dataset_cases(root: str | Path, scene_id: int | None = None, ann_id: int = 0, camera: str = "realsense",
                  object_ids: Sequence[int] | None = None) -> list[ObjectCase]:
    """Score-bins objects from a GraspNet-1Billion root (real or synthetic), one case per object.

    Each object of one frame (default: the first scene, frame ``ann_id``) is
    put alone on the table at its pose in the table frame (the base frame; it
    settles before the trials), with its convex collision pieces
    (``models/%03d/collision/piece_*.obj``; its convex hull when absent) and its
    ground-truth grasp labels (every friction level, ignoring clutter
    collisions) moved into the object frame.
    """
    from ..dataset.objects import load_collision
    from ..dataset.reader import GraspNetDataset

    ds = GraspNetDataset(root, camera)
    scenes = ds.scene_ids()
    if not scenes:
        raise FileNotFoundError(f"{root}: no scenes under scenes/")
    frame = ds.frame(scenes[0] if scene_id is None else scene_id, ann_id)
    cases = []
    for obj_id, pose in zip(frame.object_ids.tolist(), frame.object_poses):
        if object_ids is not None and obj_id not in object_ids:
            continue
        grasps = ds.ground_truth_grasps(frame, fric_coef_thresh=1.0, object_ids=[obj_id], use_collision=False)
        labels = grasps.transform(np.linalg.inv(pose), frame_id="object")
        try:
            parts = load_collision(ds.layout, obj_id)
        except FileNotFoundError:
            parts = None
        T_base_obj = frame.table_pose @ pose
        name = f"object_{obj_id:03d}"
        cases.append(ObjectCase(name, SimObject(ds.model_mesh(obj_id), T_base_obj, parts, name, obj_id), labels))
    return cases
