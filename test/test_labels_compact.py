"""Compact training labels (``graspnet-ros data compact``): checked against the
original labels, and the trainer's grasp tables built from them equal the
tables built from the originals (hand-made root of ``dataset_fixture``:
object 3 stored uncompressed with a tolerance file, object 7 compressed
without one)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from graspnet_ros.cli import main as cli
from graspnet_ros.dataset.grasp_labels import (compact_all, compact_complete, compact_label_path,
                                               load_compact_labels, load_grasp_labels, write_compact_labels)
from graspnet_ros.dataset.layout import Layout
from graspnet_ros.model.config import LabelConfig, get_config
from graspnet_ros.model.train import ReaderFrames


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    from dataset_fixture import SCENE_ID, build_fixture_dataset

    root = tmp_path_factory.mktemp("compact_root")
    build_fixture_dataset(root)
    return root, SCENE_ID


def _tables(root, scene):
    import dataclasses

    cfg = dataclasses.replace(get_config("cpu"), num_view=20)
    frames = ReaderFrames(root, "realsense", [scene], cfg, max_label_points=16, label_cfg=LabelConfig())
    return {obj: frames.table(scene, obj) for obj in (3, 7)}


def test_compact_tables_equal_the_original_tables(fixture_root, tmp_path):
    root, scene = fixture_root
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    before = _tables(copy, scene)
    assert cli(["data", "compact", "--root", str(copy)]) == 0
    assert all(compact_complete(copy, i) for i in (3, 7))
    compact = load_compact_labels(compact_label_path(copy, 3))
    assert compact.mu_code.dtype == np.uint8 and compact.tolerance is not None
    assert load_compact_labels(compact_label_path(copy, 7)).tolerance is None  # object 7 has no tolerance file
    after = _tables(copy, scene)
    for obj in (3, 7):
        a, b = before[obj], after[obj]
        np.testing.assert_array_equal(a.points, b.points)
        np.testing.assert_array_equal(a.score > 0, b.score > 0)  # the same grasps, collisions included
        assert (a.score > 0).any()
        np.testing.assert_allclose(a.score, b.score, atol=1e-6)
        np.testing.assert_allclose(a.width, b.width, atol=5.1e-6)  # 0.01 mm codes
        np.testing.assert_allclose(a.tolerance, b.tolerance, atol=5.1e-6)
        np.testing.assert_array_equal(a.view_best > 0, b.view_best > 0)
    # a rerun skips up-to-date objects; newer labels make a compact file stale
    assert all(c.get("skipped") for c in compact_all(copy))
    label = Layout(copy).grasp_label(3)
    label.touch()
    assert not compact_complete(copy, 3)


def test_compact_refuses_mu_off_the_annotation_grid(fixture_root, tmp_path):
    root, _ = fixture_root
    copy = tmp_path / "root"
    shutil.copytree(root, copy)
    path = Layout(copy).grasp_label(3)
    labels = load_grasp_labels(path, mmap=False)
    scores = np.array(labels.scores)
    scores[np.argwhere(scores > 0)[0].tolist()] = 0.25  # not a multiple of 0.1
    np.savez(path, points=labels.points, offsets=labels.offsets, collision=labels.collision, scores=scores)
    with pytest.raises(ValueError, match="0.2500 is not on the 0.1 grid"):
        write_compact_labels(copy, 3)
    assert not compact_label_path(copy, 3).exists()  # nothing half-written left behind
