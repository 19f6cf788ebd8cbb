"""Build a camera from a source name and a flat settings mapping (ROS parameters, YAML)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .base import Camera

__all__ = ["SOURCES", "make_camera"]

SOURCES = ("synthetic", "realsense", "kinect", "dataset")


def make_camera(source: str, settings: Mapping[str, Any], frame_id: str,
                T_world_optical: np.ndarray | None = None) -> Camera:
    """A closed camera of ``source`` configured from ``settings``.

    settings keys are the camera node's parameter names (``synthetic.scale``,
    ``realsense.playback``, ...; see docs/nodes.md); missing keys take the
    camera's defaults. T_world_optical places the synthetic camera in its
    scene (the mount pose).
    """
    s = dict(settings)
    if source == "synthetic":
        from .synthetic import SyntheticCamera

        num_objects, seed = int(s.get("synthetic.num_objects", 5)), int(s.get("synthetic.seed", 0))
        kind = str(s.get("synthetic.scene", "generator"))
        if kind == "generator":  # settled objects from the package's dataset generator
            from .simulated import DatasetScene

            scene = DatasetScene(num_objects, seed) if num_objects > 0 else None
        elif kind == "boxes":  # boxes and cylinders, no physics: fastest start
            scene = None
        else:
            raise ValueError(f"unknown synthetic.scene '{kind}'; use generator or boxes")
        return SyntheticCamera(model=s.get("camera_model", "realsense"),
                               scale=float(s.get("synthetic.scale", 0.5)),
                               T_world_optical=T_world_optical,
                               num_objects=num_objects, seed=seed,
                               depth_noise=float(s.get("synthetic.depth_noise", 0.0)),
                               noise=str(s.get("synthetic.noise", "simple")),
                               frame_id=frame_id, scene=scene)
    if source == "realsense":
        from .realsense import RealSenseCamera

        return RealSenseCamera(serial=str(s.get("realsense.serial", "")),
                               playback=str(s.get("realsense.playback", "")) or None,
                               width=int(s.get("realsense.width", 1280)),
                               height=int(s.get("realsense.height", 720)),
                               fps=int(s.get("realsense.fps", 30)),
                               realtime=bool(s.get("realsense.realtime", False)),
                               loop=bool(s.get("realsense.loop", True)), frame_id=frame_id)
    if source == "kinect":
        from .kinect import KinectCamera

        return KinectCamera(device_index=int(s.get("kinect.device_index", 0)),
                            playback=str(s.get("kinect.playback", "")) or None,
                            loop=bool(s.get("kinect.loop", True)), frame_id=frame_id)
    if source == "dataset":
        from .dataset import DatasetCamera

        scenes = [int(x) for x in (s.get("dataset.scenes") or [])]
        return DatasetCamera(str(s.get("dataset.root", "")), camera=str(s.get("dataset.camera", "realsense")),
                             scene_ids=scenes or None, loop=bool(s.get("dataset.loop", True)),
                             frame_id=frame_id)
    raise ValueError(f"unknown camera source '{source}'; use one of {SOURCES}")
