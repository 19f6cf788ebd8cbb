"""Real-arm outcome path: width-based proposal + operator verdict (console and ROS service), resumable.

The MuJoCo arm is driven through the real-arm code path (``confirm`` given):
the recorded outcome is the operator's verdict, the simulator's ground truth
is only kept for comparison.
"""

import json

import numpy as np
import pytest
import trimesh
from ros_helpers import RosHarness, wait_for
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.robot.executor import ExecutionResult
from graspnet_ros.robot.sim import SimArm, SimObject
from graspnet_ros.trials.operator import console_confirm, propose_outcome
from graspnet_ros.trials.results import TrialLog
from graspnet_ros.trials.scenes import ObjectCase
from graspnet_ros.trials.score_bins import run_score_bins

BOX = (0.05, 0.05, 0.08)  # m
BOX_XY = (0.10, 0.05)


def box_case() -> ObjectCase:
    """A box with two s = 1.0 labels (top grasps, succeed) and two s = 0.1 labels (off the box, fail)."""
    mesh = trimesh.creation.box(BOX)
    pose = np.eye(4)
    pose[:3, 3] = (*BOX_XY, BOX[2] / 2)
    pose = SimArm([SimObject(mesh, pose)], seed=0).object_poses()[0]  # settled
    top = np.array([[BOX_XY[0], BOX_XY[1], BOX[2]]] * 2)
    down = np.tile([0.0, 0.0, -1.0], (2, 1))
    good = GraspGroup.from_approach(top, down, np.array([0.0, 0.1]), depth=0.02, width=0.06, frame_id="base_link")
    bad = GraspGroup.from_approach(top + (-0.25, 0, 0), down, np.array([0.0, 0.1]), depth=0.02, width=0.06,
                                   frame_id="base_link")
    labels = GraspGroup.concatenate([good.with_scores(1.0), bad.with_scores(0.1)]).transform(np.linalg.inv(pose))
    labels.frame_id = "object"
    return ObjectCase("box", SimObject(mesh, pose, name="box"), labels)


