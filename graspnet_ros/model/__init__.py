"""The GraspNet-1Billion grasp network in plain PyTorch (CPU, no compiled extension).

Modules (import them directly; this package imports nothing heavy):

* ``config``      named configurations ("paper", "cpu", "reference"), label and loss settings
* ``pointops``    FPS, ball query, grouping, three-NN interpolation (+ naive twins)
* ``cylinder``    cylinder crops in the approach frame
* ``backbone``    PointNet++ SSG backbone
* ``heads``       ApproachNet, CloudCrop, OperationNet, ToleranceNet
* ``graspnet``    the full network and its per-stage output dataclasses
* ``labels``      training targets from the dataset's grasp labels
* ``losses``      paper eq. 5-8
* ``decode``      outputs -> GraspGroup (camera frame)
* ``gaf``         grasp-affinity-field re-ranking
* ``detector``    ``GraspDetector``: the network (or :mod:`graspnet_ros.detection.baseline`) with
                  preprocessing, GAF, the collision stage and NMS
* ``train``       training loop; ``checkpoint``: save/load

Imports (graspnet_ros): _native, cameras (geometry), dataset, detection, grasp, gripper, nms, views,
workspace.
"""
