"""Session-wide ROS 2 settings, applied before any test module imports rclpy.

All DDS traffic stays on loopback, each pytest session gets its own domain
(so parallel sessions on one machine do not hear each other) and ROS logs go
to a temporary folder. Values are forced, not defaulted: a developer's shell
settings must not let a test talk to the network.
"""

import atexit
import os
import shutil
import tempfile

import pytest

ROS_DOMAIN_ID = 1 + os.getpid() % 101  # 1..101, valid for every RMW

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_DOMAIN_ID"] = str(ROS_DOMAIN_ID)
os.environ.pop("ROS_STATIC_PEERS", None)
_log_dir = tempfile.mkdtemp(prefix="graspnet_ros_test_roslog_")
os.environ["ROS_LOG_DIR"] = _log_dir
atexit.register(shutil.rmtree, _log_dir, ignore_errors=True)


def pytest_configure(config):
    # rclpy's Node() imports rosidl_generator_py, whose lark still imports the
    # deprecated sre_parse/sre_constants modules: third-party noise.
    config.addinivalue_line("filterwarnings", "ignore:module 'sre_:DeprecationWarning")
    config.addinivalue_line("markers", "slow: tens of seconds or more (colcon build, ros2 CLI, several "
                            "processes); CI runs them, the inner loop skips them with -m 'not slow'")


@pytest.fixture
def ros():
    """A ``ros_helpers.RosHarness`` (own Context, executor spinning in a daemon thread),
    closed after the test. rclpy is imported only when a test asks for it."""
    from ros_helpers import RosHarness

    h = RosHarness()
    try:
        yield h
    finally:
        h.close()


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module (use with ``pytestmark = pytest.mark.usefixtures(...)``): two
    threads on a busy 2-core machine are several times slower than one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
