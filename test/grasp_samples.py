"""Sample grasps and comparisons shared by the message tests."""

import numpy as np
from scipy.spatial.transform import Rotation

from graspnet_ros.grasp import GraspGroup

F32_RTOL = float(np.finfo(np.float32).eps)  # float32 rounding: at most eps/2 relative


def make_grasps(n: int, seed: int = 0, frame_id: str = "camera_color_optical_frame") -> GraspGroup:
    rng = np.random.default_rng(seed)
    return GraspGroup.from_components(
        rotations=Rotation.random(n, random_state=seed).as_matrix(),
        translations=rng.uniform(-0.5, 0.5, (n, 3)) + [0.0, 0.0, 0.6],
        widths=rng.uniform(0.0, 0.1, n), depths=rng.choice([0.01, 0.02, 0.03, 0.04], n),
        scores=rng.uniform(0.1, 1.0, n), heights=0.02,
        object_ids=rng.integers(-1, 88, n), frame_id=frame_id)


def assert_same_grasps(got: GraspGroup, want: GraspGroup) -> None:
    """Equal up to the message's float32 scalars and quaternion round-off.

    In-process messages keep Python floats; over DDS the scalars are rounded
    to float32, hence the float32 relative tolerance.
    """
    assert got.frame_id == want.frame_id
    assert len(got) == len(want)
    np.testing.assert_allclose(got.rotations, want.rotations, atol=1e-9)
    np.testing.assert_allclose(got.translations, want.translations, atol=1e-12)
    for name in ("widths", "heights", "depths", "scores"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=F32_RTOL, err_msg=name)
    np.testing.assert_array_equal(got.object_ids, want.object_ids)
