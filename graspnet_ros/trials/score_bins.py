"""Score-bins trials (paper Table 2): success per grasp-score bin with 95% Wilson intervals, table and plot.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..robot.executor import ExecutorConfig, GraspExecutor
from ..robot.sim import SimArm, SimConfig, SimGripper
from .operator import Confirm, judge_with_operator
from .results import TrialLog
from .scenes import ObjectCase, table_collision_free

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


@dataclass
class BinStats:
    successes: int
    trials: int
    available: int

    @property
    def rate(self) -> float:
        return self.successes / self.trials if self.trials else float("nan")


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
