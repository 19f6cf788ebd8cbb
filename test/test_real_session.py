"""Real-arm trial sessions (graspnet_ros.trials.real_arm) without hardware.

The real-session code path runs end to end with real components standing in
for the hardware: the MuJoCo arm driven ONLY through the Arm protocol
(:class:`ArmDriver` hides the simulator's lift oracle, so outcomes come from
the gripper width and the operator), a camera rendering the simulation's
current object poses (:class:`graspnet_ros.cameras.simulated.SimArmCamera`), the model-free
baseline detector of grasp_detector_node's pipeline, and the console operator
answered by a scripted person at the table (:class:`TableOperator`) who also
does what the prompts ask with their hands: removes a picked object from the
simulation, puts objects back, re-creates a scene after an interruption.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from graspnet_ros.cameras.base import camera_model
from graspnet_ros.cameras.simulated import SimArmCamera
from graspnet_ros.robot.base import Arm, ConnectionLost, LiftOracle
from graspnet_ros.robot.executor import ExecutorConfig
from graspnet_ros.robot.sim import SimArm, SimObject
from graspnet_ros.trials.config import SessionConfig
from graspnet_ros.trials.operator import ConsoleOperator, SessionAborted
from graspnet_ros.trials.real_arm import bin_index, detection_pipeline, run_real_session
from graspnet_ros.trials.scenes import place, primitive_objects
from graspnet_ros.trials.session import run_session
from graspnet_ros.views import look_at

T_BASE_CAMERA = look_at((0.0, -0.45, 0.55), (0.0, 0.0, 0.0))  # optical frame in the sim's base (table) frame
DRIVER = "mujoco_through_arm_protocol"


class ArmDriver:
    """The MuJoCo arm seen only through the Arm protocol, like a real driver.

    ``fail_at_move``: the n-th move_tool (1-based) loses the connection; from
    then on every call raises ConnectionLost (a lost link stays lost).
    """

    def __init__(self, sim: SimArm, fail_at_move: int | None = None) -> None:
        self._sim, self.max_width = sim, sim.max_width
        self.fail_at_move, self.moves, self.lost = fail_at_move, 0, False

    def _link(self) -> None:
        if self.lost:
            raise ConnectionLost("robot controller at 192.0.2.1 not answering")

    def tool_pose(self) -> np.ndarray:
        self._link()
        return self._sim.tool_pose()

    def move_tool(self, pose, speed) -> None:
        self._link()
        self.moves += 1
        if self.moves == self.fail_at_move:
            self.lost = True
            self._link()
        self._sim.move_tool(pose, speed)

    def open_gripper(self, width: float) -> None:
        self._link()
        self._sim.open_gripper(width)

    def close_gripper(self, force: float) -> None:
        self._link()
        self._sim.close_gripper(force)

    def gripper_width(self) -> float:
        self._link()
        return self._sim.gripper_width()

    def gripper_contact(self) -> bool | None:
        self._link()
        return self._sim.gripper_contact()

    def wait(self, seconds: float) -> None:
        self._link()
        self._sim.wait(seconds)

    def stop(self) -> None:
        self._link()
        self._sim.stop()


class TableOperator:
    """The person at the simulated table, answering the console prompts (ConsoleOperator's input_fn).

    verdicts: one entry per confirm prompt, 'accept' (Enter) or 'override'
    (the opposite of the proposal); when they run out the session is
    interrupted (KeyboardInterrupt), as a Ctrl-C at the prompt would.
    Every prompt is recorded with the number of trial lines the JSONL log
    held at that moment.
    """

    def __init__(self, sim: SimArm, log: Path, verdicts=(), clear_answer: str = "") -> None:
        self.sim, self.log, self.verdicts = sim, log, list(verdicts)
        self.clear_answer = clear_answer
        self.prompts: list[tuple[str, int]] = []
        self.removed: list[int] = []

    def trial_lines(self) -> int:
        if not self.log.exists():
            return 0
        return sum('"success"' in line for line in self.log.read_text().splitlines())

    def __call__(self, prompt: str) -> str:
        self.prompts.append((prompt, self.trial_lines()))
        if "gripper width" in prompt:
            if not self.verdicts:
                raise KeyboardInterrupt
            if self.verdicts.pop(0) == "accept":
                return ""
            return "n" if "proposed SUCCESS" in prompt else "y"
        if "How many objects" in prompt:
            return str(len(self.sim.remaining()))
        if "take the picked object" in prompt:  # take it out of the closed gripper and off the table
            held = self.sim.lifted_object(0.02)
            if held is not None:
                self.sim.remove_object(held)
                self.removed.append(held)
            return self.clear_answer if "Is the table clear" in prompt else ""
        if "resuming scene" in prompt or "place '" in prompt or "move '" in prompt:  # put the scene back
            self.sim.reset(0)
            for i in self.removed:
                self.sim.remove_object(i)
            return ""
        raise AssertionError(f"unexpected prompt: {prompt}")

    def keys(self, text: str) -> list[str]:
        return [p.split(": ", 1)[0] for p, _ in self.prompts if text in p]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """grasp_detector_node's pipeline (its defaults) with the model-free baseline: no trained weights needed.
    Raw scores (score_calibration: none): the score-bins test picks bins from the baseline's own scale."""
    path = tmp_path_factory.mktemp("detector") / "grasp_detector_node.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"detector": "baseline", "checkpoint": "",
                                                                "score_calibration": "none"}}}))
    return detection_pipeline(path)


