"""MuJoCo grasp execution with real physics: a good grasp lifts, open jaws never do."""

import numpy as np
import pytest
import trimesh

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.robot.executor import GraspExecutor
from graspnet_ros.robot.sim import SimArm, SimObject
from graspnet_ros.trials.results import TrialLog
from graspnet_ros.trials.scenes import ObjectCase, place
from graspnet_ros.trials.score_bins import format_score_table, run_score_bins, wilson_interval

BOX = (0.05, 0.05, 0.08)  # m
BOX_XY = (0.10, 0.05)


def box_scene() -> SimArm:
    mesh = trimesh.creation.box(BOX)
    T = np.eye(4)
    T[:3, 3] = (*BOX_XY, BOX[2] / 2)
    return SimArm([SimObject(mesh, T, name="box", object_id=3)], seed=0)


def top_grasp(width: float = 0.06, x: float = BOX_XY[0]) -> GraspGroup:
    """Straight down onto the box top centre, jaws closing along base y, 2 cm deep."""
    return GraspGroup.from_approach(np.array([[x, BOX_XY[1], BOX[2]]]), np.array([[0.0, 0.0, -1.0]]),
                                    np.array([0.0]), depth=0.02, width=width, frame_id="base_link")


@pytest.fixture(scope="module")
def arm():
    return box_scene()


def test_good_grasp_on_box_succeeds(arm):
    arm.reset(0)
    rest = arm.object_poses()[0, 2, 3]
    result = GraspExecutor(arm).execute(top_grasp(), arm.scene_points())
    assert result.success, result.reason
    assert result.reason == ""
    assert result.object_index == 0
    # the jaws stopped on the 5 cm box (soft pads compress a little)
    assert 0.045 < result.measured_width < 0.051
    assert arm.object_poses()[0, 2, 3] - rest > 0.08  # lifted about the 0.10 m lift height


def test_pads_compress_within_their_soft_layer_whatever_the_object_weighs():
    """The 30 N grip squeezes the pads into a 20 g box no deeper than the pad's
    soft layer (solimp width, 2 mm), and pad contacts use the pad's own solref.
    Without contact priority MuJoCo averaged the pad's solref/solimp with the
    box's defaults: the pads sank 3.7 mm per side into a 20 g box (more than the
    3 mm pad) but 0.9 mm into a 0.6 kg one, and tunnelled through thin objects."""
    mesh = trimesh.creation.box(BOX)
    compression = {}
    for mass in (0.02, 0.6):
        arm = SimArm([SimObject(mesh, place(mesh, *BOX_XY, 0.0), name="box", mass=mass)], seed=0)
        result = GraspExecutor(arm).execute(top_grasp(), arm.scene_points())
        assert result.success, f"{mass} kg box: {result.reason}"
        compression[mass] = (BOX[1] - result.measured_width) / 2  # m per side
        m, d = arm.model, arm.data
        pad = m.geom("left_pad").id
        pad_contacts = [d.contact[i] for i in range(d.ncon) if pad in (d.contact[i].geom1, d.contact[i].geom2)]
        assert pad_contacts, "the left pad does not touch the lifted box"
        np.testing.assert_allclose(pad_contacts[0].solref, m.geom_solref[pad])
    soft_layer = float(arm.model.geom_solimp[pad][2])  # m
    assert 0.0 < compression[0.6] < soft_layer, compression
    assert 0.0 < compression[0.02] < soft_layer, compression


def test_negative_control_open_jaws_fails(arm):
    arm.reset(0)
    rest = arm.object_poses()[0, 2, 3]
    result = GraspExecutor(arm).execute(top_grasp(), arm.scene_points(), close_jaws=False)
    assert not result.success
    assert result.object_index is None
    assert result.measured_width > 0.06  # the jaws stayed open
    assert abs(arm.object_poses()[0, 2, 3] - rest) < 0.005  # the box never left the table


def test_grasp_beside_the_object_closes_on_nothing(arm):
    arm.reset(0)
    result = GraspExecutor(arm).execute(top_grasp(x=-0.15), arm.scene_points())
    assert not result.success
    assert "closed on nothing" in result.reason
    assert result.measured_width < 0.002


def test_trials_are_deterministic(arm):
    ex = GraspExecutor(arm)
    poses = []
    for _ in range(2):
        arm.reset(5)
        ex.execute(top_grasp(), arm.scene_points())
        poses.append(arm.object_poses()[0])
    np.testing.assert_array_equal(poses[0], poses[1])


