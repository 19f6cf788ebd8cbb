"""Live grasp detection without ROS: cloud preparation, detector protocol, latest-frame-wins.

The rclpy nodes in :mod:`graspnet_ros.nodes` are adapters over this package:

* :mod:`.cloud`: finite-point filtering, workspace crop, voxel downsample;
* :mod:`.detectors`: the ``Detector`` protocol, the adapter to the network
  (:mod:`graspnet_ros.model`) and :func:`make_detector`;
* :mod:`.baseline`: the model-free antipodal detector (no torch);
* :mod:`.collision`: the collision stage every detector's grasps pass;
* :mod:`.runner`: :class:`DetectionPipeline` (prepare, detect, NMS, top-k, timings);
* :mod:`.latest`: :class:`LatestSlot`, a one-element mailbox so a slow
  detector never builds a queue;
* :mod:`.online`: :class:`~.online.OnlineDetector`, detection on a stream (one at a
  time, multi-view fusion, the log line, the stream's health) as grasp_detector_node runs it;
* :mod:`.detector_params`: grasp_detector_node's parameter table and the pipeline it builds.

Imports (graspnet_ros): _native, calibration, cameras (geometry), grasp, gripper, model (the network, imported
lazily), params, workspace.
"""
