"""Simulated cameras over settled synthetic scenes (ray-cast with Open3D, table frame, metres).

* :class:`DatasetScene`: a :class:`~.synthetic.SceneRenderer` of a settled dataset scene
  (:mod:`graspnet_ros.dataset.synthetic.live`) for ``SyntheticCamera(scene=...)``, with the
  realistic sensor models (active stereo, time of flight).
* :class:`SimArmCamera`: a camera over a :class:`~graspnet_ros.robot.sim.SimArm`'s table that
  renders the objects where the simulation has them now.
"""

from __future__ import annotations

import time

import numpy as np

from ..dataset.synthetic.live import build_scene, default_object_ids

__all__ = ["DatasetScene", "SimArmCamera", "raycast_view"]


class DatasetScene:
    """A dataset-generator scene as a :class:`~graspnet_ros.cameras.synthetic.SceneRenderer`
    (for ``SyntheticCamera(scene=DatasetScene(...))``): settled objects, rendered
    noiseless (the camera adds its own noise). World frame = table frame."""

    def __init__(self, num_objects: int = 5, seed: int = 0, obj_ids: list[int] | None = None) -> None:
        from ..dataset.synthetic.render import SceneRaycaster

        ids = default_object_ids(num_objects, seed) if obj_ids is None else [int(i) for i in obj_ids]
        self.scene = build_scene(ids, seed)
        self._raycaster = SceneRaycaster(self.scene.meshes, self.scene.poses)
        self._seed = seed

    def render(self, intrinsics, T_world_optical: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rgb (H, W, 3) uint8, depth (H, W) float32 m) seen from T_table<-optical."""
        return raycast_view(self._raycaster, self.scene.obj_ids, intrinsics, T_world_optical,
                            np.random.default_rng(self._seed))

    def sensor_depth(self, model: str, intrinsics, T_world_optical: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """float32 (H, W) depth (m, 0 = invalid) of the simulated ``model`` camera
        ('realsense' active stereo, 'kinect' time of flight) from T_table<-optical."""
        from ..dataset.synthetic.sensors import camera_sensor_depth, infrared_materials

        albedo, gloss = infrared_materials(self.scene.obj_ids)
        return camera_sensor_depth(model, self._raycaster, intrinsics, T_world_optical, albedo, gloss, rng)


def raycast_view(raycaster, obj_ids: list[int], intrinsics, T_world_optical: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noiseless (rgb (H, W, 3) uint8, depth (H, W) float32 m, 0 = no hit) of a
    :class:`~graspnet_ros.dataset.synthetic.render.SceneRaycaster` seen through pinhole
    ``intrinsics`` (:class:`~graspnet_ros.cameras.base.CameraIntrinsics`) from T_table<-optical;
    objects coloured by their dataset ids."""
    from ..dataset.objects import object_colour
    from ..dataset.synthetic.cameras import CameraModel
    from ..dataset.synthetic.render import albedo_image, shade

    i = intrinsics
    model = CameraModel("custom", i.width, i.height, i.fx, i.fy, i.cx, i.cy, "stereo", 0.1, 10.0, 0.05)
    hits = raycaster.cast(model, np.asarray(T_world_optical, dtype=np.float64))
    colours = np.array([object_colour(k) for k in obj_ids]).reshape(-1, 3)
    albedo, _ = albedo_image(hits, colours)
    return shade(hits, albedo, rng), hits.depth.astype(np.float32)


class SimArmCamera:
    """A :class:`~graspnet_ros.cameras.base.Camera` looking at a :class:`~graspnet_ros.robot.sim.SimArm`'s table.

    Every :meth:`read` ray-casts the objects still in the simulation at their
    CURRENT poses (``arm.object_poses()``; removed ones left out) plus the table
    top, so a frame taken after a pick no longer shows the picked object. The
    sim's base frame is the table frame (table top at z = 0); ``T_base_optical``
    (4x4, m) places the REP-103 optical frame in it and is the calibration
    T_base<-camera of an executor driving that arm. Depth is exact (float32 m,
    0 = no hit); the gripper itself is not rendered.
    """

    name = "sim_arm"

    def __init__(self, arm, T_base_optical: np.ndarray, intrinsics=None,
                 frame_id: str = "camera_color_optical_frame", seed: int = 0) -> None:
        from .base import camera_model
        from ..robot.base import as_pose

        if abs(float(arm.config.table_z)) > 1e-9:
            raise ValueError(f"SimArmCamera renders the table top at z = 0; the sim's table_z is "
                             f"{arm.config.table_z} m (set robot.sim.scene.table_z: 0.0)")
        self.arm = arm
        self.T_base_optical = as_pose(T_base_optical, "T_base_optical")
        self._intrinsics = intrinsics if intrinsics is not None else camera_model("realsense", 0.5)
        self.frame_id = frame_id
        self._rng = np.random.default_rng(seed)
        self._index = 0

    @property
    def intrinsics(self):
        return self._intrinsics

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def read(self, timeout: float = 1.0):
        """A :class:`~graspnet_ros.cameras.base.CameraFrame` of the simulation as it is now."""
        from .base import CameraFrame
        from ..dataset.synthetic.render import SceneRaycaster

        left = [int(i) for i in self.arm.remaining()]
        objects = [self.arm.objects[i] for i in left]
        raycaster = SceneRaycaster([o.mesh for o in objects], self.arm.object_poses()[left])
        ids = [o.object_id if o.object_id >= 0 else i for o, i in zip(objects, left)]
        rgb, depth = raycast_view(raycaster, ids, self._intrinsics, self.T_base_optical, self._rng)
        frame = CameraFrame(rgb, depth, self._intrinsics, time.time(), self.frame_id, self._index)
        self._index += 1
        return frame
