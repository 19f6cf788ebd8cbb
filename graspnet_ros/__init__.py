"""graspnet_ros: GraspNet-1Billion grasp detection, evaluation and execution for ROS 2.

The core modules (grasp, gripper, force_closure, nms, ...) never import
rclpy; ROS adapters live in ``graspnet_ros.nodes``.
"""

# The rosidl-generated ``graspnet_ros.msg`` may be installed in another
# directory of sys.path than this source tree (pip environments build it into
# the virtualenv); extend the package path so both halves import as one.
import os
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

# PyTorch's and Open3D's OpenMP threads spin for a while after each parallel region; on a
# machine with few cores the spinning threads of one library steal the cores the next stage
# needs (the detection pipeline alternates torch, Open3D and numpy: bench/bench_pipeline.py,
# network with segmentation 176 -> 122 ms on 2 cores). Passive waiting avoids it; it only
# takes effect when set before the first OpenMP runtime loads (scripts/run.sh exports it for
# processes that load torch first), and a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
