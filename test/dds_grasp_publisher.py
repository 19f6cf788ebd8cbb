"""Child process of test_messages_dds.py: publish one GraspArray repeatedly.

    python dds_grasp_publisher.py TOPIC GRASPS.npy TOLERANCES.npy FRAME_ID SEC NANOSEC

Publishes every 0.1 s until SIGTERM/SIGINT or for 60 s at most. Uses the ROS
settings of its environment (ROS_DOMAIN_ID, ROS_AUTOMATIC_DISCOVERY_RANGE).
"""

import sys
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Time

from graspnet_ros.grasp import GraspGroup
from graspnet_ros.nodes.conversions import grasp_group_to_msg


def main(argv: list[str]) -> None:
    topic, grasps_path, tol_path, frame_id, sec, nanosec = argv
    grasps = GraspGroup.load(grasps_path, frame_id=frame_id)
    msg = grasp_group_to_msg(grasps, Time(sec=int(sec), nanosec=int(nanosec)), np.load(tol_path))
    rclpy.init()
    node = rclpy.create_node("graspnet_test_publisher")
    try:
        pub = node.create_publisher(type(msg), topic, 10)
        deadline = time.monotonic() + 60.0
        while rclpy.ok() and time.monotonic() < deadline:
            pub.publish(msg)
            time.sleep(0.1)
    except Exception:  # SIGTERM shut the context down between ok() and publish()
        if rclpy.ok():
            raise
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
