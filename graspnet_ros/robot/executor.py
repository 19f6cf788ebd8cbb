"""Execute one grasp with an arm: transform, safety checks, then five phases.

ROS-free. A grasp (GraspNet convention) arrives in a camera frame or in the
robot base frame; camera grasps are mapped to the base with the calibration
transform ``T_base<-camera``. The tool poses come from
:func:`graspnet_ros.tool_frame.grasp_to_tool_poses` with the configured
:class:`~graspnet_ros.tool_frame.ToolFrame`. Then, if every safety check
passes (:mod:`graspnet_ros.robot.safety`), the arm runs:

1. ``pre_grasp``: open the jaws to the grasp width plus a margin, travel
   (through a waypoint at ``transit_height`` when the pre-grasp is lower) to
   the pre-grasp pose, ``pre_grasp_distance`` m back along the approach;
2. ``approach``: straight in to the grasp pose at approach speed;
3. ``close``: close the jaws with the configured force;
4. ``lift``: straight up ``lift_height`` m in the base frame;
5. ``verify``: hold ``hold_time`` s, read the jaw width and contact; with a
   simulator also its ground truth (an object held ``lift_check_height`` m
   above its rest height).

A driver error (:class:`~graspnet_ros.robot.base.RobotError`, or any other
exception a vendor SDK raises) or a stop request aborts the sequence; the
result then names the phase and the cause. Every single motion command,
reset/home included, is path-checked (TCP and gripper body, from the measured
tool pose) right before it is sent. :meth:`GraspExecutor.stop` never blocks
and never raises; :meth:`GraspExecutor.reset` recovers the driver (reconnect,
clear a protective stop) before the path-checked home move.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np
import yaml

from ..grasp import GraspGroup
from ..tool_frame import ToolFrame, grasp_to_tool_poses
from .base import Arm, LiftOracle, MotionStopped, Recoverable, RobotError, SpeedLimits, as_pose
from .safety import SafetyChecker, SafetyConfig, SafetyReport

if TYPE_CHECKING:
    from ..calibration.result import CalibrationResult

PHASES = ("pre_grasp", "approach", "close", "lift", "verify")

#: feedback(phase, progress in [0, 1] over the whole sequence)
FeedbackFn = Callable[[str, float], None]


class SafetyViolation(RuntimeError):
    """A command was about to leave the allowed workspace (raised before sending it)."""


def load_calibration(path: str | Path, T_base_flange: np.ndarray | None = None) -> np.ndarray:
    """T_base<-camera (4x4, m) from a calibration file, read by the package's one reader
    (:func:`graspnet_ros.calibration.result.read_calibration`: what ``graspnet-ros calibrate``
    writes, unchanged, or a hand-written ``transform`` / ``translation`` + ``quaternion``).
    An eye-in-hand file (T_flange<-camera) needs the flange pose T_base<-flange at capture time.
    """
    from ..calibration.result import base_from_camera, read_calibration

    return base_from_camera(read_calibration(path), T_base_flange)


def calibration_from_mapping(data: Mapping[str, Any]) -> np.ndarray:
    """T_base<-camera from an inline eye-to-hand mapping (same keys as a calibration file)."""
    from ..calibration.result import base_from_camera
    from ..calibration.result import calibration_from_mapping as read_mapping

    return base_from_camera(read_mapping(data, "executor calibration"))


def _read_camera_calibration(calib: Mapping[str, Any], base_dir: Path | None) -> CalibrationResult | None:
    """The executor config's ``calibration`` section as a CalibrationResult (None when unset)."""
    from ..calibration.result import calibration_from_mapping as read_mapping
    from ..calibration.result import read_calibration

    if calib.get("file"):
        file = Path(calib["file"])
        if not file.is_absolute() and base_dir is not None:
            file = base_dir / file
        return read_calibration(file)
    inline = {k: v for k, v in calib.items() if k not in ("file", "tool_in_flange")}
    if any(inline.get(k) is not None for k in ("transform", "matrix", "translation")):
        return read_mapping({k: v for k, v in inline.items() if v is not None}, "executor calibration")
    return None


def _speed(cfg: Mapping[str, Any] | None, default: SpeedLimits) -> SpeedLimits:
    if not cfg:
        return default
    return SpeedLimits(float(cfg.get("linear", default.linear)), float(cfg.get("angular", default.angular)),
                       float(cfg.get("acceleration", default.acceleration)))


