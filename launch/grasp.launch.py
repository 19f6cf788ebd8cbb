"""Camera + live grasp detection (+ RViz) on a ROS 2 install.

    ros2 launch graspnet_ros grasp.launch.py                          # synthetic camera, RViz
    ros2 launch graspnet_ros grasp.launch.py rviz:=false
    ros2 launch graspnet_ros grasp.launch.py camera:=realsense        # realsense2_camera 4.x topics
    ros2 launch graspnet_ros grasp.launch.py camera:=kinect           # Azure Kinect ROS driver topics
    ros2 launch graspnet_ros grasp.launch.py camera:=topics cloud_topic:=/my/points
    ros2 launch graspnet_ros grasp.launch.py checkpoint:=shipped

``camera:=synthetic`` (default) starts this package's ``camera_node``
(namespace ``camera``; ``camera_source:=`` picks its source: the synthetic
scene, or a RealSense / Azure Kinect / dataset read through the SDKs).
``camera:=realsense`` / ``camera:=kinect`` start no camera: the detector
subscribes to what the vendor's ROS driver publishes (started separately;
table: ``graspnet_ros.cameras.ros_drivers``). ``camera:=topics`` takes the
topics from the ``cloud_topic`` / ``depth_topic`` / ``camera_info_topic``
arguments (or the detector's parameter file). The nodes read the YAML files
in ``config/`` (override them with ``camera_config:=`` / ``detector_config:=``).
RViz starts with ``config/grasp.rviz`` when ``rviz:=true`` and rviz2 is
installed; without rviz2 one line says so and the rest runs. The same nodes
and files run without a ROS CLI through ``graspnet-ros launch``. The
module-level tables below name every executable and file this launch file
uses (the tests check them without needing ``launch_ros``).
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
    "camera": ("synthetic", "Input convention: synthetic (this package's camera_node) | realsense "
               "(realsense2_camera 4.x topics) | kinect (Azure Kinect ROS driver topics) | topics "
               "(cloud_topic / depth_topic / camera_info_topic)."),
    "camera_source": ("synthetic", "camera:=synthetic only: camera_node source, synthetic | realsense | "
                      "kinect | dataset."),
    "camera_model": ("realsense", "Synthetic camera intrinsics: realsense | kinect."),
    "camera_config": ("", "camera_node parameter file (default: config/camera_node.yaml)."),
    "detector_config": ("", "grasp_detector_node parameter file (default: config/grasp_detector_node.yaml)."),
    "input": ("cloud", "Detector input: cloud (PointCloud2) or depth (aligned depth Image + CameraInfo)."),
    "input_qos": ("auto", "Detector input QoS: auto (best effort when the publisher is, else reliable) | "
                  "sensor_data (best effort) | reliable."),
    "cloud_topic": ("", "camera:=topics: PointCloud2 topic ('' = the detector_config's)."),
    "depth_topic": ("", "camera:=topics: depth Image topic ('' = the detector_config's)."),
    "camera_info_topic": ("", "camera:=topics: CameraInfo topic ('' = the detector_config's)."),
    "checkpoint": ("", "Network checkpoint ('' = model-free detector, shipped = the package's network)."),
    "rviz": ("true", "Start RViz with config/grasp.rviz (skipped, with one log line, if rviz2 is missing)."),
}


def rviz_available() -> bool:
    """True when the ``rviz2`` package is on the ament index (a ROS install with RViz)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        get_package_prefix("rviz2")
    except PackageNotFoundError:
        return False
    return True


def _nodes(context, config: str):
    """The launch's actions once its arguments are known (OpaqueFunction)."""
    import os

    from launch.actions import LogInfo
    from launch_ros.actions import Node

    from graspnet_ros.cameras.ros_drivers import CAMERA_CHOICES, driver_topics

    def arg(name: str) -> str:
        return context.launch_configurations[name]

    camera = arg("camera")
    if camera not in CAMERA_CHOICES:
        raise ValueError(f"camera:={camera} is not one of {' | '.join(CAMERA_CHOICES)}")
    actions = []
    det_params: dict = {"input": arg("input"), "input_qos": arg("input_qos")}
    if arg("checkpoint"):
        det_params["checkpoint"] = arg("checkpoint")
    if camera == "topics":
        det_params.update({k: arg(k) for k in ("cloud_topic", "depth_topic", "camera_info_topic") if arg(k)})
    else:
        det_params.update(driver_topics(camera).detector_parameters())
    if camera == "synthetic":
        cam_exe, cam_ns, _ = NODES["camera_node"]
        actions.append(Node(package=PACKAGE, executable=cam_exe, name="camera_node", namespace=cam_ns,
                            output="screen",
                            parameters=[arg("camera_config"),
                                        {"source": arg("camera_source"), "camera_model": arg("camera_model")}]))
    else:
        topic = det_params.get("cloud_topic") or det_params.get("depth_topic") or "its configured topics"
        actions.append(LogInfo(msg=f"camera:={camera}: no camera started; the detector listens on {topic}"))
    det_exe, det_ns, _ = NODES["grasp_detector_node"]
    actions.append(Node(package=PACKAGE, executable=det_exe, name="grasp_detector_node", namespace=det_ns,
                        output="screen", parameters=[arg("detector_config"), det_params]))
    if arg("rviz").lower() in ("true", "1", "yes"):
        if rviz_available():
            actions.append(Node(package="rviz2", executable="rviz2", name="rviz2", output="log",
                                arguments=["-d", os.path.join(config, RVIZ_CONFIG)]))
        else:
            distro = os.environ.get("ROS_DISTRO", "<distro>")
            actions.append(LogInfo(msg=f"rviz:=true but rviz2 is not installed (apt install "
                                       f"ros-{distro}-rviz2); running without RViz"))
    return actions


def generate_launch_description():
    import os

    from ament_index_python.packages import get_package_share_directory
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    config = os.path.join(get_package_share_directory(PACKAGE), "config")
    defaults = {"camera_config": os.path.join(config, NODES["camera_node"][2]),
                "detector_config": os.path.join(config, NODES["grasp_detector_node"][2])}
    args = [DeclareLaunchArgument(name, default_value=defaults.get(name, default), description=desc)
            for name, (default, desc) in ARGUMENTS.items()]
    return LaunchDescription(args + [OpaqueFunction(function=_nodes, args=[config])])
