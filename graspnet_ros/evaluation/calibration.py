"""Score calibration: how the predicted grasp score relates to the label the evaluator gives.

A grasp's *true score* is the label on the paper's scale, s = 1.1 - mu for the
smallest friction coefficient mu that makes it force-closure, and 0 when it
is not force-closure up to mu = 1.0 (the annotation's largest; the evaluator
also tries 1.2), collides or closes on nothing (the evaluator's -1 labels).
A reliability table bins the predicted scores and reports, per bin, the
number of grasps and their mean true score: a calibrated detector's mean
true score follows its predicted score, and GAF's and the trials' score bins
fill as the labels do. The maps that calibrate the detectors live in
:mod:`graspnet_ros.detection.scores`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import FrameResult

__all__ = ["true_scores", "ReliabilityTable", "reliability_table", "DEFAULT_SCORE_BINS"]

#: Predicted-score bin edges (the label scale runs 0.1 .. 1.0 in steps of 0.1).
DEFAULT_SCORE_BINS = (-np.inf, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, np.inf)


def true_scores(result: FrameResult) -> tuple[np.ndarray, np.ndarray]:
    """(predicted scores, true scores) of the evaluated grasps of one frame."""
    # the label scale is mu = 0.1 .. 1.0; the evaluator's mu = 1.2 step is not graspable on it
    ok = (result.labels > 0) & (result.labels <= 1.0 + 1e-9) & ~result.collision & ~result.empty
    return result.grasps.scores.copy(), np.where(ok, 1.1 - result.labels, 0.0)


@dataclass
class ReliabilityTable:
    """Per predicted-score bin: edges (B + 1,), count (B,), mean predicted and mean true score (B,; NaN when empty)."""

    edges: np.ndarray
    count: np.ndarray
    mean_predicted: np.ndarray
    mean_true: np.ndarray

    def format(self) -> str:
        lines = [f"{'predicted score':<17}{'grasps':>8}{'mean predicted':>16}{'mean true':>11}"]
        for k in range(len(self.count)):
            lo, hi = self.edges[k], self.edges[k + 1]
            name = f"< {hi:.2f}" if not np.isfinite(lo) else f">= {lo:.2f}" if not np.isfinite(hi) else \
                f"{lo:.2f} .. {hi:.2f}"
            lines.append(f"{name:<17}{self.count[k]:>8d}{self.mean_predicted[k]:>16.3f}{self.mean_true[k]:>11.3f}")
        return "\n".join(lines)


def reliability_table(predicted: np.ndarray, true: np.ndarray,
                      edges: tuple[float, ...] | np.ndarray = DEFAULT_SCORE_BINS) -> ReliabilityTable:
    """Bin ``predicted`` scores by ``edges`` (left-closed) and average both scores per bin."""
    p, t, e = np.asarray(predicted, float).ravel(), np.asarray(true, float).ravel(), np.asarray(edges, float)
    if p.shape != t.shape:
        raise ValueError(f"predicted and true scores differ in length: {p.shape} vs {t.shape}")
    if len(e) < 2 or np.any(np.diff(e) <= 0):
        raise ValueError("bin edges must be increasing, at least two")
    k = np.clip(np.searchsorted(e, p, side="right") - 1, 0, len(e) - 2)
    count = np.bincount(k, minlength=len(e) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(k, weights=p, minlength=len(e) - 1) / count
        mean_t = np.bincount(k, weights=t, minlength=len(e) - 1) / count
    return ReliabilityTable(e, count, mean_p, mean_t)
