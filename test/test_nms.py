"""Pose NMS."""

import numpy as np

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.nms import pose_nms, pose_nms_naive


def two(offset, angle, scores=(0.9, 0.5)):
    approach = np.array([[1.0, 0, 0], [1.0, 0, 0]])
    return GraspGroup.from_approach(np.array([[0, 0, 0], offset]), approach, np.array([0.0, angle]),
                                    0.02, 0.05, score=np.array(scores))


def test_keeps_best_of_near_identical():
    g = two([0.005, 0, 0], np.deg2rad(5), scores=(0.4, 0.8))
    kept = pose_nms(g)
    assert list(kept) == [1]


def test_keeps_both_when_far_in_translation_or_rotation():
    assert sorted(pose_nms(two([0.05, 0, 0], 0.0))) == [0, 1]
    assert sorted(pose_nms(two([0.005, 0, 0], np.deg2rad(60)))) == [0, 1]


def test_thresholds_are_configurable():
    g = two([0.02, 0, 0], 0.0)
    assert len(pose_nms(g, translation_threshold=0.03)) == 1
    assert len(pose_nms(g, translation_threshold=0.01)) == 2


def test_fast_equals_naive_random():
    rng = np.random.default_rng(0)
    n = 600
    g = GraspGroup.from_approach(rng.uniform(-0.05, 0.05, (n, 3)), rng.normal(size=(n, 3)),
                                 rng.uniform(0, np.pi, n), 0.02, 0.05, score=rng.uniform(0, 1, n))
    fast, slow = pose_nms(g), pose_nms_naive(g)
    np.testing.assert_array_equal(fast, slow)
    assert 1 < len(fast) < n
    assert np.all(np.diff(g.scores[fast]) <= 0)


def test_group_nms_method_and_empty():
    g = two([0.005, 0, 0], 0.0)
    assert len(g.nms()) == 1 and g.nms().scores[0] == 0.9
    assert len(pose_nms(GraspGroup())) == 0
