"""Sizes of the synthetic dataset: ``tiny`` (tests), ``small`` (CPU training), ``full``, ``realistic``.

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
* ``full``: the paper's counts: every seen, similar and novel object (240;
  not the 15 held-out ones), 190 scenes x 256 frames x 2 cameras, about 10
  objects per scene, V = 300, 5 mm grasp points.
* ``realistic``: about a day of generation with the simulated sensors and the
  lab scenes (see :func:`realistic` for its sizes and their arithmetic).

Depth model and scene kind: the simulated sensors (``noise = "sensor"``) are every
preset's default except ``tiny`` and ``small``, which keep the per-pixel ``simple`` model
they were measured with (the tests, the shipped checkpoint trained on ``small`` and its
benchmark figures); ``full`` and ``realistic`` also default to the lab scenes. The
generator's ``--noise`` / ``--scene`` override them.

The tiny and small presets name their objects (:data:`TINY_OBJECTS`,
:data:`SMALL_OBJECTS`): they hold exactly the objects, under the same ids,
they held before the object set grew. No preset holds a held-out object
(``object_ids("held_out")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .layout import CAMERAS, FRAMES_PER_SCENE, NUM_ANGLES, NUM_DEPTHS, NUM_VIEWS, SPLITS, split_of_scene
from .objects import get_spec, ids_by_name, object_ids

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
    #: The generator's defaults for this preset: the depth model (``sensor``: the cameras simulated,
    #: active stereo and time of flight; ``simple``: per-pixel noise on the render) and the scene kind.
    noise: str = "sensor"
    scene: str = "tabletop"

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


#: The tiny and small presets' objects, frozen by name (ids 6, 16, 24; 43, 49; 55, 56 and
#: the small ones listed in test/test_object_families.py): the object set grew
#: after they were made, and their datasets and the shipped checkpoint must
#: keep meaning the same objects.
TINY_OBJECTS = {"seen": ("013_apple", "040_large_marker", "061_foam_brick"),
                "similar": ("018_plum", "065-b_cups"), "novel": ("000", "001")}
SMALL_OBJECTS = {
    "seen": ("003_cracker_box", "004_sugar_box", "008_pudding_box", "010_potted_meat_can", "012_strawberry",
             "013_apple", "014_lemon", "017_orange", "030_fork", "032_knife", "033_spatula", "036_wood_block",
             "038_padlock", "040_large_marker", "043_phillips_screwdriver", "050_medium_clamp", "054_softball",
             "055_baseball", "056_tennis_ball", "061_foam_brick", "063-a_marbles", "065-a_cups", "065-c_cups",
             "065-h_cups", "070-b_colored_wood_blocks", "072-b_toy_airplane", "072-c_toy_airplane",
             "073-b_lego_duplo", "073-c_lego_duplo", "073-g_lego_duplo"),
    "similar": ("005_tomato_soup_can", "007_tuna_fish_can", "015_peach", "025_mug", "057_racquetball",
                "063-b_marbles", "065-f_cups", "072-e_toy_airplane"),
    "novel": ("000", "016", "033", "050", "066", "083", "100", "116", "133", "150", "166", "183"),
}


def tiny() -> Preset:
    return Preset(
        name="tiny", seen=ids_by_name(TINY_OBJECTS["seen"]), similar=ids_by_name(TINY_OBJECTS["similar"]),
        novel=ids_by_name(TINY_OBJECTS["novel"]),
        scenes=(0, 100, 130, 160), frames_per_camera=4, test_frames=4, objects_per_scene=(2, 3),
        annotation=dict(num_views=60, num_angles=NUM_ANGLES, num_depths=NUM_DEPTHS, grasp_point_voxel=0.01),
        noise="simple",
    ).check()


def small() -> Preset:
    scenes = (tuple(SPLITS["train"][:24]) + tuple(SPLITS["seen"][:5]) + tuple(SPLITS["similar"][:5])
              + tuple(SPLITS["novel"][:5]))
    return Preset(
        name="small", seen=ids_by_name(SMALL_OBJECTS["seen"]), similar=ids_by_name(SMALL_OBJECTS["similar"]),
        novel=ids_by_name(SMALL_OBJECTS["novel"]),
        scenes=scenes, frames_per_camera=32, test_frames=16, objects_per_scene=(6, 10),
        annotation=dict(num_views=NUM_VIEWS, num_angles=NUM_ANGLES, num_depths=NUM_DEPTHS, grasp_point_voxel=0.01),
        noise="simple",
    ).check()


def full() -> Preset:
    return Preset(
        name="full", seen=tuple(object_ids("seen")), similar=tuple(object_ids("similar")),
        novel=tuple(object_ids("novel")), scenes=tuple(range(190)), frames_per_camera=FRAMES_PER_SCENE,
        test_frames=FRAMES_PER_SCENE, objects_per_scene=(8, 12),
        annotation=dict(num_views=NUM_VIEWS, num_angles=NUM_ANGLES, num_depths=NUM_DEPTHS, grasp_point_voxel=0.005),
        scene="lab",
    ).check()


def realistic() -> Preset:
    """Issue 16's training set: about a day of generation on this 2-core machine,
    both cameras, every seen object (85: 45 YCB, 40 procedural bottles, boxes,
    cans, mugs and bowls) in the train scenes, every test split.

    Generated with the simulated sensors and the lab scenes (the preset's defaults)::

        graspnet-ros data generate --root DIR --preset realistic --workers 2

    Objects: 85 seen, 39 similar, 40 novel (the 4 novel YCB objects and 36
    random objects spread over the rest) = 164. Scenes: all 100 train scenes x
    96 frames per camera, all 90 test scenes (30 seen, 30 similar, 30 novel) x
    16 frames per camera, 8-12 objects each; V = 300, A = 12, D = 4 and 1 cm
    grasp points as ``small``.

    Sizing, from one 10-object lab scene generated here with ``--noise
    sensor`` (2026-12-02, 1 process, machine load 4-6 on 2 cores): render and
    write 2.2 s per frame and camera (32 frames: 69.4 s render + 3.7 s write;
    8 frames: 1.2 s per frame), settle 0.3-0.6 s per scene, collision labels
    12 s per scene; objects 0.1-2.3 s each (mesh, V-HACD) and 5.3 s each for
    grasp and tolerance labels.

    * frames: (100 x 96 + 90 x 16) x 2 cameras = 22,080 x 2.2 s = 48,576 s
    * scenes: 190 x (0.6 + 12) s = 2,394 s
    * objects: 164 x (1 + 5.3) s = 1,033 s
    * in all 52,000 s = 14.4 h for one process at the measured rate: about
      7 h with ``--workers 2`` when both cores are free for it, up to about a
      day when other jobs share them, as they did here. Disk: 1.5 MB per frame (1280x720 RGB 1.25 MB) = 33 GB, plus
      about 32 MB of labels per object = 5 GB: the disk, not the time, is
      what keeps the frame count from growing further.
    """
    novel = object_ids("novel")
    novel_ycb = [i for i in novel if get_spec(i).source == "ycb"]
    random = [i for i in novel if get_spec(i).source == "pybullet_random"]
    return Preset(
        name="realistic", seen=tuple(object_ids("seen")), similar=tuple(object_ids("similar")),
        novel=tuple(sorted(novel_ycb + list(_pick(random, 40 - len(novel_ycb))))),
        scenes=tuple(range(190)), frames_per_camera=96, test_frames=16, objects_per_scene=(8, 12),
        annotation=dict(num_views=NUM_VIEWS, num_angles=NUM_ANGLES, num_depths=NUM_DEPTHS, grasp_point_voxel=0.01),
        scene="lab",
    ).check()


PRESETS = {"tiny": tiny, "small": small, "full": full, "realistic": realistic}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"unknown preset '{name}'; use one of {sorted(PRESETS)}")
    return PRESETS[name]()
