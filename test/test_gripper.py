"""Simplified gripper: collision and empty checks."""

import numpy as np
import trimesh

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.gripper import GripperModel, check_collision, check_collision_naive, table_points


def box_on_table_points():
    box = trimesh.creation.box((0.06, 0.16, 0.10))
    box.apply_translation((0, 0, 0.05))  # resting on the table top z = 0
    pts = box.sample(20000, seed=0) if "seed" in box.sample.__code__.co_varnames else box.sample(20000)
    return np.concatenate([pts, table_points(0.6, 0.6)])


def grasp(point, approach=(0, 0, -1.0), closing=(1.0, 0, 0), width=0.1, depth=0.02):
    x, y = np.asarray(approach, float), np.asarray(closing, float)
    R = np.stack([x, y, np.cross(x, y)], axis=1)
    return GraspGroup.from_components(R[None], [point], width, depth)


def test_table_grid_reference_layout():
    t = table_points()
    assert t[:, 2].max() == 0.0 and np.isclose(t[:, 2].min(), -0.05)
    assert np.isclose(t[:, 0].min(), -0.5) and np.isclose(t[:, 0].max(), 0.5)
    assert len(t) == 125 * 125 * 6


def test_good_grasp_on_box_is_valid():
    res = check_collision(grasp((0, 0, 0.10)), box_on_table_points())
    assert not res.collision[0] and not res.empty[0] and res.inner_count[0] >= 10


def test_grasp_in_air_is_empty():
    res = check_collision(grasp((0.25, 0.25, 0.30)), box_on_table_points())
    assert res.empty[0] and not res.collision[0] and res.inner_count[0] == 0


def test_finger_through_table_is_collision():
    # grasp the box bottom edge from above with fingers going 4 cm into the table
    res = check_collision(grasp((0.0, 0.0, 0.02), depth=0.04), box_on_table_points())
    assert res.collision[0]


def test_too_narrow_grasp_collides_with_the_box():
    res = check_collision(grasp((0, 0, 0.10), width=0.05), box_on_table_points())
    assert res.collision[0]


def test_fast_matches_naive_on_random_grasps():
    rng = np.random.default_rng(1)
    n = 400
    g = GraspGroup.from_approach(rng.uniform(-0.1, 0.1, (n, 3)), rng.normal(size=(n, 3)),
                                 rng.uniform(0, np.pi, n), rng.choice([0.01, 0.02, 0.03, 0.04], n),
                                 rng.uniform(0, 0.1, n))
    pts = rng.uniform(-0.15, 0.15, (5000, 3))
    model = GripperModel(empty_threshold=3)
    fast, slow = check_collision(g, pts, model, group_size=37), check_collision_naive(g, pts, model)
    np.testing.assert_array_equal(fast.collision, slow.collision)
    np.testing.assert_array_equal(fast.inner_count, slow.inner_count)
    np.testing.assert_array_equal(fast.empty, slow.empty)
    assert 0 < fast.collision.sum() < n and 0 < fast.empty.sum() < n


def test_empty_inputs():
    res = check_collision(GraspGroup(), np.zeros((0, 3)))
    assert res.collision.shape == (0,)
    res = check_collision(grasp((0, 0, 0)), np.zeros((0, 3)))
    assert res.empty[0] and not res.collision[0]
