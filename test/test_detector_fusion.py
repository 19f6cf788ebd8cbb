"""Multi-view fusion in the detector: the ROS-free accumulator and TF tree, and grasp_detector_node
with fusion.views > 1 placing each cloud by TF at its own stamp (real DDS, loopback)."""

from __future__ import annotations

import numpy as np
import pytest
from ros_helpers import wait_for
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import PointCloud2

from graspnet_ros.msg import GraspArray
from graspnet_ros.nodes import conversions as cv
from graspnet_ros.detection.accumulate import ViewAccumulator
from graspnet_ros.pose_history import TransformTree

FRAME = "camera_color_optical_frame"


def pose(rotvec, t) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix()
    T[:3, 3] = t
    return T


def looking_down(x: float, y: float, height: float) -> np.ndarray:
    """T_base<-optical of a camera ``height`` m above (x, y, 0), optical z down."""
    return np.array([[1.0, 0, 0, x], [0, -1, 0, y], [0, 0, -1, height], [0, 0, 0, 1]])


def transform(points: np.ndarray, T: np.ndarray) -> np.ndarray:
    return points @ T[:3, :3].T + T[:3, 3]


def grid(x0: float, x1: float, y0: float, y1: float, step: float = 0.004) -> np.ndarray:
    xs, ys = np.meshgrid(np.arange(x0, x1, step), np.arange(y0, y1, step))
    return np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=1)


# -- ROS-free ---------------------------------------------------------------------------

def test_accumulator_merges_the_last_views_in_the_newest_frame():
    rng = np.random.default_rng(0)
    base_points = rng.uniform(-0.2, 0.2, (4, 300, 3))
    cams = [pose(rng.normal(scale=0.5, size=3), rng.normal(scale=0.3, size=3)) for _ in range(4)]
    acc = ViewAccumulator(views=3, max_age=5.0)
    for k, (pts, T) in enumerate(zip(base_points, cams)):
        in_cam = transform(pts, np.linalg.inv(T))
        in_cam[::7] = np.nan  # pixels without depth are dropped
        acc.add(in_cam, T, stamp=10.0 + k)
    fused, stamp = acc.fused()
    assert stamp == 13.0 and len(acc) == 3
    expected = np.concatenate([transform(p[np.arange(300) % 7 != 0], np.linalg.inv(cams[3])) for p in base_points[1:]])
    np.testing.assert_allclose(np.sort(fused, axis=0), np.sort(expected, axis=0), atol=1e-5)
    acc.add(transform(base_points[2], np.linalg.inv(cams[2])), cams[2], stamp=13.0)  # view 3 delivered again
    assert len(acc) == 3 and acc.fused()[1] == 13.0  # it replaced the view stamped 13.0, now in cams[2]'s frame
    kept = np.arange(300) % 7 != 0
    again = np.concatenate([base_points[1][kept], base_points[2][kept], base_points[2]])
    np.testing.assert_allclose(np.sort(acc.fused()[0], axis=0),
                               np.sort(transform(again, np.linalg.inv(cams[2])), axis=0), atol=1e-5)
    acc.add(transform(base_points[0], np.linalg.inv(cams[0])), cams[0], stamp=30.0)  # 17 s later
    assert len(acc) == 1  # the others are older than max_age
    with pytest.raises(ValueError, match="rotation"):
        acc.add(base_points[0], np.diag([1.0, 1.0, -1.0, 1.0]), 31.0)


def test_transform_tree_composes_the_chain_at_the_stamp():
    tree = TransformTree()
    X = pose([0.1, -0.2, 1.5], [0.03, -0.06, 0.05])  # T_tool0<-camera, static
    A, B = pose([0.0, 0.3, 0.0], [0.4, 0.1, 0.5]), pose([0.2, 0.0, 0.1], [0.2, -0.1, 0.6])  # T_base<-tool0
    tree.set("tool0", FRAME, 0.0, X, static=True)
    tree.set("base_link", "tool0", 100.0, A)
    tree.set("base_link", "tool0", 101.0, B)
    np.testing.assert_allclose(tree.lookup("base_link", FRAME, 100.0), A @ X, atol=1e-12)
    np.testing.assert_allclose(tree.lookup("base_link", FRAME, 101.0), B @ X, atol=1e-12)
    np.testing.assert_allclose(tree.lookup(FRAME, "base_link", 101.0), np.linalg.inv(B @ X), atol=1e-12)
    mid = tree.lookup("base_link", "tool0", 100.5)
    np.testing.assert_allclose(mid[:3, 3], (A[:3, 3] + B[:3, 3]) / 2, atol=1e-12)
    with pytest.raises(ValueError, match="no pose at t = 200.000 s"):
        tree.lookup("base_link", FRAME, 200.0)
    with pytest.raises(ValueError, match="no transform from 'other' to 'base_link'"):
        tree.lookup("base_link", "other", 100.0)


