"""``graspnet-ros trials``: grasp success-rate trials (score bins, table clearing) in simulation or on a real arm."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from ..robot.base import RobotError
    from ..trials.config import SessionConfig, load_detector
    from ..trials.operator import SessionAborted
    from ..trials.session import run_session

    tolerance = args.bin_tolerance
    if tolerance is not None and tolerance != "nearest":
        try:
            tolerance = float(tolerance)
        except ValueError:
            raise ValueError(f"--bin-tolerance must be a number or 'nearest', got {tolerance!r}") from None
    cfg = SessionConfig.from_yaml(
        args.config, protocol=args.protocol, trials=args.trials, objects=args.objects,
        scenes=None if args.scenes is None else [int(s) for s in args.scenes], out=args.out, seed=args.seed,
        bins=args.bins, max_consecutive_failures=args.max_failures,
        negative_control=True if args.negative_control else None, executor_config=args.executor_config,
        operator_confirm=True if args.operator_confirm else None, camera_config=args.camera_config,
        detector_config=args.detector_config, checkpoint=args.checkpoint, objects_per_scene=args.objects_per_scene,
        bin_tolerance=tolerance)
    detector = load_detector(args.detector) if args.detector else None

    def show(rec: dict) -> None:
        if args.quiet:
            return
        what = rec.get("object") or rec.get("scene") or ""
        tag = f"s={rec['bin']:g} #{rec['trial']}" if "bin" in rec else f"attempt {rec.get('attempt')}"
        verdict = f" [operator: {rec['verdict']}]" if "verdict" in rec else ""
        print(f"  {what:<18} {tag:<12} {'ok  ' if rec['success'] else 'FAIL'}{verdict} {rec.get('reason', '')}")

    try:
        report = run_session(cfg, detector, progress=show)
    except SessionAborted as exc:
        print(f"error: session aborted: {exc}", file=sys.stderr)
        return 1
    except (ImportError, RobotError) as exc:  # a real arm without its SDK (named) or not reachable
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.table)
    d = report.data
    n = d["trials_run_now"]
    if n:
        print(f"{n} trials in {d['trial_seconds']:.1f} s ({n / max(d['trial_seconds'], 1e-9):.1f} trials/s)")
    else:
        print("all trials already in the log (delete it to run again)")
    results = cfg.out / ("results_open_jaws.json" if cfg.negative_control else "results.json")
    print(f"log: {report.log}\nresults: {results}")
    if report.plot:
        print(f"plot: {report.plot}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("trials", help=__doc__.split(":", 1)[1].strip(),
                              description="Runs in the MuJoCo simulator, or on a real arm when the executor "
                                          "config's robot.driver is ur_rtde or xarm (then with --camera-config; "
                                          "outcomes are judged by the gripper width and confirmed by the operator "
                                          "on the console). Every trial is appended to OUT/trials.jsonl as it "
                                          "finishes and a rerun resumes from it.")
    p.add_argument("--protocol", choices=("score-bins", "clear-table"), help="default: from --config")
    p.add_argument("--trials", type=int, help="score-bins: grasps per object and bin; clear-table: scenes")
    p.add_argument("--scenes", nargs="+", help="clear-table scene seeds (integers)")
    p.add_argument("--objects", nargs="+", help="score-bins objects (simulation: box_5x5x8, cylinder_r3h10, ...; "
                                                "real arm: the names of the objects you will place)")
    p.add_argument("--objects-per-scene", type=int,
                   help="clear-table objects per scene (real arm: the default of the count you confirm)")
    p.add_argument("--bins", nargs="+", type=float, help="score bins (default 1.0 0.5 0.1)")
    p.add_argument("--out", help="output folder (default output/trials)")
    p.add_argument("--seed", type=int)
    p.add_argument("--max-failures", type=int, help="clear-table: consecutive failures that end a scene")
    p.add_argument("--negative-control", action="store_true", help="keep the jaws open (must give ~0%%)")
    p.add_argument("--detector", help="clear-table detector 'package.module:callable' taking an Observation "
                                      "(default: ground-truth force-closure labels)")
    p.add_argument("--operator-confirm", action="store_true",
                   help="real-arm outcome path: after each lift the gripper-width proposal is confirmed "
                        "(Enter) or overridden (y/n) on the console; the log stores both")
    p.add_argument("--config", help="trials YAML (see config/trials.yaml)")
    p.add_argument("--executor-config", help="executor YAML (default: built-in = config/executor.yaml); "
                                             "robot.driver ur_rtde | xarm runs the session on that arm")
    p.add_argument("--camera-config", help="real arm: camera_node.yaml-style file (source realsense | kinect, "
                                           "camera_name, device settings)")
    p.add_argument("--detector-config", help="real arm: grasp_detector_node.yaml-style file "
                                             "(default: the package's config/grasp_detector_node.yaml)")
    p.add_argument("--checkpoint", help="real arm: network checkpoint (default: the detector config's; none = "
                                        "the model-free baseline)")
    p.add_argument("--bin-tolerance", help="real-arm score-bins: window |predicted score - bin| (default 0.05) "
                                           "or 'nearest'")
    p.add_argument("--quiet", action="store_true", help="no line per trial")
    p.set_defaults(func=run)
