"""Real-arm drivers: thin adapters over the vendors' Python SDKs.

Each module imports its SDK only when a driver object is created, so the
package works without them; a missing SDK raises ImportError naming the pip
package to install. Without a robot, their motion, stop, recovery and gripper
handshake are tested against fake SDKs that reproduce the vendors' documented
behaviour (``test/fake_robot_sdks.py``, ``test/test_robot_drivers.py``); the
rest of the :class:`~graspnet_ros.robot.base.Arm` protocol runs through the
MuJoCo simulator. Neither replaces a first run on the real arm at low speed.
"""