class Operator:
    """Console stand-in: answers from a list; raises KeyboardInterrupt when it runs out (interrupted session)."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.prompts = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise KeyboardInterrupt
        return self.answers.pop(0)


def test_width_proposal():
    ok = ExecutionResult(False, 0.048, "object not lifted", phase="verify")
    assert propose_outcome(ok, 0.002)  # width-based: the oracle's reason is not used
    assert not propose_outcome(ExecutionResult(False, 0.001, "closed on nothing", phase="verify"), 0.002)
    assert not propose_outcome(ExecutionResult(False, 0.05, "aborted in phase 'lift': ConnectionLost", "lift"), 0.002)


def test_console_confirm_override_and_resume(tmp_path):
    case = box_case()
    path = tmp_path / "trials.jsonl"
    # the operator accepts the first s = 1.0 trial, overrides the second, then the session is interrupted
    op = Operator(["", "n"])
    with pytest.raises(KeyboardInterrupt):
        run_score_bins([case], TrialLog(path), trials_per_bin=2, bins=(1.0, 0.1),
                       confirm=console_confirm(op, output=lambda _: None))
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(recs) == 2 and len(op.prompts) == 3  # the third trial ran, was asked, and was not logged
    assert "proposed SUCCESS" in op.prompts[0] and "gripper width" in op.prompts[0]
    a, b = recs
    assert (a["proposed_success"], a["operator_success"], a["verdict"], a["success"]) == (True, True, "confirmed", True)
    assert (b["proposed_success"], b["operator_success"], b["verdict"], b["success"]) == (True, False, "overridden",
                                                                                          False)
    assert a["sim_success"] and b["sim_success"] and a["measured_width"] > a["width_threshold"]
    # resume: only the s = 0.1 trials are asked; a nonsense answer is asked again
    op2 = Operator(["maybe", "", "y"])
    seen = []
    stats = run_score_bins([case], TrialLog(path), trials_per_bin=2, bins=(1.0, 0.1),
                           confirm=console_confirm(op2, output=seen.append), progress=seen.append)
    assert len(op2.prompts) == 3 and op2.prompts[0].startswith("score-bins/box/s0.1/0")
    assert "proposed FAILURE" in op2.prompts[0] and any("got 'maybe'" in str(s) for s in seen)
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["key"] for r in recs] == ["score-bins/box/s1.0/0", "score-bins/box/s1.0/1",
                                        "score-bins/box/s0.1/0", "score-bins/box/s0.1/1"]
    c, d = recs[2:]
    assert (c["proposed_success"], c["verdict"], c["success"], c["sim_success"]) == (False, "confirmed", False, False)
    assert (d["proposed_success"], d["verdict"], d["success"]) == (False, "overridden", True)
    assert (stats["box"][1.0].successes, stats["box"][0.1].successes) == (1, 1)  # the operator's verdicts


def test_console_confirm_closed_stdin_is_a_clear_error():
    def closed(_prompt):
        raise EOFError

    confirm = console_confirm(closed)
    with pytest.raises(ValueError, match="stdin closed.*resume"):
        confirm({"key": "k", "proposed_success": True, "measured_width": 0.05, "threshold": 0.002})


SESSION_YAML = """protocol: score-bins
trials: 2
objects: [box_5x5x8]
bins: [1.0]
operator_confirm: true
confirm_timeout: 1.5
labels: {num_points: 30, num_views: 24, num_angles: 6, depths: [0.01, 0.02]}
"""


def test_trial_node_confirm_service_over_rclpy(tmp_path):
    from graspnet_ros.nodes.trial_node import TrialNode

    cfg = tmp_path / "trials.yaml"
    cfg.write_text(SESSION_YAML + f"label_cache: {tmp_path / 'labels'}\n")
    ros = RosHarness()
    try:
        proposals = ros.listen(String, "trial_proposal")
        records = ros.listen(String, "trial_log")
        confirm = ros.node.create_client(SetBool, "confirm_trial")
        status = ros.node.create_client(Trigger, "status")
        ros.add(TrialNode(context=ros.ctx, parameter_overrides=ros.params(
            config_file=str(cfg), out=str(tmp_path / "out"))))
        assert confirm.wait_for_service(timeout_sec=10)
        assert wait_for(lambda: len(proposals) >= 1, timeout=60)
        first = json.loads(proposals[0].data)
        assert first["key"] == "score-bins/box_5x5x8/s1.0/0" and "proposed_success" in first
        # the operator overrides the proposal through the service
        resp = confirm.call_async(SetBool.Request(data=not first["proposed_success"]))
        assert wait_for(resp.done, timeout=10) and resp.result().success
        assert wait_for(lambda: len(records) >= 1, timeout=30)
        rec = json.loads(records[0].data)
        assert rec["verdict"] == "overridden" and rec["success"] == (not first["proposed_success"])
        assert rec["operator_success"] == rec["success"]
        # second trial: nobody answers -> timeout keeps the width proposal
        assert wait_for(lambda: len(records) >= 2, timeout=60)
        rec2 = json.loads(records[1].data)
        assert rec2["verdict"] == "timeout" and rec2["operator_success"] is None
        assert rec2["success"] == rec2["proposed_success"]
        # no trial pending any more: the service says so
        late = confirm.call_async(SetBool.Request(data=True))
        assert wait_for(late.done, timeout=10) and not late.result().success
        assert "no trial" in late.result().message

        def finished() -> bool:
            f = status.call_async(Trigger.Request())
            return wait_for(f.done, timeout=5) and f.result().success

        assert wait_for(finished, timeout=30, period=0.2)
        log = [json.loads(line) for line in (tmp_path / "out" / "trials.jsonl").read_text().splitlines()]
        assert [r["verdict"] for r in log] == ["overridden", "timeout"]
    finally:
        ros.close()


def test_clear_table_operator_path_resumes(tmp_path):
    from test_robot_sim import top_down_detector

    from graspnet_ros.trials.clear_table import run_clear_table
    from graspnet_ros.trials.scenes import SceneCase, place

    mesh = trimesh.creation.box(BOX)
    scene = SceneCase("two_boxes", [SimObject(mesh, place(mesh, -0.1, 0.0, 0.0), name="a"),
                                    SimObject(mesh, place(mesh, 0.12, 0.05, 0.4), name="b")])
    path = tmp_path / "clear.jsonl"
    op = Operator([""])  # accepts the first proposal, then the session is interrupted at the second
    with pytest.raises(KeyboardInterrupt):
        run_clear_table([scene], top_down_detector, TrialLog(path), confirm=console_confirm(op))
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(recs) == 1 and recs[0]["verdict"] == "confirmed" and recs[0]["removed"] is not None
    op2 = Operator([""])
    done = run_clear_table([scene], top_down_detector, TrialLog(path), confirm=console_confirm(op2))
    assert len(op2.prompts) == 1 and op2.prompts[0].startswith("clear-table/two_boxes/1")
    c = done["two_boxes"]
    assert (c["objects"], c["cleared"], c["attempts"], c["successes"]) == (2, 2, 2, 2)
    recs = [json.loads(line) for line in path.read_text().splitlines() if '"attempt"' in line]
    assert [r["verdict"] for r in recs] == ["confirmed", "confirmed"] and all(r["sim_success"] for r in recs)