@dataclass(frozen=True)
class MotionConfig:
    """Waypoint distances (m) and speeds of the grasp sequence."""

    pre_grasp_distance: float = 0.10
    lift_height: float = 0.10
    transit_height: float | None = 0.30
    free: SpeedLimits = SpeedLimits(0.5, 3.0, 1.0)
    approach: SpeedLimits = SpeedLimits(0.15, 1.0, 0.5)
    lift: SpeedLimits = SpeedLimits(0.15, 1.0, 0.5)
    home: tuple | None = None
    symmetric_jaws: bool = True


@dataclass(frozen=True)
class GraspingConfig:
    """Jaw settings: opening margin (m), force (N), verification thresholds."""

    open_margin: float = 0.01
    force: float = 30.0
    min_closed_width: float = 0.002
    hold_time: float = 0.5
    lift_check_height: float = 0.05


@dataclass(frozen=True)
class InputLimits:
    """How old (s, since arrival) the latest cloud and grasp list may be when a goal uses them."""

    max_cloud_age: float = 2.0
    max_grasps_age: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_cloud_age", "max_grasps_age"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"inputs.{name} must be a positive number of seconds, got {value}")


@dataclass
class ExecutorConfig:
    """Everything the executor needs; ``from_mapping`` reads ``config/executor.yaml``."""

    tool: ToolFrame = field(default_factory=lambda: ToolFrame.z_approach(0.0))
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    grasping: GraspingConfig = field(default_factory=GraspingConfig)
    base_frame: str = "base_link"
    camera_frames: tuple[str, ...] = ("camera", "camera_color_optical_frame", "camera_depth_optical_frame")
    T_base_camera: np.ndarray | None = None
    robot: dict = field(default_factory=lambda: {"driver": "sim"})
    inputs: InputLimits = field(default_factory=InputLimits)
    #: the calibration file's content (mode, frames); eye-in-hand: transform = T_flange<-camera
    camera_calibration: CalibrationResult | None = None
    #: T_flange<-tool (4x4, m): the arm's reported tool frame in the flange frame the
    #: eye-in-hand calibration was solved in (identity: the calibration's robot poses were tool poses)
    T_flange_tool: np.ndarray = field(default_factory=lambda: np.eye(4))

    @property
    def eye_in_hand(self) -> bool:
        """True when the camera rides on the arm (calibration mode eye-in-hand)."""
        return self.camera_calibration is not None and self.camera_calibration.mode == "eye-in-hand"

    @property
    def T_flange_camera(self) -> np.ndarray | None:
        """Eye-in-hand: the calibrated T_flange<-camera (4x4, m); None otherwise."""
        return np.asarray(self.camera_calibration.transform, dtype=np.float64) if self.eye_in_hand else None

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any], base_dir: Path | None = None) -> "ExecutorConfig":
        known = {"robot", "tool_frame", "frames", "calibration", "motion", "grasping", "safety", "inputs"}
        unknown = set(cfg) - known
        if unknown:
            raise ValueError(f"unknown executor config sections {sorted(unknown)}; known: {sorted(known)}")
        frames = dict(cfg.get("frames") or {})
        calib = dict(cfg.get("calibration") or {})
        camera_calibration = _read_camera_calibration(calib, base_dir)
        T = None
        if camera_calibration is not None and camera_calibration.mode == "eye-to-hand":
            T = np.asarray(camera_calibration.transform, dtype=np.float64)
        tool_in_flange = np.eye(4) if calib.get("tool_in_flange") is None else as_pose(
            np.asarray(calib["tool_in_flange"], dtype=np.float64), "calibration.tool_in_flange (T_flange<-tool)")
        m = dict(cfg.get("motion") or {})
        speeds = dict(m.get("speeds") or {})
        d = MotionConfig()
        motion = MotionConfig(
            pre_grasp_distance=float(m.get("pre_grasp_distance", d.pre_grasp_distance)),
            lift_height=float(m.get("lift_height", d.lift_height)),
            transit_height=None if m.get("transit_height", d.transit_height) is None else float(m.get(
                "transit_height", d.transit_height)),
            free=_speed(speeds.get("free"), d.free), approach=_speed(speeds.get("approach"), d.approach),
            lift=_speed(speeds.get("lift"), d.lift),
            home=None if m.get("home") is None else tuple(map(tuple, m["home"])),
            symmetric_jaws=bool(m.get("symmetric_jaws", d.symmetric_jaws)))
        g = dict(cfg.get("grasping") or {})
        unknown = set(g) - set(GraspingConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown grasping keys {sorted(unknown)}")
        cams = frames.get("camera", list(cls.camera_frames))
        inputs = dict(cfg.get("inputs") or {})
        known_inputs = sorted(InputLimits.__dataclass_fields__)
        if set(inputs) - set(known_inputs):
            raise ValueError(f"unknown inputs keys {sorted(set(inputs) - set(known_inputs))}; known: {known_inputs}")
        return cls(tool=ToolFrame.from_config(cfg.get("tool_frame") or {}),
                   safety=SafetyConfig.from_config(cfg.get("safety") or {}), motion=motion,
                   grasping=GraspingConfig(**{k: float(v) for k, v in g.items()}),
                   base_frame=str(frames.get("base", "base_link")),
                   camera_frames=tuple([cams] if isinstance(cams, str) else cams),
                   T_base_camera=T, robot=dict(cfg.get("robot") or {"driver": "sim"}),
                   camera_calibration=camera_calibration, T_flange_tool=tool_in_flange,
                   inputs=InputLimits(**{k: float(v) for k, v in inputs.items()}))

    @classmethod
    def load(cls, path: str | Path) -> "ExecutorConfig":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"executor config not found: {path}")
        return cls.from_mapping(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, path.parent)


