"""graspnet_ros.pose_history: capture-time pose lookups (interpolation, span, refusals)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from graspnet_ros.pose_history import PoseHistory


def random_poses(n, rng):
    T = np.tile(np.eye(4), (n, 1, 1))
    T[:, :3, :3] = Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()
    T[:, :3, 3] = rng.normal(scale=0.3, size=(n, 3))
    return T


def test_lookup_matches_piecewise_slerp_and_lerp_added_in_any_order():
    rng = np.random.default_rng(3)
    stamps = np.cumsum(rng.uniform(0.01, 0.1, 20)) + 100.0
    poses = random_poses(20, rng)
    history = PoseHistory(span=60.0)
    for i in rng.permutation(20):
        history.add(stamps[i], poses[i])
    slerp = Slerp(stamps, Rotation.from_matrix(poses[:, :3, :3]))
    for t in rng.uniform(stamps[0], stamps[-1], 50):
        T = history.lookup(t)
        np.testing.assert_allclose(T[:3, :3], slerp([t]).as_matrix()[0], atol=1e-9)
        np.testing.assert_allclose(T[:3, 3], [np.interp(t, stamps, poses[:, k, 3]) for k in range(3)], atol=1e-12)
    np.testing.assert_allclose(history.lookup(stamps[7]), poses[7], atol=1e-12)


def test_refuses_times_outside_the_history_and_forgets_old_samples():
    history = PoseHistory(span=1.0, tolerance=0.05, name="flange")
    with pytest.raises(ValueError, match="flange: no pose recorded yet"):
        history.lookup(5.0)
    T = random_poses(3, np.random.default_rng(0))
    for t, pose in zip((10.0, 10.5, 11.2), T):
        history.add(t, pose)
    assert len(history) == 2 and history.newest == 11.2  # 10.0 is more than 1 s before the newest
    np.testing.assert_allclose(history.lookup(11.24), T[2])  # within the tolerance: the newest sample
    with pytest.raises(ValueError, match=r"no pose at t = 10.200 s; the history covers 10.500 .. 11.200 s"):
        history.lookup(10.2)
    with pytest.raises(ValueError, match="newer than the last sample"):
        history.lookup(11.3)
    with pytest.raises(ValueError, match="rotation"):
        history.add(12.0, np.diag([1.0, 1.0, -1.0, 1.0]))
