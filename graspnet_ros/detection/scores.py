"""Score calibration: map a detector's raw score to the label it predicts (ROS-free).

A grasp's *true score* is its friction label on the paper's scale, 1.1 - mu for the
smallest mu that makes it force-closure, 0 when it is not force-closure, collides or
closes on nothing (:mod:`graspnet_ros.evaluation.calibration`). A detector is calibrated
when the mean true score of its grasps with predicted score s is s; then GAF's score
bins and a user's ``min_score`` mean what they say.

:class:`ScoreCalibration` is a monotone map fitted by isotonic regression
(:func:`scipy.optimize.isotonic_regression`) of true on raw scores of a detector's
grasps on training frames (``bench/bench_score_calibration.py`` fits and ships them):
piecewise linear between the fitted blocks' mean raw scores, clamped at the ends, plus
a 1e-6 slope so that the detector's order of grasps is kept exactly (no new ties).
Files are JSON (``{"raw": [...], "calibrated": [...], "fitted_on": "..."}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..grasp import GraspGroup

__all__ = ["ScoreCalibration", "calibrate", "fit_score_calibration", "BASELINE_CALIBRATION",
           "checkpoint_calibration"]

#: The shipped calibration of the model-free baseline.
BASELINE_CALIBRATION = Path(__file__).resolve().parents[1] / "data" / "score_calibration" / "baseline.json"
#: Order-keeping slope added to the map (score units per raw score unit).
_TIE_BREAK = 1e-6


@dataclass(frozen=True)
class ScoreCalibration:
    """Knots of the map: raw (K,) increasing, calibrated (K,) non-decreasing, in score units."""

    raw: tuple[float, ...]
    calibrated: tuple[float, ...]
    fitted_on: str = ""

    def __post_init__(self) -> None:
        r, c = np.asarray(self.raw, float), np.asarray(self.calibrated, float)
        if r.ndim != 1 or r.shape != c.shape or len(r) < 1 or not (np.isfinite(r).all() and np.isfinite(c).all()):
            raise ValueError("a score calibration needs as many finite raw as calibrated knots (at least one)")
        if np.any(np.diff(r) <= 0) or np.any(np.diff(c) < 0):
            raise ValueError("score calibration knots must be increasing in raw and non-decreasing in calibrated")

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated scores (same shape), order of ``scores`` kept."""
        s = np.asarray(scores, dtype=np.float64)
        return np.interp(s, self.raw, self.calibrated) + _TIE_BREAK * s

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"raw": list(self.raw), "calibrated": list(self.calibrated),
                                   "fitted_on": self.fitted_on}, indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ScoreCalibration":
        path = Path(path)
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
            return cls(tuple(map(float, d["raw"])), tuple(map(float, d["calibrated"])), str(d.get("fitted_on", "")))
        except FileNotFoundError:
            raise FileNotFoundError(f"score calibration not found: {path} (use 'none' to keep raw scores)") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a score calibration ({{\"raw\": [...], \"calibrated\": [...]}}): "
                             f"{exc}") from exc


def calibrate(grasps: GraspGroup, calibration: ScoreCalibration | None) -> GraspGroup:
    """``grasps`` with their scores mapped by ``calibration`` (the same grasps when None or empty)."""
    if calibration is None or not len(grasps):
        return grasps
    return grasps.with_scores(calibration.apply(grasps.scores))


def fit_score_calibration(raw: np.ndarray, true: np.ndarray, fitted_on: str = "",
                          min_block: int = 20) -> ScoreCalibration:
    """Isotonic fit of ``true`` on ``raw`` scores (1-D, same length, at least ``min_block``).

    Adjacent isotonic blocks smaller than ``min_block`` grasps are merged (weighted), so a
    knot stands on enough grasps to mean something; each block gives one knot at its mean
    raw score.
    """
    from scipy.optimize import isotonic_regression

    raw_flat, true_flat = np.asarray(raw, float).ravel(), np.asarray(true, float).ravel()
    if raw_flat.shape != true_flat.shape or len(raw_flat) < max(min_block, 2):
        raise ValueError(f"need at least {max(min_block, 2)} (raw, true) score pairs of equal length, "
                         f"got {raw_flat.shape} and {true_flat.shape}")
    order = np.argsort(raw_flat, kind="stable")
    x, y = raw_flat[order], true_flat[order]
    fit = isotonic_regression(y).x
    # blocks: runs of equal fitted value; merge small ones into their right (or left) neighbour
    starts = np.flatnonzero(np.r_[True, np.diff(fit) != 0])
    bounds = list(zip(starts, np.r_[starts[1:], len(x)]))
    merged: list[list[int]] = []
    for lo, hi in bounds:
        if merged and merged[-1][1] - merged[-1][0] < min_block:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    if len(merged) > 1 and merged[-1][1] - merged[-1][0] < min_block:
        merged[-2][1] = merged.pop()[1]
    knots_x = np.array([x[lo:hi].mean() for lo, hi in merged])
    knots_y = np.array([y[lo:hi].mean() for lo, hi in merged])
    knots_y = np.maximum.accumulate(knots_y)  # merging keeps monotone means; guard rounding
    keep = np.r_[True, np.diff(knots_x) > 0]
    return ScoreCalibration(tuple(knots_x[keep]), tuple(knots_y[keep]), fitted_on)


def checkpoint_calibration(checkpoint: str | Path) -> Path:
    """Where a checkpoint's own score calibration lives: ``NAME.scores.json`` beside ``NAME.pt``."""
    return Path(checkpoint).with_suffix(".scores.json")
