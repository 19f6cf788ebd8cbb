"""End-to-end latency and sustained rate of the live grasp detector over DDS (loopback).

Prints, each with a baseline measured in the same run:
  * latency from PointCloud2 publication to GraspArray reception, with the
    detector node in a child process (scripts/ros/grasp_detector_node), vs
    (a) the same cloud's one-way DDS transport time and (b) the detection
    pipeline called in-process (no ROS);
  * sustained operation with camera_node publishing synthetic frames at
    30 Hz (child process) into the detector: camera rate seen by a
    subscriber, GraspArray rate, age of each result at reception, and how
    many camera frames the latest-frame-wins detector skipped.

Run: .venv/bin/python bench/bench_ros.py [--seconds 20] [--scale 0.5]
All traffic stays on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) in a
private domain id.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(60 + os.getpid() % 40))
os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="bench_ros_log_"))

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402

from graspnet_ros.cameras.geometry import depth_to_points  # noqa: E402
from graspnet_ros.cameras.synthetic import SyntheticCamera  # noqa: E402
from graspnet_ros.msg import GraspArray  # noqa: E402
from graspnet_ros.nodes import conversions as cv  # noqa: E402
from graspnet_ros.detection.detectors import make_detector  # noqa: E402
from graspnet_ros.detection.runner import DetectionPipeline, PipelineConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FRAME = "camera_color_optical_frame"


def child(args: list[str]) -> subprocess.Popen:
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.Popen([sys.executable, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(pred, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def stats(values) -> str:
    v = np.asarray(values) * 1000
    if len(v) == 0:
        return "n/a"
    return f"median {np.median(v):7.1f} ms  (min {v.min():.1f}, max {v.max():.1f}, n={len(v)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="sustained-rate run length")
    ap.add_argument("--scale", type=float, default=0.5, help="synthetic image scale (0.5 = 640x360)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    cam = SyntheticCamera(scale=args.scale)
    frame = cam.read()
    pts = depth_to_points(frame.depth, frame.intrinsics, organised=False)
    print(f"cloud: {len(pts)} points ({cam.intrinsics.width}x{cam.intrinsics.height} synthetic frame), "
          f"{len(pts) * 16 / 1e6:.1f} MB as PointCloud2 with rgb; domain {os.environ['ROS_DOMAIN_ID']}")

    # baseline (b): the pipeline in-process
    pipe = DetectionPipeline(make_detector("auto"), PipelineConfig())
    inproc = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        res = pipe.process(pts, FRAME)
        inproc.append(time.perf_counter() - t0)
    print(f"detector '{pipe.detector.name}': {len(res.grasps)} grasps")

    rclpy.init()
    node = Node("bench_ros")
    executor = MultiThreadedExecutor(num_threads=3)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    arrivals: dict[str, list] = {"echo": [], "grasps": [], "color": []}
    lock = threading.Lock()

    def record(kind):
        def cb(msg):
            with lock:
                arrivals[kind].append((time.time(), cv.stamp_to_seconds(msg.header.stamp),
                                       len(getattr(msg, "grasps", []))))
        return cb

    cloud_pub = node.create_publisher(PointCloud2, "/bench/points", 5)
    node.create_subscription(PointCloud2, "/bench/points", record("echo"), 5)
    node.create_subscription(GraspArray, "/grasps", record("grasps"), 50)
    node.create_subscription(Image, "/camera/color/image_raw", record("color"), 50)

    def send() -> float:
        t = time.time()
        cloud_pub.publish(cv.cloud_to_msg(pts, FRAME, t, colors=frame.rgb[frame.depth > 0]))
        return t

    # baseline (a): one-way transport of the same cloud (publisher and subscriber in this process)
    wait_for(lambda: cloud_pub.get_subscription_count() > 0, 10)
    transport = []
    for _ in range(args.repeats):
        n = len(arrivals["echo"])
        t = send()
        wait_for(lambda: len(arrivals["echo"]) > n, 10)
        transport.append(arrivals["echo"][-1][0] - t)

    # latency through the detector node in a child process (idle detector: one cloud at a time)
    det = child([str(ROOT / "scripts" / "ros" / "grasp_detector_node"), "--ros-args", "--params-file",
                 str(ROOT / "config" / "grasp_detector_node.yaml"), "-p", "cloud_topic:=/bench/points"])
    latency = []
    try:
        wait_for(lambda: cloud_pub.get_subscription_count() > 1, 60)
        for _ in range(args.repeats + 1):
            n = len(arrivals["grasps"])
            t = send()
            wait_for(lambda: len(arrivals["grasps"]) > n, 120)
            latency.append(arrivals["grasps"][-1][0] - t)
        latency = latency[1:]  # the first call warms up the detector
    finally:
        stop(det)

    print("\nlatency, cloud publication -> GraspArray reception (detector in a child process):")
    print(f"  end to end               {stats(latency)}")
    print(f"  baseline: DDS transport  {stats(transport)}  (same cloud, one way)")
    print(f"  baseline: in-process     {stats(inproc)}  (DetectionPipeline.process, no ROS)")

    # sustained: camera_node at 30 Hz -> detector
    with lock:
        for v in arrivals.values():
            v.clear()
    cam_proc = child([str(ROOT / "scripts" / "ros" / "camera_node"), "--ros-args", "--params-file",
                      str(ROOT / "config" / "camera_node.yaml"), "-p", "rate:=30.0",
                      "-p", f"synthetic.scale:={args.scale}", "-r", "__ns:=/camera"])
    det = child([str(ROOT / "scripts" / "ros" / "grasp_detector_node"), "--ros-args", "--params-file",
                 str(ROOT / "config" / "grasp_detector_node.yaml")])
    try:
        wait_for(lambda: len(arrivals["grasps"]) >= 1, 120)
        with lock:
            for v in arrivals.values():
                v.clear()
        t0 = time.time()
        time.sleep(args.seconds)
        t1 = time.time()
        with lock:
            color = [a for a in arrivals["color"] if t0 <= a[0] <= t1]
            grasps = [a for a in arrivals["grasps"] if t0 <= a[0] <= t1]
    finally:
        stop(det)
        stop(cam_proc)
    span = t1 - t0
    ages = [a[0] - a[1] for a in grasps]
    print(f"\nsustained, camera_node at 30 Hz ({args.scale:g} scale) -> grasp_detector_node, {span:.0f} s:")
    print(f"  camera frames received   {len(color) / span:6.1f} Hz  (baseline: the 30 Hz the camera is asked for)")
    print(f"  GraspArrays received     {len(grasps) / span:6.2f} Hz  ({sum(a[2] > 0 for a in grasps)} with grasps)")
    print(f"  result age at reception  {stats(ages)}  (stamp of the frame -> reception)")
    skipped = max(0, len(color) - len(grasps))
    print(f"  frames skipped (latest-frame-wins): {skipped} of {len(color)}; no queue: ages stay bounded "
          f"(first {np.mean(ages[:3]) * 1000 if ages else float('nan'):.0f} ms, "
          f"last {np.mean(ages[-3:]) * 1000 if ages else float('nan'):.0f} ms)")
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
