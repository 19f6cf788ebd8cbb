"""Camera + live grasp detection (+ RViz) on a ROS 2 install.

    ros2 launch graspnet_ros grasp.launch.py                       # synthetic camera
    ros2 launch graspnet_ros grasp.launch.py camera_source:=realsense rviz:=false
    ros2 launch graspnet_ros grasp.launch.py checkpoint:=/path/to/model.tar

Starts ``camera_node`` (namespace ``camera``) and ``grasp_detector_node`` with
the YAML files in ``config/`` (override them with ``camera_config:=`` /
``detector_config:=``), and RViz with ``config/grasp.rviz``. The same nodes,
files and overrides run without a ROS CLI through ``graspnet-ros launch``.
The module-level tables below name every executable and file this launch
file uses (the tests check them without needing ``launch_ros``).
"""

PACKAGE = "graspnet_ros"
CAMERA_NAMESPACE = "camera"
#: node name -> (executable, namespace, parameter file in config/)
NODES = {
    "camera_node": ("camera_node", CAMERA_NAMESPACE, "camera_node.yaml"),
    "grasp_detector_node": ("grasp_detector_node", "", "grasp_detector_node.yaml"),
}
RVIZ_CONFIG = "grasp.rviz"
#: launch argument -> (default, description); '' defaults to files are filled in from the share dir
ARGUMENTS = {
    "camera_source": ("synthetic", "Camera source: synthetic | realsense | kinect | dataset."),
    "camera_model": ("realsense", "Synthetic camera intrinsics: realsense | kinect."),
    "camera_config": ("", "camera_node parameter file (default: config/camera_node.yaml)."),
    "detector_config": ("", "grasp_detector_node parameter file (default: config/grasp_detector_node.yaml)."),
    "checkpoint": ("", "Network checkpoint ('' = model-free detector)."),
    "rviz": ("true", "Start RViz with config/grasp.rviz."),
}


def generate_launch_description():
    import os

    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    config = os.path.join(get_package_share_directory(PACKAGE), "config")
    defaults = {"camera_config": os.path.join(config, NODES["camera_node"][2]),
                "detector_config": os.path.join(config, NODES["grasp_detector_node"][2])}
    args = [DeclareLaunchArgument(name, default_value=defaults.get(name, default), description=desc)
            for name, (default, desc) in ARGUMENTS.items()]
    arg = LaunchConfiguration
    cam_exe, cam_ns, _ = NODES["camera_node"]
    det_exe, det_ns, _ = NODES["grasp_detector_node"]
    camera = Node(package=PACKAGE, executable=cam_exe, name="camera_node", namespace=cam_ns,
                  output="screen",
                  parameters=[arg("camera_config"),
                              {"source": arg("camera_source"), "camera_model": arg("camera_model")}])
    detector = Node(package=PACKAGE, executable=det_exe, name="grasp_detector_node", namespace=det_ns,
                    output="screen",
                    parameters=[arg("detector_config"), {"checkpoint": arg("checkpoint")}])
    rviz = Node(package="rviz2", executable="rviz2", name="rviz2", output="log",
                arguments=["-d", os.path.join(config, RVIZ_CONFIG)], condition=IfCondition(arg("rviz")))
    return LaunchDescription(args + [camera, detector, rviz])
