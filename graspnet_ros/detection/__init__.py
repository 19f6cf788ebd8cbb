"""Live grasp detection without ROS: cloud preparation, detector protocol, latest-frame-wins.

The rclpy nodes in :mod:`graspnet_ros.nodes` are adapters over this package:

* :mod:`.cloud`: finite-point filtering, workspace crop, voxel downsample;
* :mod:`.detectors`: the ``Detector`` protocol, the adapter to the network
  (:mod:`graspnet_ros.model`) and :func:`make_detector`;
* :mod:`.geometric`: a model-free detector on the cloud itself (normals,
  antipodal contacts, friction labels, the benchmark gripper's collision check);
* :mod:`.runner`: :class:`DetectionPipeline` (prepare, detect, NMS, top-k, timings);
* :mod:`.latest`: :class:`LatestSlot`, a one-element mailbox so a slow
  detector never builds a queue.
"""