def test_execution_noise_is_seeded():
    mesh = trimesh.creation.box(BOX)
    from graspnet_ros.robot.sim import SimConfig

    sim = SimArm([SimObject(mesh, place(mesh, *BOX_XY, 0.0))], SimConfig(noise_translation=0.003), seed=1)
    target = sim.tool_pose().copy()
    target[2, 3] -= 0.05
    ends = []
    for seed in (1, 1, 2):
        sim.reset(seed)
        sim.move_tool(target)
        sim.wait(0.2)
        ends.append(sim.tool_pose()[:3, 3])
    np.testing.assert_allclose(ends[0], ends[1], atol=1e-9)
    assert np.linalg.norm(ends[0] - ends[2]) > 1e-4


def test_remove_object_clears_the_table(arm):
    arm.reset(0)
    assert arm.remaining().tolist() == [0]
    arm.remove_object(0)
    assert arm.remaining().tolist() == []
    arm.reset(0)
    assert arm.remaining().tolist() == [0]


def test_score_bins_log_resumes(tmp_path):
    mesh = trimesh.creation.box(BOX)
    arm = box_scene()
    pose = arm.object_poses()[0]
    # Labels in the object frame: a centred top grasp (s = 1.0) and the same
    # grasp shifted off the box (s = 0.1, fails) -- stand-ins for real labels.
    good = top_grasp().transform(np.linalg.inv(pose))
    bad = top_grasp(x=-0.15).transform(np.linalg.inv(pose))
    labels = GraspGroup.concatenate([good.with_scores(1.0), bad.with_scores(0.1)])
    labels.frame_id = "object"
    case = ObjectCase("box", SimObject(mesh, pose, name="box"), labels)
    path = tmp_path / "trials.jsonl"
    log = TrialLog(path)
    stats = run_score_bins([case], log, trials_per_bin=1, bins=(1.0, 0.1))
    assert (stats["box"][1.0].successes, stats["box"][0.1].successes) == (1, 0)
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    # interrupted while writing a third record: a torn line at the end
    with open(path, "a") as f:
        f.write('{"key": "score-bins/box/s0.5/0", "succ')
    progress = []
    log2 = TrialLog(path)
    assert len(log2) == 2 and path.read_text().count("\n") == 2
    stats2 = run_score_bins([case], log2, trials_per_bin=1, bins=(1.0, 0.1), progress=progress.append)
    assert progress == []  # nothing re-executed
    assert stats2["box"][1.0].successes == 1
    table = format_score_table(stats2, bins=(1.0, 0.1))
    assert "100% (1/1)" in table and "0% (0/1)" in table


def test_wilson_interval_matches_known_values():
    lo, hi = wilson_interval(np.array([0, 10, 96]), np.array([10, 10, 100]))
    np.testing.assert_allclose(lo, [0.0, 0.7225, 0.9016], atol=2e-4)
    np.testing.assert_allclose(hi, [0.2775, 1.0, 0.9843], atol=2e-4)


def top_down_detector(obs):
    """(A trials.Detector.) Grasps straight down onto the top centre of each remaining box (from its true pose)."""
    tops = np.array([obs.object_poses[i, :3, 3] + (0, 0, BOX[2] / 2) for i in obs.remaining])
    grasps = GraspGroup.from_approach(tops, np.tile([0.0, 0.0, -1.0], (len(tops), 1)), np.zeros(len(tops)),
                                      depth=0.02, width=0.06, score=np.linspace(1.0, 0.5, len(tops)),
                                      frame_id="base")
    return grasps.transform(np.linalg.inv(obs.T_base_camera), frame_id=obs.frame_id)


def test_clear_table_resumes_after_interruption(tmp_path):
    from graspnet_ros.trials.clear_table import clear_table_data, run_clear_table
    from graspnet_ros.trials.scenes import SceneCase

    mesh = trimesh.creation.box(BOX)
    scene = SceneCase("two_boxes", [SimObject(mesh, place(mesh, -0.1, 0.0, 0.0), name="a"),
                                    SimObject(mesh, place(mesh, 0.12, 0.05, 0.4), name="b")])
    log = TrialLog(tmp_path / "clear.jsonl")
    first = run_clear_table([scene], top_down_detector, log, max_attempts=1)  # "interrupted" after one
    assert first["two_boxes"]["attempts"] == 1 and first["two_boxes"]["cleared"] == 1
    # drop the end marker the capped run wrote, as a crash before it would have
    lines = (tmp_path / "clear.jsonl").read_text().splitlines()
    (tmp_path / "clear.jsonl").write_text("\n".join(lines[:1]) + "\n")
    seen = []
    done = run_clear_table([scene], top_down_detector, TrialLog(tmp_path / "clear.jsonl"), progress=seen.append)
    assert [r["attempt"] for r in seen] == [1]  # only the remaining box was attempted
    c = done["two_boxes"]
    assert (c["objects"], c["cleared"], c["attempts"], c["successes"]) == (2, 2, 2, 2)
    overall = clear_table_data(done)["overall"]
    assert overall["success_rate"] == 1.0 and overall["completion_rate"] == 1.0
