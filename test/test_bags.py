"""Bags from dataset frames and the offline ``evaluate_bag`` (issue 9).

One tiny synthetic root (about 45 s) is shared by the module; two frames of
scene 100 go into an mcap bag (with clouds) and a sqlite3 bag.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_typestore

from graspnet_ros.bags import (BagTopics, SkipCounter, open_bag, read_bag_frames, seal_bag, storage_plugin,
                               typestore, verify_bag, write_dataset_bag)
from graspnet_ros.cameras.base import CameraIntrinsics
from graspnet_ros.cameras.geometry import depth_to_points
from graspnet_ros.dataset.generate import generate
from graspnet_ros.dataset.reader import GraspNetDataset
from graspnet_ros.evaluation import FrameGroundTruth, ModelCache, evaluate_frame
from graspnet_ros.offline.evaluate_bag import (DEFAULT_GRASPS_TOPIC, EvaluateBagOptions, build_pipeline,
                                               detector_params, evaluate_bag)

REPO = Path(__file__).resolve().parent.parent
SCENE, FRAMES, CAMERA = 100, (0, 1), "realsense"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    base = tmp_path_factory.mktemp("bags")
    root = base / "tiny"
    generate(root, "tiny", workers=1, seed=0, log=lambda *_: None)
    bags = {}
    for storage in ("mcap", "sqlite3"):
        bags[storage] = base / f"frames_{storage}"
        write_dataset_bag(root, [SCENE], CAMERA, bags[storage], storage=storage,
                          cloud=storage == "mcap", ann_ids=FRAMES)
    return {"base": base, "root": root, "bags": bags}


@pytest.fixture(scope="module")
def direct(work):
    """Per-frame accuracy of the node's pipeline run on the dataset frames directly.

    The depth goes through the live node's own 16UC1 encode/decode (rclpy
    messages, ``nodes.conversions``): the detector is sensitive to 1-ulp
    differences between ``mm / 1000`` (the dataset reader) and ``mm * 0.001``
    (every ROS depth consumer), so the reference is what the node would see.
    """
    from graspnet_ros.nodes import conversions as cv

    pipeline = build_pipeline(detector_params())
    ds = GraspNetDataset(work["root"], CAMERA)
    cache = ModelCache(work["root"])
    out = {}
    for ann in FRAMES:
        f = ds.frame(SCENE, ann)
        h, w = f.depth.shape
        depth = cv.msg_to_depth(cv.depth_to_msg(f.depth, "cam"))
        points = depth_to_points(depth, CameraIntrinsics.from_matrix(f.intrinsics, w, h))
        grasps = pipeline.process(points, "cam").grasps
        gt = FrameGroundTruth.from_root(work["root"], SCENE, CAMERA, ann, cache)
        out[ann] = evaluate_frame(grasps, gt).accuracy
    return out


@pytest.fixture(scope="module")
def evaluated(work):
    """evaluate_bag over both storages; the mcap run also writes the detected grasps into a bag."""
    reports = {}
    for storage, bag in work["bags"].items():
        write = work["base"] / "with_grasps" if storage == "mcap" else None
        reports[storage] = evaluate_bag(EvaluateBagOptions(bag, work["root"], out=work["base"] / f"ev_{storage}",
                                                           write_bag=write, workers=2 if write else 1),
                                        log=lambda _m: None)
    return reports


def copy_bag(src: Path, dst: Path, edit) -> None:
    """Copy a bag, passing each (topic, message) through ``edit`` (None drops it)."""
    ts = typestore()
    with AnyReader([src], default_typestore=ts) as reader, Writer(dst, version=9) as writer:
        conns = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=ts) for c in reader.connections}
        for c, t, raw in reader.messages():
            msg = edit(c.topic, reader.deserialize(raw, c.msgtype))
            if msg is not None:
                writer.write(conns[c.topic], t, ts.serialize_cdr(msg, c.msgtype))


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip_matches_direct_evaluation(work, direct, evaluated, storage):
    report = evaluated[storage]
    assert [d["ann_id"] for d in report.frames] == list(FRAMES)
    for doc in report.frames:
        np.testing.assert_allclose(np.array(doc["accuracy"]), direct[doc["ann_id"]], atol=1e-12)
    assert report.skipped.total == 0
    out = work["base"] / f"ev_{storage}"
    lines = (out / "frames.jsonl").read_text().splitlines()
    assert [json.loads(s)["ann_id"] for s in lines] == list(FRAMES)
    doc = json.loads((out / "results.json").read_text())
    expected = np.mean([direct[a] for a in FRAMES])
    assert doc["overall"]["ap"] == pytest.approx(expected, abs=1e-12)
    assert doc["frames_evaluated"] == len(FRAMES) and doc["mode"] == "detector"
    assert "Seen" in (out / "ap_table.txt").read_text()
    assert (out / "precision_at_k.png").stat().st_size > 1000
    assert set(report.timings) >= {"read", "detect", "evaluate"}


def test_bag_contents_and_anyreader_with_stored_definitions(work, evaluated):
    """A plain Kilted typestore + the definitions stored in the bag decode every message."""
    bag = work["base"] / "with_grasps"
    seen: dict[str, list] = {}
    with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        types = {c.topic: c.msgtype for c in reader.connections}
        for c, _t, raw in reader.messages():
            seen.setdefault(c.topic, []).append(reader.deserialize(raw, c.msgtype))
    topics = BagTopics()
    assert types[topics.identity] == "graspnet_ros/msg/DatasetFrame"
    assert types[DEFAULT_GRASPS_TOPIC] == "graspnet_ros/msg/GraspArray"
    assert [(m.scene_id, m.camera, m.ann_id) for m in seen[topics.identity]] == [(SCENE, CAMERA, a) for a in FRAMES]
    depth = seen[topics.depth][0]
    assert depth.encoding == "16UC1" and depth.step == 2 * depth.width
    ds = GraspNetDataset(work["root"], CAMERA)
    f = ds.frame(SCENE, 0)
    mm = depth.data.view("<u2").reshape(depth.height, depth.width)
    np.testing.assert_array_equal(mm, np.rint(f.depth * 1000).astype(np.uint16))
    tf = seen[topics.tf][0].transforms[0]
    assert tf.header.frame_id == "table"
    np.testing.assert_allclose([tf.transform.translation.x, tf.transform.translation.y,
                                tf.transform.translation.z], f.table_pose[:3, 3], atol=1e-9)
    assert len(seen[topics.cloud]) == len(FRAMES)
    grasps = seen[DEFAULT_GRASPS_TOPIC]
    assert [g.header.stamp for g in grasps] == [m.header.stamp for m in seen[topics.identity]]
    assert [len(g.grasps) for g in grasps] == [d["num_input"] for d in evaluated["mcap"].frames]


def test_recorded_grasps_mode_evaluates_without_the_detector(work, evaluated):
    out = work["base"] / "ev_mode2"
    # a detector config that does not exist: mode 2 must never build the detector
    report = evaluate_bag(EvaluateBagOptions(work["base"] / "with_grasps", work["root"], out=out,
                                             grasps_topic=DEFAULT_GRASPS_TOPIC,
                                             detector_config=Path("/nonexistent/detector.yaml"), plot=False),
                          log=lambda _m: None)
    assert json.loads((out / "results.json").read_text())["mode"] == "recorded grasps"
    first = {d["ann_id"]: d for d in evaluated["mcap"].frames}
    assert [d["ann_id"] for d in report.frames] == list(FRAMES)
    for d in report.frames:  # grasps went through float32 message fields
        assert d["ap"] == pytest.approx(first[d["ann_id"]]["ap"], abs=0.02)
        assert d["num_input"] == first[d["ann_id"]]["num_input"]
    # at half the recorded rate, frames 0.1 s apart are dispatched 0.2 s apart
    paced = evaluate_bag(EvaluateBagOptions(work["base"] / "with_grasps", work["root"], out=out, plot=False,
                                            grasps_topic=DEFAULT_GRASPS_TOPIC, rate=0.5), log=lambda _m: None)
    assert paced.timings["total"] >= 0.2 and len(paced.frames) == len(FRAMES)
    with pytest.raises(FileNotFoundError, match="nonexistent"):
        evaluate_bag(EvaluateBagOptions(work["bags"]["sqlite3"], work["root"], out=out,
                                        detector_config=Path("/nonexistent/detector.yaml")))


def test_missing_identity_and_bad_depth_are_skipped_with_reasons(work, evaluated):
    topics = BagTopics()
    first_stamp = {}

    def edit(topic, msg):
        st = msg.transforms[0].header.stamp if topic == topics.tf else msg.header.stamp
        stamp = (st.sec, st.nanosec)
        first_stamp.setdefault("s", stamp)
        if stamp != first_stamp["s"]:
            return msg
        if topic == topics.identity:
            return None  # frame 0 loses its identity
        return msg

    no_id = work["base"] / "no_identity"
    copy_bag(work["base"] / "with_grasps", no_id, edit)
    report = evaluate_bag(EvaluateBagOptions(no_id, work["root"], out=work["base"] / "ev_no_id",
                                             grasps_topic=DEFAULT_GRASPS_TOPIC, plot=False), log=lambda _m: None)
    assert [d["ann_id"] for d in report.frames] == [FRAMES[1]]
    assert dict(report.skipped.counts) == {"no DatasetFrame identity message": 1}
    doc = json.loads((work["base"] / "ev_no_id" / "results.json").read_text())
    assert doc["skipped"]["reasons"] == {"no DatasetFrame identity message": 1}

    def wrong_scene(topic, msg):
        if topic == topics.identity and (msg.header.stamp.sec, msg.header.stamp.nanosec) == first_stamp["s"]:
            msg.scene_id = 999  # no such scene in the root
        return msg

    wrong = work["base"] / "wrong_identity"
    copy_bag(work["base"] / "with_grasps", wrong, wrong_scene)
    report = evaluate_bag(EvaluateBagOptions(wrong, work["root"], out=work["base"] / "ev_wrong",
                                             grasps_topic=DEFAULT_GRASPS_TOPIC, plot=False), log=lambda _m: None)
    assert [d["ann_id"] for d in report.frames] == [FRAMES[1]]
    assert dict(report.skipped.counts) == {"identity not in the dataset": 1}

    def bad_depth(topic, msg):
        if topic == topics.depth and (msg.header.stamp.sec, msg.header.stamp.nanosec) == first_stamp["s"]:
            msg.encoding = "rgb8"
        return msg

    bad = work["base"] / "bad_depth"
    copy_bag(work["bags"]["sqlite3"], bad, bad_depth)
    skipped = SkipCounter()
    frames = list(read_bag_frames(bad, skipped=skipped))
    assert [f.identity.ann_id for f in frames] == [FRAMES[1]]
    (reason,) = skipped.counts
    assert "rgb8" in reason and "16UC1" in reason


def test_missing_topic_missing_and_truncated_bag_give_clear_errors(work, tmp_path):
    with pytest.raises(ValueError, match=r"no topic\(s\) \['/nope'\].*/graspnet/dataset_frame"):
        list(read_bag_frames(work["bags"]["sqlite3"], grasps_topic="/nope", need=("grasps",)))
    with pytest.raises(FileNotFoundError, match="bag not found"):
        open_bag(tmp_path / "absent")
    for storage, suffix in (("mcap", ".mcap"), ("sqlite3", ".db3")):
        src = work["bags"][storage]
        cut = tmp_path / f"cut_{storage}"
        cut.mkdir()
        for p in src.iterdir():
            data = p.read_bytes()
            (cut / p.name).write_bytes(data[: len(data) // 3] if p.suffix == suffix else data)
        name = next(p.name for p in cut.iterdir() if p.suffix == suffix)
        with pytest.raises(ValueError, match=f"cannot read bag .*{name}.*truncated"):
            list(read_bag_frames(cut))


def test_every_n_and_time_window(work):
    bag = work["bags"]["sqlite3"]
    assert [f.identity.ann_id for f in read_bag_frames(bag, every_n=2)] == [FRAMES[0]]
    assert [f.identity.ann_id for f in read_bag_frames(bag, start=0.05)] == [FRAMES[1]]
    assert [f.identity.ann_id for f in read_bag_frames(bag, end=0.05)] == [FRAMES[0]]


def test_node_executable_over_rclpy_with_parameters(work, evaluated):
    out = work["base"] / "ev_node"
    cmd = [sys.executable, str(REPO / "scripts" / "ros" / "evaluate_bag"), "--ros-args",
           "-p", f"bag:={work['base'] / 'with_grasps'}", "-p", f"dataset_root:={work['root']}",
           "-p", f"grasps_topic:={DEFAULT_GRASPS_TOPIC}", "-p", f"out:={out}", "-p", "every_n:=2",
           "-p", "plot:=false"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["frames_evaluated"] == 1 and doc["mode"] == "recorded grasps"
    assert "AP" in proc.stderr + proc.stdout
    bad = subprocess.run(cmd[:3] + ["-p", "bag:=/nonexistent/bag", "-p", f"dataset_root:={work['root']}"],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert bad.returncode == 2 and "bag not found: /nonexistent/bag" in bad.stderr + bad.stdout


def test_cli_bag_from_dataset_and_evaluate_bag(work, capsys):
    from graspnet_ros.cli import main

    bag, out = work["base"] / "cli_bag", work["base"] / "ev_cli"
    args = ["bag", "from-dataset", "--root", str(work["root"]), "--scenes", "130", "--frames", "0",
            "--camera", CAMERA, "--out", str(bag), "--storage", "sqlite3"]
    assert main(args) == 0
    assert main(args) == 2 and "already exists" in capsys.readouterr().err
    assert main(["evaluate-bag", "--bag", str(bag), "--root", str(work["root"]), "--out", str(out),
                 "--no-plot", "--set", "max_grasps=10"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["detector"]["max_grasps"] == 10 and doc["frames_evaluated"] == 1
    assert doc["frames"]["130"][0]["num_input"] <= 10 and "similar" in doc["splits"]


def test_offline_detector_pipeline_is_built_without_ros():
    """evaluate_bag's detector comes from the node's parameter table and YAML without importing rclpy."""
    code = ("import sys\n"
            "from graspnet_ros.offline.evaluate_bag import build_pipeline, detector_params\n"
            "p = detector_params(overrides={'max_grasps': 7})\n"
            "pipe = build_pipeline(p)\n"
            "assert p['max_grasps'] == 7 and pipe.config.max_grasps == 7, (p['max_grasps'], pipe.config)\n"
            "print('rclpy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def small_mcap(path: Path, n: int = 200) -> Path:
    """A small mcap bag (std_msgs/String) written by rosbags, which stores zero CRCs."""
    ts = get_typestore(Stores.ROS2_KILTED)
    String = ts.types["std_msgs/msg/String"]
    with Writer(path, version=9, storage_plugin=storage_plugin("mcap")) as w:
        c = w.add_connection("/chatter", "std_msgs/msg/String", typestore=ts)
        for i in range(n):
            w.write(c, 1_000 + i, ts.serialize_cdr(String(data=f"message {i:04d} " + "x" * 200), c.msgtype))
    return path


def test_mcap_crcs_are_written_and_verified(tmp_path):
    bag = small_mcap(tmp_path / "bag")
    assert verify_bag(bag) == 0  # rosbags alone writes no CRC
    assert seal_bag(bag) >= 3  # chunk(s), data section, summary
    assert verify_bag(bag) >= 3
    with AnyReader([bag]) as reader:  # still a valid mcap for other readers
        assert sum(1 for _ in reader.messages()) == 200
    mcap = next(bag.glob("*.mcap"))
    data = np.frombuffer(mcap.read_bytes(), np.uint8).copy()
    at = np.random.default_rng(0).choice(np.arange(2000, len(data) // 2), size=20, replace=False)
    data[at] ^= 0x55  # flipped bytes inside the message data
    mcap.write_bytes(data.tobytes())
    with pytest.raises(ValueError, match="CRC mismatch in the chunk"):
        verify_bag(bag)
    with pytest.raises(ValueError, match="cannot read bag .*CRC mismatch.*corrupt"):
        open_bag(bag)


def test_dataset_bags_carry_crcs_and_a_corrupt_one_is_refused(work, tmp_path):
    src = work["bags"]["mcap"]
    assert verify_bag(src) >= 3
    bad = tmp_path / "flipped"
    bad.mkdir()
    for p in src.iterdir():
        data = bytearray(p.read_bytes())
        if p.suffix == ".mcap":  # 2,000 flipped bytes in the middle of the data (images)
            mid = len(data) // 2
            data[mid:mid + 2000] = bytes(b ^ 0xFF for b in data[mid:mid + 2000])
        (bad / p.name).write_bytes(bytes(data))
    with pytest.raises(ValueError, match="CRC mismatch"):
        list(read_bag_frames(bad))