def two_objects() -> SimArm:
    cat = primitive_objects()
    box, cyl = cat["box_5x5x8"], cat["cylinder_r3h10"]
    return SimArm([SimObject(box, place(box, -0.08, 0.0, 0.3), name="box", object_id=0),
                   SimObject(cyl, place(cyl, 0.10, 0.05, 0.0), name="cylinder", object_id=1)], seed=0)


def executor_config() -> ExecutorConfig:
    return ExecutorConfig(T_base_camera=T_BASE_CAMERA, robot={"driver": DRIVER})


def session(tmp_path: Path, sim: SimArm, operator: TableOperator, pipeline, driver: ArmDriver | None = None,
            **cfg):
    config = SessionConfig(out=tmp_path, **cfg)
    camera = SimArmCamera(sim, T_BASE_CAMERA, camera_model("realsense", scale=0.5))
    return run_real_session(config, executor_config(), ConsoleOperator(operator, output=lambda _s: None),
                            arm=driver or ArmDriver(sim), camera=camera, pipeline=pipeline)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_driver_is_only_an_arm():
    sim = two_objects()
    assert isinstance(ArmDriver(sim), Arm) and not isinstance(ArmDriver(sim), LiftOracle)
    assert isinstance(sim, LiftOracle)  # what the real path must not see


