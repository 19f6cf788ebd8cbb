"""graspnet_ros/GraspArray over real DDS between two processes (loopback only).

A child process (test/dds_grasp_publisher.py, same interpreter, same
ROS_DOMAIN_ID and ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST from conftest.py)
publishes; this process subscribes and compares what arrives.
"""

import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

import graspnet_ros
from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes.conversions import msg_to_grasp_group, msg_to_tolerances
from grasp_samples import F32_RTOL, assert_same_grasps, make_grasps

HERE = Path(__file__).resolve().parent
TIMEOUT = 20.0  # s; discovery is usually 60 ms but can take seconds


@pytest.fixture
def node():
    """A node in its own Context, spun by an executor in a daemon thread."""
    ctx = Context()
    rclpy.init(context=ctx, domain_id=int(os.environ["ROS_DOMAIN_ID"]))
    node = Node(f"graspnet_test_listener_{uuid.uuid4().hex[:8]}", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield node
    finally:
        executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        thread.join(timeout=5.0)


def start_publisher(tmp_path: Path, topic: str, grasps, tolerances, stamp) -> subprocess.Popen:
    """Run dds_grasp_publisher.py with the same interpreter and ROS settings."""
    grasps.save(tmp_path / "grasps.npy")
    np.save(tmp_path / "tol.npy", tolerances)
    env = os.environ.copy()  # ROS_DOMAIN_ID, discovery range, log dir from conftest
    # the child must import this very graspnet_ros (source tree or install space)
    package_root = str(Path(graspnet_ros.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, str(HERE / "dds_grasp_publisher.py"), topic,
           str(tmp_path / "grasps.npy"), str(tmp_path / "tol.npy"), grasps.frame_id,
           str(stamp[0]), str(stamp[1])]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> str:
    """Terminate the child and return its output."""
    if proc.poll() is None:
        proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")


@pytest.mark.parametrize("n", [40, 0])
def test_grasp_array_crosses_processes(node, tmp_path, n):
    sent = make_grasps(n, seed=7, frame_id="camera_depth_optical_frame")
    tolerances = np.linspace(0.0, 0.015, n)
    topic = f"/graspnet_test/grasps_{uuid.uuid4().hex[:8]}"
    received: list[GraspArray] = []
    arrived = threading.Event()

    def on_msg(msg: GraspArray) -> None:
        received.append(msg)
        arrived.set()

    node.create_subscription(GraspArray, topic, on_msg, 10)
    proc = start_publisher(tmp_path, topic, sent, tolerances, (1700000000, 123456789))
    try:
        ok = arrived.wait(TIMEOUT)
    finally:
        output = stop(proc)
    assert ok, f"no GraspArray within {TIMEOUT} s; publisher output:\n{output}"

    msg = received[0]
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1700000000, 123456789)
    assert len(msg.grasps) == n
    assert_same_grasps(msg_to_grasp_group(msg), sent)
    np.testing.assert_allclose(msg_to_tolerances(msg), tolerances, rtol=F32_RTOL)
