"""Real-arm drivers: thin adapters over the vendors' Python SDKs.

Each module imports its SDK only when a driver object is created, so the
package works without them; a missing SDK raises ImportError naming the pip
package to install. None of these adapters can be tested without the robot:
the test suite exercises the same :class:`~graspnet_ros.robot.base.Arm`
protocol through the MuJoCo simulator instead.
"""
