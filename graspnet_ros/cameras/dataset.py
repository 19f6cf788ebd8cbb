"""A camera that replays the frames of a GraspNet-1Billion root (real or synthetic).

Frames come from :class:`graspnet_ros.dataset.reader.GraspNetDataset`: colour
and depth (already registered in the dataset), the scene's ``camK.npy``
intrinsics, in scene order then annotation order. Each
:class:`~graspnet_ros.cameras.base.CameraFrame` carries ``extras`` with
``scene_id``, ``ann_id``, ``camera`` and ``dataset`` (the root's name) so a
node can publish the frame's identity and its ground truth can be found
again offline.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from .base import CameraError, CameraFrame, CameraIntrinsics, EndOfStream

__all__ = ["DatasetCamera"]


class DatasetCamera:
    """Replay ``(scene_id, ann_id)`` frames of a dataset root.

    root: dataset root folder. camera: 'realsense' or 'kinect'.
    scene_ids: scenes to play (default: every scene on disk).
    ann_ids: annotation ids per scene (default: every frame of the scene).
    loop: start again after the last frame (else :class:`EndOfStream`).
    Stamps are wall-clock seconds at ``read()``.
    """

    name = "dataset"

    def __init__(self, root: str | Path, camera: str = "realsense",
                 scene_ids: Sequence[int] | None = None, ann_ids: Sequence[int] | None = None,
                 loop: bool = True, frame_id: str = "camera_color_optical_frame") -> None:
        self.root = Path(root)
        self.camera = camera
        self.scene_ids = list(scene_ids) if scene_ids else None
        self.ann_ids = list(ann_ids) if ann_ids else None
        self.loop = loop
        self.frame_id = frame_id
        self._dataset = None
        self._order: list[tuple[int, int]] = []
        self._pos = 0
        self._index = 0
        self._intrinsics: CameraIntrinsics | None = None

    def open(self) -> None:
        from ..dataset.reader import GraspNetDataset

        if not self.root.is_dir():
            raise CameraError(f"dataset root not found: {self.root} (set the 'dataset.root' parameter)")
        try:
            ds = GraspNetDataset(self.root, self.camera)
            scenes = self.scene_ids or ds.scene_ids()
            order = []
            for s in scenes:
                anns = self.ann_ids if self.ann_ids is not None else range(ds.num_frames(s))
                order += [(int(s), int(a)) for a in anns]
        except (FileNotFoundError, ValueError) as exc:
            raise CameraError(f"cannot read dataset {self.root}: {exc}") from exc
        if not order:
            raise CameraError(f"dataset {self.root} has no frames for camera '{self.camera}' "
                              f"and scenes {self.scene_ids}")
        self._dataset, self._order, self._pos = ds, order, 0

    def close(self) -> None:
        self._dataset = None

    @property
    def intrinsics(self) -> CameraIntrinsics:
        if self._intrinsics is None:
            raise CameraError("intrinsics are known after the first frame")
        return self._intrinsics

    def read(self, timeout: float = 1.0) -> CameraFrame:
        if self._dataset is None:
            self.open()
        if self._pos >= len(self._order):
            if not self.loop:
                raise EndOfStream(f"all {len(self._order)} dataset frames played")
            self._pos = 0
        scene_id, ann_id = self._order[self._pos]
        self._pos += 1
        try:
            f = self._dataset.frame(scene_id, ann_id)
            rgb, depth = f.rgb, f.depth
        except (FileNotFoundError, ValueError) as exc:
            raise CameraError(f"scene {scene_id} frame {ann_id}: {exc}") from exc
        intr = CameraIntrinsics.from_matrix(f.intrinsics, depth.shape[1], depth.shape[0])
        self._intrinsics = intr
        frame = CameraFrame(rgb, depth, intr, time.time(), self.frame_id, self._index,
                            extras={"scene_id": scene_id, "ann_id": ann_id, "camera": self.camera,
                                    "dataset": self.root.name})
        self._index += 1
        return frame