def test_clear_table_logs_each_trial_as_it_happens_and_resumes(tmp_path, pipeline):
    sim = two_objects()
    log = tmp_path / "trials.jsonl"
    # first run: the operator overrides the first proposal, then interrupts at the second trial's prompt
    op = TableOperator(sim, log, verdicts=["override"])
    with pytest.raises(KeyboardInterrupt):
        session(tmp_path, sim, op, pipeline, protocol="clear-table", trials=1, max_consecutive_failures=3)
    assert op.keys("How many objects") == ["clear-table/scene_0000/start"]
    assert op.keys("gripper width") == ["clear-table/scene_0000/0", "clear-table/scene_0000/1"]
    confirms = [n for p, n in op.prompts if "gripper width" in p]
    assert confirms == [0, 1]  # trial 0 was on disk before trial 1 ran
    start, first = lines(log)
    assert start["key"] == "clear-table/scene_0000/start" and start["objects"] == 2
    assert first["key"] == "clear-table/scene_0000/0" and first["driver"] == DRIVER
    # the override: width proposal vs operator vs recorded outcome
    assert first["verdict"] == "overridden" and first["operator_success"] == (not first["proposed_success"])
    assert first["success"] == first["operator_success"] and first["removed"] == first["success"]
    assert first["proposed_success"] == (first["measured_width"] > first["width_threshold"])
    assert first["sim_success"] is None  # no simulator ground truth on this path
    assert len(first["grasp"]) == 17 and first["num_grasps"] > 0

    # second run (same log): the operator re-creates the scene; trial 0 is not repeated
    op2 = TableOperator(sim, log, verdicts=["accept"] * 6)
    op2.removed = list(op.removed)
    report = session(tmp_path, sim, op2, pipeline, protocol="clear-table", trials=1, max_consecutive_failures=3)
    assert op2.prompts[0][0].startswith("clear-table/scene_0000/resume: resuming scene 'scene_0000' after 1 logged")
    assert op2.keys("How many objects") == []
    assert op2.keys("gripper width")[0] == "clear-table/scene_0000/1"
    recs = lines(log)
    trials = [r for r in recs if "attempt" in r]
    assert [r["attempt"] for r in trials] == list(range(len(trials)))  # each key once, in order
    assert all(n == i + 1 for i, (p, n) in enumerate(
        (p, n) for p, n in op2.prompts if "gripper width" in p))  # every earlier trial on disk at each verdict
    end = recs[-1]
    assert end["key"] == "clear-table/scene_0000/end" and end["reason"]
    cleared = sum(r["removed"] for r in trials)
    assert cleared == sum(r["success"] for r in trials) and cleared >= 1  # the baseline picks objects here
    # what the operator took away is gone from the table: the log and the world agree
    assert len(sim.remaining()) == 2 - len(op.removed + op2.removed) and len(op.removed + op2.removed) == cleared
    if cleared == 2:
        assert end["reason"] == "all 2 declared objects removed"
    scene = report.data["scenes"]["scene_0000"]
    assert (scene["objects"], scene["attempts"], scene["cleared"]) == (2, len(trials), cleared)
    assert scene["completion_rate"] == pytest.approx(cleared / 2)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["driver"] == DRIVER and saved["operator_confirm"] and saved["aborted"] is None
    assert saved["trials_run_now"] == len(trials) - 1 and saved["detector"] == "baseline"
    assert "scene_0000" in report.table


def test_operator_declares_the_table_clear(tmp_path, pipeline):
    sim = two_objects()
    op = TableOperator(sim, tmp_path / "trials.jsonl", verdicts=["accept"] * 4, clear_answer="y")
    report = session(tmp_path, sim, op, pipeline, protocol="clear-table", trials=1)
    recs = lines(tmp_path / "trials.jsonl")
    trials = [r for r in recs if "attempt" in r]
    assert trials[-1]["success"] and sum(r["success"] for r in trials) == 1  # stopped after the first pick
    assert recs[-1]["reason"] == "the operator declared the table clear"
    assert report.data["scenes"]["scene_0000"]["completion_rate"] == pytest.approx(0.5)


def test_driver_error_aborts_cleanly_and_resumes(tmp_path, pipeline):
    sim = two_objects()
    log = tmp_path / "trials.jsonl"
    op = TableOperator(sim, log, verdicts=["accept"] * 4)
    # the first grasp takes 4 moves (transit, pre-grasp, approach, lift): the link drops in the second one
    driver = ArmDriver(sim, fail_at_move=5)
    with pytest.raises(SessionAborted, match="ConnectionLost.*rerun the same command to resume at "
                                             "clear-table/scene_0000/1"):
        session(tmp_path, sim, op, pipeline, driver, protocol="clear-table", trials=1)
    recs = lines(log)
    assert [r["key"] for r in recs] == ["clear-table/scene_0000/start", "clear-table/scene_0000/0",
                                        "clear-table/scene_0000/1/aborted/0"]
    abort = recs[-1]
    assert abort["protocol"] == "abort" and abort["trial_key"] == "clear-table/scene_0000/1"
    assert "ConnectionLost" in abort["reason"] and "aborted in phase 'pre_grasp'" in abort["reason"]
    assert len(op.keys("gripper width")) == 1  # the aborted grasp was not judged
    saved = json.loads((tmp_path / "results.json").read_text())  # written from the log before raising
    assert "ConnectionLost" in saved["aborted"] and saved["scenes"]["scene_0000"]["attempts"] == 1

    # reconnected: the rerun resumes at the aborted trial
    op2 = TableOperator(sim, log, verdicts=["accept"] * 4)
    op2.removed = list(op.removed)
    session(tmp_path, sim, op2, pipeline, protocol="clear-table", trials=1)
    assert op2.keys("gripper width")[0] == "clear-table/scene_0000/1"
    keys = [r["key"] for r in lines(log)]
    assert len(keys) == len(set(keys)) and keys.count("clear-table/scene_0000/0") == 1


