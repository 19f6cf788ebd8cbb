"""Offline benchmark of a rosbag2 recording: detect (or take recorded grasps), evaluate, report.

For every frame of the bag (see :func:`graspnet_ros.bags.read_bag_frames`):

1. mode 1 (default): the depth image + CameraInfo become an organised cloud
   in the camera's optical frame exactly as in ``grasp_detector_node`` with
   ``input: depth`` (or the recorded PointCloud2 with ``input="cloud"``) and
   go through the same :class:`~graspnet_ros.detection.runner.DetectionPipeline`
   built the same way from the same YAML (``config/grasp_detector_node.yaml``
   by default: detector, checkpoint, workspace, voxel size, NMS, top-k);
   mode 2 (``grasps_topic``): the ``graspnet_ros/GraspArray`` recorded on that
   topic with the frame's stamp is evaluated, no detector is run;
2. the grasps are evaluated against the dataset ground truth of the frame's
   ``DatasetFrame`` identity (:func:`graspnet_ros.evaluation.evaluate_frame`);
3. one JSON line per frame is appended to ``frames.jsonl`` as soon as it is
   done (an interrupted run keeps the frames already evaluated); at the end
   ``results.json``, ``accuracy.npz``, ``ap_table.txt`` and
   ``precision_at_k.png`` are written atomically.

Frames whose identity is missing or not in the dataset, whose depth cannot
be decoded, or whose detection fails are skipped and counted per reason in
``results.json["skipped"]``. Optionally the detected grasps are written as a
GraspArray topic into a new bag next to a copy of the input's topics.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..bags import BagFrame, BagTopics, SkipCounter, read_bag_frames
from ..grasp import GraspGroup
from ..detection.detector_params import build_pipeline, default_detector_config, detector_params

DEFAULT_GRASPS_TOPIC = "/graspnet/grasps"


@dataclass
class EvaluateBagOptions:
    """Settings of :func:`evaluate_bag` (times in seconds)."""

    bag: Path
    root: Path
    out: Path = Path("output/evaluate_bag")
    topics: BagTopics = field(default_factory=BagTopics)
    grasps_topic: str | None = None  # mode 2: evaluate this recorded GraspArray topic
    input: str = "depth"  # depth (Image + CameraInfo) | cloud (PointCloud2), as the node's `input`
    detector_config: Path | None = None  # YAML of grasp_detector_node (None: the package's)
    detector_overrides: dict = field(default_factory=dict)
    every_n: int = 1
    start: float | None = None  # window start, s from the bag's first message
    end: float | None = None
    rate: float = 0.0  # 0: as fast as possible; 1: recorded rate; 2: twice as fast ...
    workers: int = 1
    write_bag: Path | None = None  # new bag: input topics + detected grasps on grasps_out_topic
    grasps_out_topic: str = DEFAULT_GRASPS_TOPIC
    storage: str = "mcap"  # of write_bag
    plot: bool = True

    def __post_init__(self) -> None:
        self.bag, self.root, self.out = Path(self.bag), Path(self.root), Path(self.out)
        if self.input not in ("depth", "cloud"):
            raise ValueError(f"input must be depth or cloud, got '{self.input}'")
        if self.every_n < 1 or self.workers < 1:
            raise ValueError("every_n and workers must be >= 1")
        if self.rate < 0:
            raise ValueError("rate must be >= 0 (0 = as fast as possible, 1 = recorded rate)")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"time window end {self.end} s is before its start {self.start} s")


@dataclass
class FrameOutcome:
    frame: BagFrame
    grasps: GraspGroup | None = None
    result: object | None = None  # FrameResult
    error: str = ""
    detect_s: float = 0.0
    eval_s: float = 0.0


@dataclass
class EvaluateBagReport:
    frames: list[dict]  # one dict per evaluated frame (as in frames.jsonl)
    skipped: SkipCounter
    summary: object | None  # evaluation Summary (None if no frame was evaluated)
    paths: dict[str, Path]
    timings: dict[str, float]  # read / detect / evaluate / total seconds
    table: str = ""

    @property
    def num_frames(self) -> int:
        return len(self.frames)


class _GroundTruth:
    """Caches of meshes and per-scene camera files, shared by all frames."""

    def __init__(self, root: Path) -> None:
        from ..evaluation import ModelCache

        self.root = root
        self.cache = ModelCache(root)
        self.scene_cameras: dict = {}

    def frame(self, scene_id: int, camera: str, ann_id: int):
        from ..dataset.layout import Layout
        from ..evaluation import FrameGroundTruth, SceneCamera

        key = (scene_id, camera)
        if key not in self.scene_cameras:
            self.scene_cameras[key] = SceneCamera.load(Layout(self.root), scene_id, camera)
        sc = self.scene_cameras[key]
        if not 0 <= ann_id < len(sc.camera_poses):
            raise ValueError(f"frame {ann_id} is not in scene {scene_id} ({camera}: "
                             f"{len(sc.camera_poses)} frames)")
        return FrameGroundTruth.from_root(self.root, scene_id, camera, ann_id, self.cache, sc)


def _append_line(path: Path, doc: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(doc) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _FrameWorker:
    """Detects (or takes the recorded grasps) and evaluates one frame; thread-safe."""

    def __init__(self, opts: EvaluateBagOptions, pipeline, stride: int, config, log: Callable[[str], None]) -> None:
        self.opts, self.pipeline, self.stride, self.config, self.log = opts, pipeline, stride, config, log
        self.ground_truth = _GroundTruth(opts.root)
        self.lock = threading.Lock()  # one detection at a time, as in the node; evaluation runs in parallel

    def __call__(self, frame: BagFrame) -> FrameOutcome:
        from ..evaluation import evaluate_frame

        out = FrameOutcome(frame)
        ident = frame.identity
        try:
            gt = self.ground_truth.frame(ident.scene_id, ident.camera, ident.ann_id)
        except (FileNotFoundError, ValueError) as exc:
            out.error = f"identity not in the dataset: {exc}"
            return out
        out.grasps = frame.grasps if self.pipeline is None else self.detect(frame, out)
        t0 = time.perf_counter()
        out.result = evaluate_frame(out.grasps, gt, self.config)
        out.eval_s = time.perf_counter() - t0
        return out

    def detect(self, frame: BagFrame, out: FrameOutcome) -> GraspGroup:
        from ..cameras.geometry import depth_to_points

        with self.lock:  # detect_s excludes the wait for the lock
            t0 = time.perf_counter()
            try:
                points = (frame.cloud if self.opts.input == "cloud"
                          else depth_to_points(frame.depth, frame.intrinsics)[::self.stride, ::self.stride])
                grasps = self.pipeline.process(points, frame.frame_id).grasps
            except ValueError as exc:  # the node logs these and publishes an empty array
                grasps = GraspGroup(frame_id=frame.frame_id)
                self.log(f"frame t={frame.stamp_ns * 1e-9:.3f}: bad input ({exc}); evaluated with no grasps")
            out.detect_s = time.perf_counter() - t0
        return grasps


class _Collector:
    """Gathers frame outcomes in bag order: the JSONL line per frame, per-scene accuracies, timings."""

    def __init__(self, jsonl: Path, skipped: SkipCounter, keep_grasps: bool, log: Callable[[str], None]) -> None:
        self.jsonl, self.skipped, self.keep_grasps, self.log = jsonl, skipped, keep_grasps, log
        self.frames: list[dict] = []
        self.per_scene: dict[int, list[tuple[dict, np.ndarray]]] = defaultdict(list)
        self.detected: list[tuple[int, GraspGroup]] = []
        self.timings = {"read": 0.0, "detect": 0.0, "evaluate": 0.0}

    def __call__(self, o: FrameOutcome) -> None:
        if o.error:
            self.skipped.add(o.error.split(":")[0] if o.error.startswith("identity") else o.error, o.frame.stamp_ns)
            self.log(f"skipped frame t={o.frame.stamp_ns * 1e-9:.3f}: {o.error}")
            return
        ident = o.frame.identity
        doc = {"index": o.frame.index, "stamp_ns": o.frame.stamp_ns, "scene_id": ident.scene_id,
               "camera": ident.camera, "ann_id": ident.ann_id, "dataset": ident.dataset,
               **o.result.summary(), "detect_s": o.detect_s, "eval_s": o.eval_s,
               "accuracy": o.result.accuracy.tolist()}
        _append_line(self.jsonl, doc)
        self.frames.append(doc)
        self.per_scene[ident.scene_id].append((doc, o.result.accuracy))
        self.timings["detect"] += o.detect_s
        self.timings["evaluate"] += o.eval_s
        if self.keep_grasps:
            self.detected.append((o.frame.stamp_ns, o.grasps))
        self.log(f"scene {ident.scene_id} {ident.camera} frame {ident.ann_id}: AP {100 * o.result.ap:.2f} "
                 f"({len(o.grasps)} grasps, detect {o.detect_s * 1000:.0f} ms, eval {o.eval_s * 1000:.0f} ms)")

    def scene_results(self, mus: np.ndarray) -> list:
        from ..evaluation import SceneResult

        results = []
        for scene_id, items in sorted(self.per_scene.items()):
            docs = [d for d, _ in items]
            results.append(SceneResult(scene_id, docs[0]["camera"], [d["ann_id"] for d in docs],
                                       np.stack([a for _, a in items]), mus,
                                       [{k: v for k, v in d.items() if k != "accuracy"} for d in docs],
                                       sum(d["detect_s"] + d["eval_s"] for d in docs)))
        return results


def _dispatch(frames_iter, work: _FrameWorker, collect: _Collector, workers: int, rate: float) -> None:
    """Feed every frame to ``work`` (``workers`` threads; paced at ``rate`` x the recorded stamps when
    > 0) and hand the outcomes to ``collect`` in bag order."""
    pool = cf.ThreadPoolExecutor(workers) if workers > 1 else None
    pending: list[cf.Future] = []
    first_stamp = None
    wall0 = time.perf_counter()
    try:
        while True:
            t0 = time.perf_counter()
            frame = next(frames_iter, None)
            collect.timings["read"] += time.perf_counter() - t0
            if frame is None:
                break
            if rate > 0:  # pace dispatch on the recorded stamps
                first_stamp = frame.stamp_ns if first_stamp is None else first_stamp
                due = wall0 + (frame.stamp_ns - first_stamp) * 1e-9 / rate
                time.sleep(max(0.0, due - time.perf_counter()))
            if pool is None:
                collect(work(frame))
                continue
            pending.append(pool.submit(work, frame))
            while len(pending) >= 2 * workers or (pending and pending[0].done()):
                collect(pending.pop(0).result())
        for fut in pending:
            collect(fut.result())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def evaluate_bag(opts: EvaluateBagOptions, log: Callable[[str], None] = print) -> EvaluateBagReport:
    """Run the offline benchmark described in the module docstring."""
    from ..evaluation import EvalConfig, summarize, write_results
    from ..evaluation.report import ap_table

    if not opts.root.is_dir():
        raise FileNotFoundError(f"dataset root not found: {opts.root}")
    if opts.write_bag is not None and Path(opts.write_bag).exists():
        raise ValueError(f"output bag {opts.write_bag} already exists; remove it or choose another path")
    mode2 = bool(opts.grasps_topic)
    params: dict = {} if mode2 else detector_params(opts.detector_config, opts.detector_overrides)
    config = EvalConfig()
    work = _FrameWorker(opts, None if mode2 else build_pipeline(params), int(params.get("depth_stride", 1) or 1),
                        config, log)
    opts.out.mkdir(parents=True, exist_ok=True)
    jsonl = opts.out / "frames.jsonl"
    _atomic_text(jsonl, "")
    skipped = SkipCounter()
    collect = _Collector(jsonl, skipped, opts.write_bag is not None, log)
    t_start = time.perf_counter()
    frames_iter = read_bag_frames(opts.bag, opts.topics, opts.every_n, opts.start, opts.end, skipped,
                                  need=("grasps",) if mode2 else (opts.input,), grasps_topic=opts.grasps_topic)
    _dispatch(frames_iter, work, collect, opts.workers, opts.rate)
    timings = collect.timings
    timings["total"] = time.perf_counter() - t_start

    results = collect.scene_results(config.mu_array)
    extra = {"bag": str(opts.bag), "mode": "recorded grasps" if mode2 else "detector",
             "grasps_topic": opts.grasps_topic, "detector": params, "skipped": skipped.as_dict(),
             "timings_s": timings, "frames_evaluated": len(collect.frames)}
    paths: dict[str, Path] = {"jsonl": jsonl}
    summary = None
    table = ""
    if results:
        summary = summarize(results)
        paths.update(write_results(opts.out, summary, results, config, extra=extra, plot=opts.plot))
        table = ap_table(summary, results[0].camera)
        paths["table"] = opts.out / "ap_table.txt"
        _atomic_text(paths["table"], table + "\n")
    else:
        paths["json"] = opts.out / "results.json"
        _atomic_text(paths["json"], json.dumps({**extra, "overall": None}, indent=1) + "\n")
    if opts.write_bag is not None:
        paths["bag"] = write_grasps_bag(opts.bag, Path(opts.write_bag), collect.detected, opts.grasps_out_topic,
                                        opts.storage)
    return EvaluateBagReport(collect.frames, skipped, summary, paths, timings, table)


def write_grasps_bag(src: Path, out: Path, grasps: list[tuple[int, GraspGroup]], topic: str,
                     storage: str = "mcap") -> Path:
    """Copy every topic of ``src`` into a new bag ``out`` and add ``grasps`` (stamp ns,
    GraspGroup) as ``graspnet_ros/GraspArray`` messages on ``topic``, header stamp = the frame's."""
    import shutil

    from rosbags.rosbag2 import Writer

    from ..bags import MSGTYPES, MessageFactory, open_bag, seal_bag, storage_plugin, typestore

    ts = typestore()
    mk = MessageFactory(ts)
    tmp_dir = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    try:
        reader = open_bag(src)
        try:
            with Writer(tmp_dir / out.name, version=9, storage_plugin=storage_plugin(storage)) as w:
                conns = {}
                for c in reader.connections:
                    if c.topic in conns or c.topic == topic:
                        continue
                    if c.msgtype in ts.fielddefs:
                        conns[c.topic] = w.add_connection(c.topic, c.msgtype, typestore=ts)
                    else:
                        conns[c.topic] = w.add_connection(c.topic, c.msgtype, msgdef=c.msgdef.data,
                                                          rihs01=c.digest)
                for c, t, raw in reader.messages():
                    if c.topic in conns:
                        w.write(conns[c.topic], t, raw)
                gconn = w.add_connection(topic, MSGTYPES["grasps"], typestore=ts)
                for stamp, g in grasps:
                    w.write(gconn, stamp, ts.serialize_cdr(mk.grasp_array(g, stamp), MSGTYPES["grasps"]))
        finally:
            reader.close()
        seal_bag(tmp_dir / out.name)  # mcap chunk, data and summary CRCs
        os.replace(tmp_dir / out.name, out)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return out


__all__ = ["DEFAULT_GRASPS_TOPIC", "EvaluateBagOptions", "EvaluateBagReport", "build_pipeline",
           "default_detector_config", "detector_params", "evaluate_bag", "write_grasps_bag"]
