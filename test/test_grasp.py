"""GraspGroup layout, construction, transforms, validation."""

import numpy as np
import pytest

from graspnet_ros.grasp import (GRASP_ARRAY_LEN, ROTATION, TRANSLATION, GraspGroup,
                                rotation_from_approach, validate_grasp_array)


def random_group(n=20, seed=0, frame_id="camera"):
    rng = np.random.default_rng(seed)
    return GraspGroup.from_approach(
        rng.uniform(-0.2, 0.2, (n, 3)), rng.normal(size=(n, 3)), rng.uniform(0, np.pi, n),
        rng.choice([0.01, 0.02, 0.03, 0.04], n), rng.uniform(0.0, 0.1, n),
        score=rng.uniform(0, 1, n), object_id=rng.integers(0, 5, n), frame_id=frame_id)


def random_transform(seed=1):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    T = np.eye(4)
    T[:3, :3] = q
    T[:3, 3] = rng.normal(size=3)
    return T


def test_layout_matches_reference_columns():
    g = GraspGroup.from_components(np.eye(3)[None], [[0.1, 0.2, 0.3]], widths=0.05, depths=0.02,
                                   scores=0.7, heights=0.02, object_ids=4)
    row = g.array[0]
    assert row.shape == (GRASP_ARRAY_LEN,)
    assert row[0] == 0.7 and row[1] == 0.05 and row[2] == 0.02 and row[3] == 0.02
    np.testing.assert_array_equal(row[ROTATION], np.eye(3).reshape(9))
    np.testing.assert_array_equal(row[TRANSLATION], [0.1, 0.2, 0.3])
    assert row[16] == 4


def test_rotation_from_approach_is_proper_and_x_is_approach():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(100, 3))
    R = rotation_from_approach(a, rng.uniform(0, np.pi, 100))
    np.testing.assert_allclose(R[:, :, 0], a / np.linalg.norm(a, axis=1, keepdims=True), atol=1e-12)
    np.testing.assert_allclose(np.einsum("nji,njk->nik", R, R), np.broadcast_to(np.eye(3), R.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)


def test_rotation_angle_zero_keeps_jaw_axis_horizontal_and_angle_rotates_it():
    R0 = rotation_from_approach(np.array([[1.0, 0.0, 0.0]]), np.array([0.0]))[0]
    np.testing.assert_allclose(R0[:, 1], [0, 1, 0], atol=1e-12)
    R90 = rotation_from_approach(np.array([[1.0, 0.0, 0.0]]), np.array([np.pi / 2]))[0]
    np.testing.assert_allclose(R90[:, 1], [0, 0, 1], atol=1e-12)
    # vertical approach has a defined in-plane reference
    Rv = rotation_from_approach(np.array([[0.0, 0.0, -1.0]]), np.array([0.0]))[0]
    np.testing.assert_allclose(Rv[:, 1], [0, 1, 0], atol=1e-12)


def test_transform_round_trip_and_frame():
    g = random_group()
    T = random_transform()
    h = g.transform(T, frame_id="base")
    assert h.frame_id == "base"
    back = h.transform(np.linalg.inv(T), frame_id="camera")
    np.testing.assert_allclose(back.array, g.array, atol=1e-12)
    # points transform like points, approach vectors like directions
    np.testing.assert_allclose(h.translations, g.translations @ T[:3, :3].T + T[:3, 3], atol=1e-12)
    np.testing.assert_allclose(h.approaches, g.approaches @ T[:3, :3].T, atol=1e-12)
    np.testing.assert_array_equal(h.widths, g.widths)


def test_sort_topk_filter_concat():
    g = random_group(50)
    s = g.sort_by_score()
    assert np.all(np.diff(s.scores) <= 0)
    top = g.top_k(5)
    assert len(top) == 5 and top.scores.min() >= np.sort(g.scores)[-5]
    assert len(g.top_k(500)) == 50
    f = g.filter(g.scores > 0.5)
    assert np.all(f.scores > 0.5) and len(f) == int((g.scores > 0.5).sum())
    c = GraspGroup.concatenate([g[:10], g[10:]])
    np.testing.assert_array_equal(c.array, g.array)
    with pytest.raises(ValueError, match="different frames"):
        GraspGroup.concatenate([g, random_group(frame_id="base")])


def test_save_load_npy(tmp_path):
    g = random_group()
    g.save(tmp_path / "g.npy")
    np.testing.assert_array_equal(GraspGroup.load(tmp_path / "g.npy").array, g.array)
    GraspGroup().save(tmp_path / "empty.npy")
    assert len(GraspGroup.load(tmp_path / "empty.npy")) == 0
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        GraspGroup.load(tmp_path / "missing.npy")


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a.__setitem__((0, 13), np.nan), "NaN or infinite"),
    (lambda a: a.__setitem__((1, 14), np.inf), "NaN or infinite"),
    (lambda a: a.__setitem__((0, 1), -0.01), "negative width"),
    (lambda a: a.__setitem__((0, 3), -0.01), "negative depth"),
    (lambda a: a.__setitem__((0, 4), 2.0), "not proper rotations"),
    (lambda a: a.__setitem__((0, slice(4, 13)), -np.eye(3).reshape(9)), "not proper rotations"),
])
def test_bad_input_is_named(mutate, message):
    arr = random_group(3).array.copy()
    mutate(arr)
    with pytest.raises(ValueError, match=message):
        GraspGroup(arr)


def test_wrong_shape_and_empty():
    with pytest.raises(ValueError, match=r"expected shape \(N, 17\)"):
        validate_grasp_array(np.zeros((3, 16)))
    empty = GraspGroup()
    assert len(empty) == 0 and len(empty.nms()) == 0 and len(empty.top_k(3)) == 0
    assert empty.transform(np.eye(4)).array.shape == (0, 17)


def test_transform_rejects_scaling():
    T = np.eye(4)
    T[0, 0] = 1000.0  # a millimetre-scaling mistake
    with pytest.raises(ValueError, match="not a proper rotation"):
        random_group().transform(T)