class BufferedCamera:
    """A camera whose device still holds a frame from before the last motion (stamped then)."""

    def __init__(self, live: SimArmCamera, buffered) -> None:
        self.live, self.buffered = live, [buffered]
        self.name, self.frame_id, self.intrinsics = live.name, live.frame_id, live.intrinsics

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def read(self, timeout: float = 1.0):
        return self.buffered.pop(0) if self.buffered else self.live.read(timeout)


def test_capture_drops_frames_buffered_before_the_request(pipeline):
    from graspnet_ros.trials.real_arm import build_rig

    sim = two_objects()
    live = SimArmCamera(sim, T_BASE_CAMERA, camera_model("realsense", scale=0.5))
    before = live.read()  # both objects on the table
    sim.remove_object(0)
    cfg = SessionConfig(protocol="clear-table")
    fresh = build_rig(cfg, executor_config(), ArmDriver(sim), live, pipeline).capture()
    buffered = build_rig(cfg, executor_config(), ArmDriver(sim), BufferedCamera(live, before), pipeline).capture()
    stale = build_rig(cfg, executor_config(), ArmDriver(sim), BufferedCamera(live, before), pipeline)
    stale.max_stale_frames = 0  # what would happen without the check: the old frame is used
    old = stale.capture()

    def on_removed_object(c) -> int:  # grasps within 5 cm of where object 0 stood (base frame, xy)
        xy = c.grasps.transform(T_BASE_CAMERA, frame_id="base").translations[:, :2]
        return int((np.linalg.norm(xy - (-0.08, 0.0), axis=1) < 0.05).sum())

    assert on_removed_object(fresh) == on_removed_object(buffered) == 0 and on_removed_object(old) > 0
    assert len(buffered.grasps) > 0


def test_bin_index_by_predicted_score():
    scores = np.array([1.03, 0.96, 0.93, 0.52, 0.31, 0.12])
    assert bin_index(scores, (1.0, 0.5, 0.1), 0.05).tolist() == [0, 0, -1, 1, -1, 2]
    assert bin_index(scores, (1.0, 0.5, 0.1), "nearest").tolist() == [0, 0, 0, 1, 1, 2]
    assert bin_index(np.zeros(0), (1.0, 0.5), 0.05).tolist() == []


