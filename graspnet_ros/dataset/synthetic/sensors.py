"""Which depth model a synthetic frame gets: ``simple`` or ``sensor``.

* ``simple``: :func:`~graspnet_ros.dataset.synthetic.cameras.apply_depth_noise`,
  per-pixel noise painted on the noiseless render (fast, the default);
* ``sensor``: the camera is simulated: active stereo for ``realsense``
  (:mod:`.stereo`), time of flight for ``kinect`` (:mod:`.tof`), registered
  to the colour camera's pixel grid.

Both return z-depth in metres (0 = invalid) in the colour camera's optical
frame (x right, y down, z forward) and pixel grid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..objects import object_colour
from .cameras import CameraModel, apply_depth_noise
from .render import TABLE_COLOUR, RayHits, SceneRaycaster

if TYPE_CHECKING:
    from .lab import LabScene

NOISE_MODELS = ("simple", "sensor")


def object_gloss(obj_id: int) -> float:
    """Glossiness in [0, 1] of a dataset object: about one in five is shiny
    (0.5-0.9: cans, polished or lacquered parts), fixed per id."""
    rng = np.random.default_rng(104729 + int(obj_id))
    return float(rng.uniform(0.5, 0.9)) if rng.uniform() < 0.2 else 0.0


def infrared_materials(obj_ids: list[int], lab: LabScene | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(albedo, gloss): arrays for objects ``obj_ids`` then the table (n + 1,),
    then a lab scene's background parts (n + 1 + k,: the raycaster's indices);
    the infrared albedo is taken as the grey level of the visible colour."""
    table_colours = TABLE_COLOUR[None] if lab is None else lab.colours()
    albedo = [float(np.mean(object_colour(i))) for i in obj_ids] + [float(np.mean(c)) for c in table_colours]
    gloss = [object_gloss(i) for i in obj_ids] + ([0.0] if lab is None else [float(g) for g in lab.gloss()])
    return np.array(albedo), np.array(gloss)


def sensor_depth(noise: str, camera: CameraModel, raycaster: SceneRaycaster, pose_table: np.ndarray,
                 hits: RayHits, grey: np.ndarray, obj_ids: list[int], rng: np.random.Generator,
                 nthreads: int = 0, lab: LabScene | None = None) -> np.ndarray:
    """float32 (H, W) depth (m, 0 = invalid) of ``camera`` (colour intrinsics) at
    ``pose_table`` = T_table<-colour optical frame.

    ``hits`` / ``grey``: the colour camera's noiseless render and its grey
    albedo (used by ``simple``); ``obj_ids``: dataset ids of the raycaster's
    objects, for their infrared albedo and gloss (``sensor``); ``lab``: the
    raycaster's lab background (:mod:`.lab`), whose materials ``sensor`` needs too.
    """
    if noise == "simple":
        return apply_depth_noise(camera, hits.depth, hits.cos_incidence, grey, rng)
    if noise != "sensor":
        raise ValueError(f"unknown depth noise model '{noise}'; use one of {NOISE_MODELS}")
    albedo, gloss = infrared_materials(obj_ids, lab)
    if camera.kind == "stereo":
        from .stereo import stereo_depth

        return stereo_depth(raycaster, camera, pose_table, albedo, gloss, rng=rng, nthreads=nthreads)
    if camera.kind == "tof":
        from .tof import tof_depth

        return tof_depth(raycaster, camera, pose_table, albedo, rng=rng, nthreads=nthreads)
    raise ValueError(f"camera '{camera.name}': no sensor model for kind '{camera.kind}'")


def camera_sensor_depth(model: str, raycaster: SceneRaycaster, intrinsics, T_table_optical: np.ndarray,
                        albedo_of: np.ndarray, gloss_of: np.ndarray | None = None,
                        rng: np.random.Generator | None = None, nthreads: int = 0) -> np.ndarray:
    """The simulated ``model`` ('realsense': active stereo, 'kinect': time of
    flight) seen through colour ``intrinsics`` (a
    :class:`~graspnet_ros.cameras.base.CameraIntrinsics`, any size) from
    T_table<-optical: float32 (H, W) depth in metres, 0 = invalid. The
    depth sensor's resolution follows the colour image's width (1280 = full,
    at least half).
    ``albedo_of`` / ``gloss_of``: (n + 1,) per raycaster object, then the table."""
    kinds = {"realsense": "stereo", "kinect": "tof"}
    if model not in kinds:
        raise ValueError(f"no sensor model for camera '{model}'; use one of {sorted(kinds)}")
    i = intrinsics
    camera = CameraModel(model, i.width, i.height, i.fx, i.fy, i.cx, i.cy, kinds[model], 0.0, 10.0, 0.0)
    # the depth sensor runs at the colour image's fraction of 1280x720, between half and full size, as
    # the real cameras' smaller modes do (D4xx 640x360, Kinect NFOV 2x2 binned): a 640x360 camera stays fast
    scale = float(np.clip(i.width / 1280.0, 0.5, 1.0))
    if kinds[model] == "stereo":
        from .stereo import D435, stereo_depth

        sensor = D435 if scale == 1.0 else D435.scaled(scale)
        return stereo_depth(raycaster, camera, T_table_optical, albedo_of, gloss_of, sensor, rng, nthreads)
    from .tof import AZURE_KINECT_NFOV, tof_depth

    sensor = AZURE_KINECT_NFOV if scale == 1.0 else AZURE_KINECT_NFOV.scaled(scale)
    return tof_depth(raycaster, camera, T_table_optical, albedo_of, sensor, rng, nthreads)
