"""Grasp affinity field re-ranking (paper section 4.5).

Grasps are put in 10 bins by predicted score (the labels have 10 levels,
s = 1.1 - mu for mu = 0.1 ... 1.0) and sorted by predicted tolerance inside
each bin. :func:`gaf_rescore` turns that order into scores, so that every
later step that sorts by score (NMS, top-k, the evaluator) keeps it: a
grasp's new score stays inside its bin's score interval.
"""

from __future__ import annotations

import numpy as np


def score_bins(scores: np.ndarray, num_bins: int = 10) -> np.ndarray:
    """(N,) bin index 0..num_bins-1 of scores s = 1.1 - mu: the nearest label
    level (0.1, 0.2, ... 1.0 for 10 bins); lower and higher scores clip."""
    s = np.asarray(scores, dtype=np.float64)
    return np.clip(np.floor(s * num_bins - 0.5), 0, num_bins - 1).astype(np.int64)


def gaf_order(scores: np.ndarray, tolerance: np.ndarray, num_bins: int = 10) -> np.ndarray:
    """Indices, best first: by score bin (descending), then predicted tolerance
    (descending), then score (descending)."""
    scores = np.asarray(scores, dtype=np.float64)
    tolerance = np.asarray(tolerance, dtype=np.float64)
    if scores.shape != tolerance.shape or scores.ndim != 1:
        raise ValueError(f"scores and tolerance must be (N,) arrays, got {scores.shape} and {tolerance.shape}")
    return np.lexsort((-scores, -tolerance, -score_bins(scores, num_bins)))


def gaf_rescore(scores: np.ndarray, tolerance: np.ndarray, num_bins: int = 10) -> np.ndarray:
    """New (N,) scores whose descending order is :func:`gaf_order`.

    A grasp in bin b (label level (b + 1) / num_bins) gets a score inside
    [level - half a bin, level + half a bin), evenly spaced by its rank in
    the bin (best = highest), so the score keeps its meaning to one bin.
    """
    scores = np.asarray(scores, dtype=np.float64)
    order = gaf_order(scores, tolerance, num_bins)
    bins = score_bins(scores, num_bins)
    width = 1.0 / num_bins
    out = np.empty_like(scores)
    # rank inside each bin (0 = best) -> evenly spaced fractions, strictly ordered
    sorted_bins = bins[order]
    starts = np.searchsorted(-sorted_bins, -sorted_bins, side="left")  # sorted_bins is non-increasing
    counts = np.bincount(bins, minlength=num_bins)[sorted_bins]
    rank = np.arange(len(order)) - starts
    frac = 1.0 - (rank + 0.5) / np.maximum(counts, 1)
    level = (sorted_bins + 1) * width
    out[order] = level - width / 2 + frac * width * 0.999
    return out
