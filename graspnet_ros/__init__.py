"""graspnet_ros: GraspNet-1Billion grasp detection, evaluation and execution for ROS 2.

The core modules (grasp, gripper, force_closure, nms, ...) never import
rclpy; ROS adapters live in ``graspnet_ros.nodes``.
"""

# The rosidl-generated ``graspnet_ros.msg`` may be installed in another
# directory of sys.path than this source tree (pip environments build it into
# the virtualenv); extend the package path so both halves import as one.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
