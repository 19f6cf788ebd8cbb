"""rclpy adapters of graspnet_ros: one node per module, plus message conversions.

Everything here is a thin translation between ROS messages and the ROS-free
core (:mod:`graspnet_ros.grasp` and friends). Only this subpackage imports
rclpy and the generated ``graspnet_ros.msg`` types; those are built from
``msg/`` by colcon on a ROS install, or by ``scripts/build_interfaces.sh`` in
a pip environment.

Imports (graspnet_ros): any core package; nothing in the core imports nodes/.
"""
