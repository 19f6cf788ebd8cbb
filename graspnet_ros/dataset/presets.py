"""Sizes of the synthetic dataset: ``tiny`` (tests), ``small`` (CPU training), ``full``.

A preset fixes which objects get models and labels, which scenes exist (ids
of the real splits: train 0-99, seen 100-129, similar 130-159, novel
160-189), how many frames each camera takes per scene and the annotation
settings. Train and seen scenes draw their objects from the preset's seen
objects, similar scenes from its similar ones, novel scenes from its novel
ones.

Recorded choices (2-core machine, measured with ``bench/bench_dataset.py``):

* ``tiny``: 7 objects (3 seen, 2 similar, 2 novel; small and quick to
  decompose), one scene per split (0, 100, 130, 160) with 2-3 objects, 4
  frames per camera, V = 60 views and 1 cm grasp points.
* ``small``: 50 objects (30 seen, 8 similar, 12 novel), 24 train scenes
  x 32 frames per camera, 5 scenes per test split x 16 frames, 6-10
  objects per scene; V = 300, A = 12, D = 4 as the real labels, with grasp
  points on a 1 cm grid.
* ``full``: the paper's counts: all 255 objects, 190 scenes x 256 frames x 2
  cameras, about 10 objects per scene, V = 300, 5 mm grasp points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layout import CAMERAS, FRAMES_PER_SCENE, NUM_ANGLES, NUM_DEPTHS, NUM_VIEWS, SPLITS, split_of_scene
from .objects import object_ids

#: Object group whose objects fill the scenes of each split.
SPLIT_GROUP = {"train": "seen", "seen": "seen", "similar": "similar", "novel": "novel"}


@dataclass(frozen=True)
class Preset:
    name: str
    seen: tuple[int, ...]  # object ids of each group used by this preset
    similar: tuple[int, ...]
    novel: tuple[int, ...]
    scenes: tuple[int, ...]  # scene ids (real split ids)
    frames_per_camera: int  # per scene; train and test may differ, see test_frames
    test_frames: int  # frames per camera in the test splits (seen, similar, novel)
    objects_per_scene: tuple[int, int]  # inclusive range
    cameras: tuple[str, ...] = CAMERAS
    #: AnnotationSettings keyword arguments (graspnet_ros.annotation).
    annotation: dict = field(default_factory=dict)

    @property
    def obj_ids(self) -> list[int]:
        return sorted(set(self.seen) | set(self.similar) | set(self.novel))

    def pool(self, scene_id: int) -> tuple[int, ...]:
        """Object ids a scene draws from (by its split)."""
        return getattr(self, SPLIT_GROUP[split_of_scene(scene_id)])

    def num_frames(self, scene_id: int) -> int:
        return self.frames_per_camera if split_of_scene(scene_id) == "train" else self.test_frames

    def check(self) -> "Preset":
        """Raise ValueError if a scene's object pool is smaller than one object."""
        for s in self.scenes:
            if not self.pool(s):
                raise ValueError(f"preset {self.name}: scene {s} ({split_of_scene(s)}) has no objects to draw from")
        return self


def _pick(ids: list[int], count: int) -> tuple[int, ...]:
    """``count`` ids spread evenly over ``ids`` (deterministic)."""
    if count >= len(ids):
        return tuple(ids)
    step = len(ids) / count
    return tuple(ids[int(i * step)] for i in range(count))


def tiny() -> Preset:
    seen, similar, novel = object_ids("seen"), object_ids("similar"), object_ids("novel")
    return Preset(
        name="tiny",
        # 013_apple, 040_large_marker, 061_foam_brick; 018_plum, 065-b_cups; random 000, 001
        seen=(seen[6], seen[16], seen[24]), similar=(similar[5], similar[11]), novel=tuple(novel[:2]),
        scenes=(0, 100, 130, 160), frames_per_camera=4, test_frames=4, objects_per_scene=(2, 3),
        annotation=dict(num_views=60, num_angles=NUM_ANGLES, num_depths=NUM_DEPTHS, grasp_point_voxel=0.01),
    ).check()


def small() -> Preset:
    seen, similar, novel = object_ids("seen"), object_ids("similar"), object_ids("novel")
    scenes = (tuple(SPLITS["train"][:24]) + tuple(SPLITS["seen"][:5]) + tuple(SPLITS["similar"][:5])
              + tuple(SPLITS["novel"][:5]))
    return Preset(
        name="small", seen=_pick(seen, 30), similar=_pick(similar, 8), novel=_pick(novel, 12),
        scenes=scenes, frames_per_camera=32, test_frames=16, objects_per_scene=(6, 10),
        annotation=dict(num_views=NUM_VIEWS, num_angles=NUM_ANGLES, num_depths=NUM_DEPTHS, grasp_point_voxel=0.01),
    ).check()


def full() -> Preset:
    return Preset(
        name="full", seen=tuple(object_ids("seen")), similar=tuple(object_ids("similar")),
        novel=tuple(object_ids("novel")), scenes=tuple(range(190)), frames_per_camera=FRAMES_PER_SCENE,
        test_frames=FRAMES_PER_SCENE, objects_per_scene=(8, 12),
        annotation=dict(num_views=NUM_VIEWS, num_angles=NUM_ANGLES, num_depths=NUM_DEPTHS, grasp_point_voxel=0.005),
    ).check()


PRESETS = {"tiny": tiny, "small": small, "full": full}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; use one of {sorted(PRESETS)}")
    return PRESETS[name]()
