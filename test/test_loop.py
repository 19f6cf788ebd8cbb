"""End-to-end loop: synthetic scene -> render -> baseline detector -> MuJoCo arm."""

import re
from pathlib import Path

import numpy as np
import pytest

from graspnet_ros.loop import attempt_summary, run_loop


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GRASPNET_ROS_CACHE", str(tmp_path_factory.getbasetemp() / "loop_cache"))


def test_three_object_loop(tmp_path: Path, cache) -> None:
    out = tmp_path / "loop.png"
    result = run_loop(num_objects=3, seed=0, attempts=1, out=out, log=lambda s: None)
    assert len(result.scene.obj_ids) >= 2
    (a,) = result.attempts
    assert len(a.grasps) > 0 and a.grasps.frame_id == "camera"
    assert a.num_safe > 0 and a.chosen is not None and a.chosen_base is not None
    assert a.chosen_object in result.scene.obj_ids  # the executed grasp is on an object
    # the executed grasp in the base frame is the chosen camera-frame grasp moved by the camera pose
    T = a.frame.T_table_camera
    assert np.allclose(a.chosen_base.translations[0], T[:3, :3] @ a.chosen.translations[0] + T[:3, 3], atol=1e-6)
    assert a.chosen_base.approaches[0][2] < 0  # from above
    assert a.gripper_closed or a.physics_moved > 1e-3  # the simulation ran
    if a.success:
        assert a.lifted_object in result.scene.obj_ids and a.measured_width > 0.002
    else:
        assert a.reason
    assert out.is_file() and out.stat().st_size > 10_000 and out.read_bytes()[:4] == b"\x89PNG"
    # the printed stage times name the detector's own stages (the baseline's candidates took time)
    line = attempt_summary(0, a).splitlines()[0]
    assert re.search(r"candidates (\d+)", line) and int(re.search(r"candidates (\d+)", line).group(1)) > 0, line


def test_the_default_run_clears_touching_objects(cache) -> None:
    """The README's first command (5 objects, seed 0): the objects touch, so segmentation sees one
    pile; every grasp is on an object and the table is cleared."""
    result = run_loop(seed=0, attempts=5, out=None, log=lambda s: None)
    assert len(result.attempts) == 5
    for a in result.attempts:
        assert a.success, a.reason
        seg_points = a.grasps.translations @ a.frame.T_table_camera[:3, :3].T + a.frame.T_table_camera[:3, 3]
        assert (seg_points[:, 2] > 0.003).all()  # grasp points above the table surface, not on it


def test_empty_scene_gives_no_grasps(tmp_path: Path, cache) -> None:
    out = tmp_path / "empty.png"
    result = run_loop(obj_ids=[], seed=0, attempts=1, out=out, log=lambda s: None)
    (a,) = result.attempts
    assert result.scene.obj_ids == []
    assert not a.success and a.chosen is None
    assert "no grasps" in a.reason
    assert out.is_file()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="camera"):
        run_loop(camera="zed", out=None)
    with pytest.raises(ValueError, match="attempts"):
        run_loop(attempts=0, out=None)
