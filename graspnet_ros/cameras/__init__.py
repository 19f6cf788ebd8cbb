"""Cameras behind one protocol (:mod:`.base`): synthetic, RealSense, Azure Kinect, dataset replay.

ROS-free: the camera node (:mod:`graspnet_ros.nodes.camera_node`) turns
:class:`~.base.CameraFrame` objects into messages. Build one with
:func:`.factory.make_camera`; :mod:`.stream` keeps one streaming (open with
retries, reopen after a lost device) and :mod:`.camera_params` is the camera
node's parameter table.

Imports (graspnet_ros): _native, calibration, dataset, params, robot, views.
"""

from .base import (CAMERA_MODELS, Camera, CameraError, CameraFrame, CameraIntrinsics, DeviceLost,
                   EndOfStream, camera_model)

__all__ = ["CAMERA_MODELS", "Camera", "CameraError", "CameraFrame", "CameraIntrinsics", "DeviceLost",
           "EndOfStream", "camera_model"]