def test_score_bins_by_predicted_score(tmp_path, pipeline):
    cat = primitive_objects()
    box = cat["box_5x5x8"]
    sim = SimArm([SimObject(box, place(box, 0.0, 0.0, 0.3), name="box", object_id=0)], seed=0)
    op = TableOperator(sim, tmp_path / "trials.jsonl", verdicts=["accept"] * 8)
    bins = (1.0, 0.9, 0.1)  # the baseline rates a box's flat faces 0.85..1.1: nothing near 0.1
    report = session(tmp_path, sim, op, pipeline, protocol="score-bins", objects=["box"], trials=2, bins=bins,
                     bin_tolerance=0.05)
    recs = lines(tmp_path / "trials.jsonl")
    trials = [r for r in recs if "trial" in r]
    assert [r["key"] for r in trials] == ["score-bins/box/s1.0/0", "score-bins/box/s1.0/1",
                                          "score-bins/box/s0.9/0", "score-bins/box/s0.9/1"]
    for r in trials:
        assert abs(r["score"] - r["bin"]) <= 0.05 + 1e-9  # executed grasp's PREDICTED score is in its bin
        assert r["verdict"] == "confirmed" and r["num_safe_in_bin"] >= 1 and r["placements"] == 1
    # an empty bin is retried with new placements, then given up and logged
    assert op.keys("no grasp with a predicted score in bin 0.1") == ["score-bins/box/s0.1/0"] * 2
    unavailable = recs[-1]
    assert unavailable["key"] == "score-bins/box/s0.1/unavailable" and unavailable["placements"] == 3
    per = report.data["objects"]["box"]
    assert (per["1"]["trials"], per["0.9"]["trials"], per["0.1"]["trials"]) == (2, 2, 0)
    assert per["1"]["successes"] == sum(r["success"] for r in trials[:2])
    assert "s=0.9" in report.table and report.plot.is_file()
    assert json.loads((tmp_path / "results.json").read_text())["bin_tolerance"] == 0.05
    # rerun: everything is in the log, the operator is not asked anything
    op2 = TableOperator(sim, tmp_path / "trials.jsonl")
    again = session(tmp_path, sim, op2, pipeline, protocol="score-bins", objects=["box"], trials=2, bins=bins)
    assert op2.prompts == [] and again.data["trials_run_now"] == 0


def write_configs(tmp_path: Path) -> tuple[Path, Path]:
    executor = tmp_path / "ur.yaml"
    executor.write_text(yaml.safe_dump({"robot": {"driver": "ur_rtde", "ur_rtde": {"host": "192.0.2.1"}},
                                        "calibration": {"transform": T_BASE_CAMERA.tolist()}}))
    camera = tmp_path / "camera.yaml"
    camera.write_text(yaml.safe_dump({"/**": {"ros__parameters": {
        "source": "synthetic", "synthetic.scene": "boxes", "synthetic.scale": 0.25}}}))
    return executor, camera


def test_run_session_dispatches_on_the_driver(tmp_path):
    executor, camera = write_configs(tmp_path)
    cfg = SessionConfig(protocol="clear-table", out=tmp_path / "out", executor_config=executor)
    with pytest.raises(ValueError, match="needs a camera: give camera_config"):
        run_session(cfg)
    cfg.camera_config = camera
    with pytest.raises(ImportError, match="pip install ur_rtde"):  # the real driver is built, not the sim
        run_session(cfg)
    bad = tmp_path / "nocal.yaml"
    bad.write_text(yaml.safe_dump({"robot": {"driver": "xarm"}}))
    cfg.executor_config = bad
    with pytest.raises(ValueError, match="calibration"):
        run_session(cfg)


def test_trial_node_runs_a_real_session(tmp_path):
    """The node passes the new parameters on: the session reaches the UR driver (no SDK here)."""
    from ros_helpers import RosHarness, wait_for
    from std_srvs.srv import Trigger

    from graspnet_ros.nodes.trial_node import TrialNode

    executor, camera = write_configs(tmp_path)
    ros = RosHarness()
    try:
        status = ros.node.create_client(Trigger, "status")
        node = ros.add(TrialNode(context=ros.ctx, parameter_overrides=ros.params(
            protocol="clear-table", out=str(tmp_path / "out"), executor_config=str(executor),
            camera_config=str(camera))))
        assert node.config.camera_config == camera and node.config.executor_config == executor
        assert status.wait_for_service(timeout_sec=10)

        def failed() -> bool:
            f = status.call_async(Trigger.Request())
            return wait_for(f.done, timeout=5) and f.result().success

        assert wait_for(failed, timeout=60, period=0.2)
        assert "session failed: ImportError" in node.summary and "pip install ur_rtde" in node.summary
    finally:
        ros.close()