@dataclass
class Plan:
    """Tool poses (N, 4, 4) of each grasp's waypoints in the base frame."""

    grasps: GraspGroup  # in the base frame
    grasp: np.ndarray
    pre: np.ndarray
    transit: np.ndarray
    lift: np.ndarray
    opening: np.ndarray  # (N,) jaw opening, m

    def waypoints(self) -> np.ndarray:
        """(N, 4, 3) TCP positions in execution order: transit, pre, grasp, lift."""
        return self.waypoint_poses()[:, :, :3, 3]

    def waypoint_poses(self) -> np.ndarray:
        """(N, 4, 4, 4) tool poses in execution order: transit, pre, grasp, lift (base frame)."""
        return np.stack([self.transit, self.pre, self.grasp, self.lift], axis=1)


@dataclass
class ExecutionResult:
    """Outcome of one grasp: ``reason`` is empty on success."""

    success: bool
    measured_width: float
    reason: str
    phase: str = ""  # last phase started ("" when refused before motion)
    refused: bool = False
    object_index: int | None = None
    grasp: GraspGroup | None = None  # the grasp executed, base frame
    seconds: float = 0.0


class GraspExecutor:
    """Runs grasps on an :class:`~graspnet_ros.robot.base.Arm` (thread-safe stop)."""

    def __init__(self, arm: Arm, config: ExecutorConfig | None = None) -> None:
        self.arm = arm
        self.config = config or ExecutorConfig()
        self.safety = SafetyChecker(self.config.safety, self.config.tool)
        self._stop = threading.Event()
        #: the last error the driver's stop() raised ('' if none): the stop latch holds regardless
        self.last_stop_error = ""
        self._lock = threading.Lock()
        sim_tool = getattr(arm, "tool_frame", None)
        if isinstance(sim_tool, ToolFrame):
            tool = self.config.tool
            if not (np.allclose(sim_tool.rotation, tool.rotation) and np.isclose(sim_tool.tcp_offset, tool.tcp_offset)):
                raise ValueError(f"tool_frame in the config ({tool.name}, tcp_offset {tool.tcp_offset} m) does "
                                 f"not match the driver's gripper ({sim_tool.name}, tcp_offset "
                                 f"{sim_tool.tcp_offset} m)")

    # -- frames ----------------------------------------------------------------
    def flange_pose(self) -> np.ndarray:
        """The arm's flange pose T_base<-flange NOW (4x4, m): its tool pose composed with
        ``T_flange<-tool``. Eye-in-hand: read it when a frame is captured and pass it with
        that frame's data (``T_base_flange``)."""
        return self.arm.tool_pose() @ np.linalg.inv(self.config.T_flange_tool)

    def camera_pose(self, T_base_flange: np.ndarray | None = None) -> np.ndarray:
        """T_base<-camera (4x4, m) when the frame was captured.

        Eye-to-hand: the calibrated transform (``T_base_flange`` is ignored). Eye-in-hand: the
        calibrated T_flange<-camera composed with ``T_base_flange``, the flange pose AT CAPTURE
        TIME (required: the pose at execution time would misplace everything the camera saw
        from elsewhere). ValueError without a calibration.
        """
        cfg = self.config
        if cfg.eye_in_hand:
            if T_base_flange is None:
                raise ValueError("the camera is eye-in-hand (calibration T_flange<-camera): camera-frame data "
                                 "needs the flange pose T_base<-flange at its capture time (GraspExecutor."
                                 "flange_pose() when the frame was taken; executor_node looks it up at the "
                                 "message stamp), never the pose at execution time")
            return as_pose(T_base_flange, "T_base<-flange at capture time") @ cfg.T_flange_camera
        if cfg.T_base_camera is None:
            raise ValueError("no calibration (T_base<-camera) is configured: set calibration.file or "
                             "calibration.transform")
        return cfg.T_base_camera

    def base_from(self, frame_id: str, T_base_flange: np.ndarray | None = None) -> np.ndarray:
        """T_base<-frame for a frame the executor knows; ValueError otherwise.

        T_base_flange: the flange pose (4x4, m) when camera-frame data was captured; needed
        (and used) only for an eye-in-hand camera, see :meth:`camera_pose`.
        """
        cfg = self.config
        if not frame_id:
            raise ValueError(f"empty frame_id: say which frame the data is in (the base frame '{cfg.base_frame}' "
                             f"or a camera frame {list(cfg.camera_frames)}); it is never guessed")
        if frame_id == cfg.base_frame:
            return np.eye(4)
        if frame_id in cfg.camera_frames:
            if cfg.T_base_camera is None and not cfg.eye_in_hand:
                raise ValueError(f"grasps arrive in camera frame '{frame_id}' but no calibration "
                                 "(T_base<-camera) is configured: set calibration.file or calibration.transform")
            return self.camera_pose(T_base_flange)
        raise ValueError(f"unknown frame '{frame_id}': expected the base frame '{cfg.base_frame}' or a camera "
                         f"frame {list(cfg.camera_frames)} (see frames in config/executor.yaml)")

    def to_base(self, grasps: GraspGroup, T_base_flange: np.ndarray | None = None) -> GraspGroup:
        """Grasps in the base frame (``T_base_flange``: see :meth:`base_from`)."""
        return grasps.transform(self.base_from(grasps.frame_id, T_base_flange), frame_id=self.config.base_frame)

    def cloud_to_base(self, points: np.ndarray, frame_id: str, T_base_flange: np.ndarray | None = None
                      ) -> np.ndarray:
        """(M, 3) points (m) of ``frame_id`` in the base frame (``T_base_flange``: see :meth:`base_from`)."""
        T = self.base_from(frame_id, T_base_flange)
        return np.asarray(points, dtype=np.float64).reshape(-1, 3) @ T[:3, :3].T + T[:3, 3]

    # -- planning --------------------------------------------------------------
    def plan(self, grasps_base: GraspGroup) -> Plan:
        """Tool waypoints of grasps already in the base frame (vectorised)."""
        cfg = self.config
        tool = grasp_to_tool_poses(grasps_base, cfg.tool)
        if cfg.motion.symmetric_jaws:
            # A parallel-jaw gripper is the same after half a turn about the
            # approach axis: take whichever tool orientation is nearer the
            # current one (shorter wrist motion, no wind-up).
            approach_in_tool = cfg.tool.rotation.T[:, 0]
            axis = approach_in_tool / np.linalg.norm(approach_in_tool)
            flip = np.eye(4)
            flip[:3, :3] = 2.0 * np.outer(axis, axis) - np.eye(3)  # rotation by pi about the approach
            flipped = tool @ flip
            current = self.arm.tool_pose()[:3, :3]
            trace = np.einsum("ij,nij->n", current, tool[:, :3, :3])
            trace_flipped = np.einsum("ij,nij->n", current, flipped[:, :3, :3])
            use = trace_flipped > trace
            tool[use] = flipped[use]
            if use.any():
                arr = grasps_base.array.copy()
                rot = grasps_base.rotations.copy()
                rot[use, :, 1:] *= -1.0  # same grasp, closing axis reversed (x kept)
                arr[:, 4:13] = rot.reshape(-1, 9)
                grasps_base = GraspGroup(arr, frame_id=grasps_base.frame_id, copy=False, validate=False)
        approach = grasps_base.approaches
        pre = tool.copy()
        pre[:, :3, 3] -= cfg.motion.pre_grasp_distance * approach
        lift = tool.copy()
        lift[:, 2, 3] += cfg.motion.lift_height
        transit = pre.copy()
        if cfg.motion.transit_height is not None:
            transit[:, 2, 3] = np.maximum(pre[:, 2, 3], cfg.motion.transit_height)
        max_open = min(cfg.safety.max_gripper_width, float(self.arm.max_width))
        opening = np.minimum(grasps_base.widths + cfg.grasping.open_margin, max_open)
        return Plan(grasps_base, tool, pre, transit, lift, opening)

    def check(self, grasps: GraspGroup, cloud: np.ndarray | None = None,
              T_base_flange: np.ndarray | None = None) -> tuple[Plan, SafetyReport]:
        """Plan and safety-check grasps (any known frame); cloud (M, 3) in the base frame;
        T_base_flange: the flange pose when camera-frame grasps were captured (eye-in-hand)."""
        base = self.to_base(grasps, T_base_flange)
        plan = self.plan(base)
        start = self.arm.tool_pose()
        report = self.safety.check(base, plan.waypoint_poses(), self.config.motion.pre_grasp_distance,
                                   plan.opening, cloud, start)
        return plan, report

    # -- execution -------------------------------------------------------------
    def stop(self) -> str:
        """Abort the running grasp (from any thread); latched until :meth:`reset`.

        Never blocks and never raises: the latch is set first, so no further
        command is sent whatever the driver does. Returns '' or the error the
        driver's stop raised (also kept in ``last_stop_error``).
        """
        self._stop.set()
        try:
            self.arm.stop()
            self.last_stop_error = ""
        except Exception as exc:  # noqa: BLE001 - a lost link must not break the stop path
            self.last_stop_error = f"{type(exc).__name__}: {exc}"
        return self.last_stop_error

    def reset(self) -> None:
        """Recover the driver (reconnect, clear a stop), clear the stop latch, open the jaws and
        go home along a path-checked move (if a home pose is configured).

        Waits for an aborting grasp to finish unwinding; raises :class:`RobotError`
        or :class:`SafetyViolation` with the reason when it cannot (the latch then stays set).
        """
        with self._lock:
            if isinstance(self.arm, Recoverable):
                self.arm.recover()
            self._stop.clear()
            try:
                self.arm.open_gripper(min(self.config.safety.max_gripper_width, float(self.arm.max_width)))
                if self.config.motion.home is not None:
                    self._move(as_pose(np.asarray(self.config.motion.home, dtype=np.float64), "motion.home"),
                               self.config.motion.free)
            except Exception:
                self._stop.set()
                raise

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _move(self, pose: np.ndarray, speed: SpeedLimits) -> None:
        """Send one motion command after checking its whole path (TCP and gripper body) from the
        measured tool pose; SafetyViolation before anything moves otherwise."""
        if self._stop.is_set():
            raise MotionStopped("stop requested (call reset to continue)")
        bad, reasons = self.safety.check_motion(np.asarray(pose, dtype=np.float64)[None, None],
                                                self.arm.tool_pose())
        if bad[0]:
            raise SafetyViolation(f"command refused: {reasons[0]}")
        self.arm.move_tool(pose, speed)

    def execute(self, grasp: GraspGroup, cloud: np.ndarray | None = None, feedback: FeedbackFn | None = None,
                close_jaws: bool = True, T_base_flange: np.ndarray | None = None) -> ExecutionResult:
        """Execute one grasp (``len(grasp) == 1``) in a known frame.

        cloud: latest point cloud (M, 3) in the base frame for the pre-grasp
        clearance check (None skips it). close_jaws=False is the negative
        control: the jaws stay open, everything else is identical.
        T_base_flange: eye-in-hand, the flange pose (4x4, m) when the grasp's frame was
        captured (:meth:`flange_pose` then); camera-frame grasps are refused without it.
        """
        if len(grasp) != 1:
            raise ValueError(f"execute takes exactly one grasp, got {len(grasp)}; use execute_best for a set")
        return self.execute_best(grasp, cloud, feedback, close_jaws, T_base_flange)

    def execute_best(self, grasps: GraspGroup, cloud: np.ndarray | None = None,
                     feedback: FeedbackFn | None = None, close_jaws: bool = True,
                     T_base_flange: np.ndarray | None = None) -> ExecutionResult:
        """Execute the best-scoring grasp that passes every safety check (arguments: :meth:`execute`)."""
        t0 = time.perf_counter()
        if len(grasps) == 0:
            return ExecutionResult(False, 0.0, "no grasps to execute", refused=True)
        if self._stop.is_set():
            return ExecutionResult(False, 0.0, "executor is stopped; call reset first", refused=True)
        try:
            grasps = grasps.sort_by_score()
            plan, report = self.check(grasps, cloud, T_base_flange)
        except (ValueError, RobotError) as exc:
            return ExecutionResult(False, 0.0, f"refused: {type(exc).__name__}: {exc}" if isinstance(exc, RobotError)
                                   else f"refused: {exc}", refused=True, seconds=time.perf_counter() - t0)
        if not report.ok.any():
            many = f" (all {len(grasps)} grasps refused; best: " if len(grasps) > 1 else " ("
            return ExecutionResult(False, 0.0, f"refused by safety check{many}{report.first_reason()})",
                                   refused=True, seconds=time.perf_counter() - t0)
        i = int(np.flatnonzero(report.ok)[0])
        with self._lock:
            result = self._run(plan, i, feedback, close_jaws)
        result.seconds = time.perf_counter() - t0
        return result

    def _run(self, plan: Plan, i: int, feedback: FeedbackFn | None, close_jaws: bool) -> ExecutionResult:
        cfg, arm = self.config, self.arm
        grasp = plan.grasps[i]
        phase = ""

        def enter(name: str) -> None:
            nonlocal phase
            if self._stop.is_set():
                raise MotionStopped("stop requested")
            phase = name
            if feedback is not None:
                feedback(name, PHASES.index(name) / len(PHASES))

        try:
            enter("pre_grasp")
            arm.open_gripper(float(plan.opening[i]))
            if not np.allclose(plan.transit[i, :3, 3], plan.pre[i, :3, 3]):
                self._move(plan.transit[i], cfg.motion.free)
            self._move(plan.pre[i], cfg.motion.free)
            enter("approach")
            self._move(plan.grasp[i], cfg.motion.approach)
            enter("close")
            if close_jaws:
                arm.close_gripper(cfg.grasping.force)
            enter("lift")
            self._move(plan.lift[i], cfg.motion.lift)
            enter("verify")
            arm.wait(cfg.grasping.hold_time)
            width = float(arm.gripper_width())
            contact = arm.gripper_contact()
            obj = None
            reason = ""
            if width <= cfg.grasping.min_closed_width:
                reason = (f"jaws closed on nothing: width {width:.4f} m <= "
                          f"{cfg.grasping.min_closed_width:.4f} m after the lift")
            elif contact is False:
                reason = f"no object between the jaws after the lift (width {width:.4f} m)"
            if isinstance(arm, LiftOracle):
                obj = arm.lifted_object(cfg.grasping.lift_check_height)
                if obj is None and not reason:
                    reason = (f"object not lifted: nothing held {cfg.grasping.lift_check_height:.3f} m "
                              "above its rest height")
            if feedback is not None:
                feedback("verify", 1.0)
            return ExecutionResult(not reason, width, reason, phase, False, obj, grasp)
        except Exception as exc:  # noqa: BLE001 - any driver/SDK error ends the grasp with its reason
            try:
                arm.stop()
            except Exception:  # noqa: BLE001 - the link may be gone; the abort reason says why
                pass
            width = 0.0
            try:
                width = float(arm.gripper_width())
            except Exception:  # noqa: BLE001
                pass
            return ExecutionResult(False, width, f"aborted in phase '{phase or 'pre_grasp'}': "
                                   f"{type(exc).__name__}: {exc or 'no message'}", phase, False, None, grasp)


def build_arm(robot_cfg: Mapping[str, Any], objects=(), seed: int = 0) -> Arm:
    """The arm named by ``robot.driver`` (sim | ur_rtde | xarm) with its section's settings."""
    driver = str(robot_cfg.get("driver", "sim"))
    section = dict(robot_cfg.get(driver) or {})
    if driver == "sim":
        from .sim import sim_from_config

        return sim_from_config(section, objects, seed)
    if driver == "ur_rtde":
        from .drivers.ur_rtde import URRtdeArm

        return URRtdeArm(**section)
    if driver == "xarm":
        from .drivers.xarm import XArm

        return XArm(**section)
    raise ValueError(f"unknown robot driver '{driver}'; use sim, ur_rtde or xarm")
