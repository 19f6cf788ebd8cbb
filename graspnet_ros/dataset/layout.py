"""The GraspNet-1Billion folder layout: paths, constants and splits.

Every reader and writer of a dataset root goes through these functions, so
the real dataset and the package's synthetic one share one definition::

    models/%03d/nontextured.ply (+ textured.obj)           object meshes, metres
    grasp_label/%03d_labels.npz      points (Np,3); offsets (Np,V,A,D,3) = angle,
                                     depth, width; collision (Np,V,A,D) bool;
                                     scores (Np,V,A,D) = min mu, -1 invalid
    tolerance/%03d_tolerance.npy     (Np,V,A,D) GAF tolerance, m (graspnet-baseline)
    collision_label/scene_%04d/collision_labels.npz   arr_i (Np_i,V,A,D) bool
    scenes/scene_%04d/object_id_list.txt
    scenes/scene_%04d/{realsense,kinect}/
        rgb/%04d.png depth/%04d.png (uint16 mm) label/%04d.png (0 = background,
        else object id + 1) meta/%04d.mat annotations/%04d.xml camK.npy
        camera_poses.npy (T_cam0<-cam_i) cam0_wrt_table.npy (T_table<-cam0)

Object ids are 0-based everywhere in files names and lists; label masks and
``meta['cls_indexes']`` use object id + 1 (0 is background).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Approach views, in-plane angles and gripper depths of the grasp labels.
NUM_VIEWS = 300
NUM_ANGLES = 12
NUM_DEPTHS = 4
ANGLES = np.arange(NUM_ANGLES) * np.pi / NUM_ANGLES  # rad, over [0, pi)
DEPTHS = np.array([0.01, 0.02, 0.03, 0.04])  # m
#: Frames per camera per scene in the real dataset.
FRAMES_PER_SCENE = 256
CAMERAS = ("realsense", "kinect")
#: Scene ids of each split (the real dataset's).
SPLITS: dict[str, range] = {
    "train": range(0, 100),
    "seen": range(100, 130),
    "similar": range(130, 160),
    "novel": range(160, 190),
}
SPLITS_ALIASES = {"test": ("seen", "similar", "novel")}
#: Depth PNG scale: stored value / FACTOR_DEPTH = metres.
FACTOR_DEPTH = 1000.0


def split_of_scene(scene_id: int) -> str:
    for name, ids in SPLITS.items():
        if scene_id in ids:
            return name
    raise ValueError(f"scene {scene_id} is in no split (0-189)")


def scene_ids(split: str) -> list[int]:
    """Scene ids of a split name: train, seen, similar, novel or test."""
    if split in SPLITS:
        return list(SPLITS[split])
    if split in SPLITS_ALIASES:
        return [i for s in SPLITS_ALIASES[split] for i in SPLITS[s]]
    raise ValueError(f"unknown split '{split}'; use one of {sorted(SPLITS) + sorted(SPLITS_ALIASES)}")


def parse_scene_ids(tokens: list[str]) -> list[int]:
    """Scene ids from tokens like ``100 101 105-110`` or ``100,101``."""
    ids: list[int] = []
    for token in (t for raw in tokens for t in raw.split(",") if t):
        try:
            if "-" in token:
                lo, hi = (int(v) for v in token.split("-", 1))
                if hi < lo:
                    raise ValueError
                ids.extend(range(lo, hi + 1))
            else:
                ids.append(int(token))
        except ValueError:
            raise ValueError(f"bad scene id '{token}': use integers or ranges like 100-129") from None
    if not ids:
        raise ValueError("no scene ids given")
    return list(dict.fromkeys(ids))


def check_camera(camera: str) -> str:
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera '{camera}'; use one of {CAMERAS}")
    return camera


class Layout:
    """Paths inside one dataset root (real or synthetic)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # objects
    def model_dir(self, obj_id: int) -> Path:
        return self.root / "models" / f"{obj_id:03d}"

    def model_ply(self, obj_id: int) -> Path:
        return self.model_dir(obj_id) / "nontextured.ply"

    def model_obj(self, obj_id: int) -> Path:
        return self.model_dir(obj_id) / "textured.obj"

    def grasp_label(self, obj_id: int) -> Path:
        return self.root / "grasp_label" / f"{obj_id:03d}_labels.npz"

    def tolerance_label(self, obj_id: int) -> Path:
        return self.root / "tolerance" / f"{obj_id:03d}_tolerance.npy"

    # scenes
    def scene_dir(self, scene_id: int) -> Path:
        return self.root / "scenes" / f"scene_{scene_id:04d}"

    def collision_label(self, scene_id: int) -> Path:
        return self.root / "collision_label" / f"scene_{scene_id:04d}" / "collision_labels.npz"

    def object_id_list(self, scene_id: int) -> Path:
        return self.scene_dir(scene_id) / "object_id_list.txt"

    def camera_dir(self, scene_id: int, camera: str) -> Path:
        return self.scene_dir(scene_id) / check_camera(camera)

    def frame_file(self, scene_id: int, camera: str, kind: str, ann_id: int) -> Path:
        """kind: rgb, depth, label (png), meta (mat) or annotations (xml)."""
        ext = {"rgb": "png", "depth": "png", "label": "png", "meta": "mat", "annotations": "xml"}
        if kind not in ext:
            raise ValueError(f"unknown frame file kind '{kind}'; use one of {sorted(ext)}")
        return self.camera_dir(scene_id, camera) / kind / f"{ann_id:04d}.{ext[kind]}"

    def camK(self, scene_id: int, camera: str) -> Path:
        return self.camera_dir(scene_id, camera) / "camK.npy"

    def camera_poses(self, scene_id: int, camera: str) -> Path:
        return self.camera_dir(scene_id, camera) / "camera_poses.npy"

    def cam0_wrt_table(self, scene_id: int, camera: str) -> Path:
        return self.camera_dir(scene_id, camera) / "cam0_wrt_table.npy"

    def scenes(self) -> list[int]:
        """Scene ids present under scenes/, sorted."""
        base = self.root / "scenes"
        if not base.is_dir():
            return []
        return sorted(int(p.name[6:]) for p in base.glob("scene_[0-9][0-9][0-9][0-9]") if p.is_dir())