# -- the node ----------------------------------------------------------------------------

def test_node_fuses_clouds_placed_by_tf_at_their_stamps(ros):
    """A wrist camera sees patch A from pose A at t = 100 s and patch B from pose B at t = 100.5 s;
    /tf holds both arm poses. The detection on the second cloud sees both patches where they are
    (patch A placed with the arm pose of ITS stamp), in the second cloud's frame and stamp."""
    from graspnet_ros.nodes.grasp_detector_node import GraspDetectorNode
    from graspnet_ros.nodes.tf import DYNAMIC_QOS, STATIC_QOS, TFMessage

    X = pose([0.0, 0.0, np.pi / 2], [0.05, 0.0, 0.02])  # T_tool0<-camera
    cam_a, cam_b = looking_down(0.05, 0.05, 0.5), looking_down(0.25, 0.05, 0.5)  # T_base<-camera
    flange_a, flange_b = cam_a @ np.linalg.inv(X), cam_b @ np.linalg.inv(X)
    patch_a, patch_b = grid(0.0, 0.1, 0.0, 0.1), grid(0.2, 0.3, 0.0, 0.1)
    grasps = ros.listen(GraspArray, "/grasps")
    node = ros.add(GraspDetectorNode(context=ros.ctx, parameter_overrides=ros.params(
        cloud_topic="/fusion_test/points", segmentation__enabled=False, fusion__views=2,
        fusion__fixed_frame="base_link", moveit__enabled=False)))
    static = ros.node.create_publisher(TFMessage, "/tf_static", STATIC_QOS)
    dynamic = ros.node.create_publisher(TFMessage, "/tf", DYNAMIC_QOS)
    static.publish(TFMessage(transforms=[cv.matrix_to_transform_stamped(X, "tool0", FRAME,
                                                                        cv.seconds_to_stamp(0.0))]))
    arm = TFMessage(transforms=[cv.matrix_to_transform_stamped(f, "base_link", "tool0", cv.seconds_to_stamp(t))
                                for f, t in ((flange_a, 100.0), (flange_b, 100.5))])
    pub = ros.node.create_publisher(PointCloud2, "/fusion_test/points", 1)
    assert wait_for(lambda: pub.get_subscription_count() > 0 and dynamic.get_subscription_count() > 0, 20.0)
    tree = node.tf_listener.tree

    def tf_ready():
        dynamic.publish(arm)
        static.publish(TFMessage(transforms=[cv.matrix_to_transform_stamped(X, "tool0", FRAME)]))
        try:
            return np.allclose(tree.lookup("base_link", FRAME, 100.0), cam_a, atol=1e-9)
        except ValueError:
            return False

    assert wait_for(tf_ready, 20.0), "the node never received the arm poses on /tf"
    cloud_a = cv.cloud_to_msg(transform(patch_a, np.linalg.inv(cam_a)).astype(np.float32), FRAME,
                              cv.seconds_to_stamp(100.0))
    cloud_b = cv.cloud_to_msg(transform(patch_b, np.linalg.inv(cam_b)).astype(np.float32), FRAME,
                              cv.seconds_to_stamp(100.5))
    assert wait_for(lambda: pub.publish(cloud_a) or node.processed >= 1, 30.0)
    # published until its result is out (a re-delivered capture replaces its view, it is not a second one)
    assert wait_for(lambda: pub.publish(cloud_b) or (grasps and grasps[-1].header.stamp.nanosec == 5 * 10**8), 60.0)
    assert grasps[-1].header.frame_id == FRAME and grasps[-1].header.stamp.sec == 100
    assert len(node.accumulator) == 2
    seen = transform(node.live.last_result.cloud.astype(np.float64), cam_b)  # the newest camera's frame -> base
    for patch in (patch_a, patch_b):
        d, _ = cKDTree(seen).query(patch)
        assert np.percentile(d, 95) < 0.005, np.percentile(d, 95)  # within the 5 mm voxels, nothing displaced
    assert cKDTree(patch_a).query(seen[seen[:, 0] < 0.15])[0].max() < 0.006

    # a frame TF does not know: refused with the reason, the node stays up
    other = cv.cloud_to_msg(transform(patch_b, np.linalg.inv(cam_b)).astype(np.float32), "other_camera",
                            cv.seconds_to_stamp(100.5))
    assert wait_for(lambda: pub.publish(other) or "no transform from 'other_camera'" in node.live.last_error, 30.0), \
        node.live.last_error
    assert "multi-view fusion needs the camera pose" in node.live.last_error
