"""Score calibration (graspnet_ros.detection.scores): the isotonic fit, the map, its files, and
that every detector entry applies the shipped maps by default."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graspnet_ros.detection.scores import (BASELINE_CALIBRATION, ScoreCalibration, checkpoint_calibration,
                                           fit_score_calibration)


def test_fit_recovers_an_over_confident_detectors_true_scores():
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.0, 1.0, 4000)
    true = np.clip(0.5 * raw + rng.normal(0.0, 0.05, raw.size), 0.0, 1.0)  # the label is half the raw score
    cal = fit_score_calibration(raw, true, fitted_on="synthetic", min_block=50)
    grid = np.linspace(0.1, 0.9, 9)
    np.testing.assert_allclose(cal.apply(grid), 0.5 * grid, atol=0.03)
    assert np.all(np.diff(cal.raw) > 0) and np.all(np.diff(cal.calibrated) >= 0)
    # the detector's order survives, ties included nowhere new
    out = cal.apply(raw)
    assert np.array_equal(np.argsort(out, kind="stable"), np.argsort(raw, kind="stable"))
    # a detector whose score says nothing gets one flat level: the mean label
    flat = fit_score_calibration(raw, np.full(raw.size, 0.3), min_block=50)
    np.testing.assert_allclose(flat.apply(grid), 0.3, atol=1e-5)


def test_files_round_trip_and_bad_files_say_what_is_wrong(tmp_path):
    cal = ScoreCalibration((0.1, 0.5, 0.9), (0.05, 0.2, 0.6), "test")
    path = cal.save(tmp_path / "m.scores.json")
    assert ScoreCalibration.load(path) == cal
    (tmp_path / "bad.json").write_text(json.dumps({"raw": [0.5, 0.1], "calibrated": [0.1, 0.2]}))
    with pytest.raises(ValueError, match="increasing"):
        ScoreCalibration.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="'none'"):
        ScoreCalibration.load(tmp_path / "missing.json")
    assert checkpoint_calibration(tmp_path / "model.pt") == tmp_path / "model.scores.json"


def test_the_shipped_maps_are_applied_by_default():
    """The node's default detectors carry the shipped maps (score_calibration: auto); 'none' keeps the raw
    scores; the baseline's map lowers its over-confident top scores."""
    from graspnet_ros.detection.detectors import make_detector

    shipped = ScoreCalibration.load(BASELINE_CALIBRATION)
    assert make_detector("baseline").score_calibration == shipped
    assert make_detector("baseline", score_calibration="none").score_calibration is None
    assert shipped.apply(np.array([1.05]))[0] < 0.9  # measured: the baseline's best grasps are over-confident
    from graspnet_ros.model.checkpoint import shipped_checkpoint

    net = make_detector("model", "shipped")
    assert net.impl.score_calibration == ScoreCalibration.load(checkpoint_calibration(shipped_checkpoint()))
