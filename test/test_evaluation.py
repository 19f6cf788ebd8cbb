"""The benchmark evaluator on analytic frames, against its naive twin, and on dumps.

The analytic frame: a 4 x 40 x 8 cm bar and a 4 x 4 x 6 cm block on the table,
seen by a tilted camera. Top-down grasps close across the bar's 4 cm with
the jaw axis turned by theta from the face normal: both contacts lie on the
two parallel faces, so the contact line makes the angle theta with both
normals and the label is the smallest mu of {0.2, ..., 1.2} with
arctan(mu) >= theta (11.3, 21.8, 31.0, 38.7, 45.0, 50.2 degrees).
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import trimesh

from graspnet_ros.cli import main as cli_main
from graspnet_ros.evaluation import (EvalConfig, FrameGroundTruth, evaluate_frame, evaluate_scene,
                                     load_predictions, summarize)
from graspnet_ros.evaluation.frame import evaluate_frame_naive, precision_at_k, select_candidates
from graspnet_ros.evaluation.ground_truth import crop_box
from graspnet_ros.toy.table import (look_at, sample_predictions, toy_scene, write_toy_dump,
                                         write_toy_root)
from graspnet_ros.dataset.annotations_xml import ObjectPose, read_annotations, write_annotations
from graspnet_ros.dataset.layout import Layout
from graspnet_ros.grasp import GraspGroup

BAR, BLOCK = 3, 7
TABLE_FROM_CAM = look_at([0.35, -0.25, 0.55], [0.0, 0.0, 0.04])
CAM_FROM_TABLE = np.linalg.inv(TABLE_FROM_CAM)


def box_on_table(extents, max_edge=0.004) -> trimesh.Trimesh:
    """Box with its bottom face on z = 0 of its frame, vertices every <= 4 mm
    (model points are voxel-sampled mesh vertices, as for scanned models)."""
    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_translation([0, 0, extents[2] / 2])
    v, f = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge)
    return trimesh.Trimesh(v, f)


@pytest.fixture(scope="module")
def gt() -> FrameGroundTruth:
    at_block = np.eye(4)
    at_block[0, 3] = 0.2
    table_poses = np.array([np.eye(4), at_block])  # T_table<-object
    return FrameGroundTruth.from_meshes(
        [BAR, BLOCK], CAM_FROM_TABLE @ table_poses,
        [box_on_table((0.04, 0.40, 0.08)), box_on_table((0.04, 0.04, 0.06))],
        table_pose=CAM_FROM_TABLE, name="analytic")


def top_down(x, y, z, theta_deg, score, depth=0.02, width=0.1) -> np.ndarray:
    """One grasp row in the camera frame: approach -z (table), jaws closing
    along (cos theta, sin theta, 0) of the table frame."""
    th = np.deg2rad(theta_deg)
    ax, ay = np.array([0.0, 0.0, -1.0]), np.array([np.cos(th), np.sin(th), 0.0])
    R = np.stack([ax, ay, np.cross(ax, ay)], axis=1)
    gg = GraspGroup.from_components(R[None], [[x, y, z]], width, depth, score, frame_id="table")
    return gg.transform(CAM_FROM_TABLE, frame_id="camera").array[0]


# name: (row, expected label or None when NMS / the per-object cap removes it)
CASES = {
    "square": (top_down(0.0, -0.16, 0.08, 0, 0.95, width=0.06), 0.2),
    "dup_shifted": (top_down(0.0, -0.155, 0.08, 10, 0.94, width=0.06), None),
    "dup_turned": (top_down(0.0, -0.16, 0.08, -8, 0.93, width=0.06), None),
    "tilt15": (top_down(0.0, -0.12, 0.08, 15, 0.90), 0.4),
    "block": (top_down(0.2, 0.0, 0.06, 0, 0.88, width=0.06), 0.2),
    "tilt25": (top_down(0.0, -0.08, 0.08, 25, 0.85), 0.6),
    "air": (top_down(0.0, 0.0, 0.30, 0, 0.80), -1.0),
    "tilt35": (top_down(0.0, -0.04, 0.08, 35, 0.75), 0.8),
    "through_table": (top_down(0.0, 0.22, 0.01, 0, 0.70, width=0.04), -1.0),
    "tilt42": (top_down(0.0, 0.00, 0.08, 42, 0.65), 1.0),
    "tilt48": (top_down(0.0, 0.04, 0.08, 48, 0.60), 1.2),
    "tilt53": (top_down(0.0, 0.08, 0.08, 53, 0.55), -1.0),
    "tilt5": (top_down(0.0, 0.12, 0.08, 5, 0.50), 0.2),
    "capped1": (top_down(0.0, 0.16, 0.08, 0, 0.45), None),  # 11th and 12th bar grasps
    "capped2": (top_down(0.0, 0.00, 0.08, -45, 0.40), None),
}


@pytest.fixture(scope="module")
def analytic(gt):
    names = list(CASES)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(names))  # input order must not matter
    grasps = GraspGroup(np.array([CASES[names[i]][0] for i in order]))
    return evaluate_frame(grasps, gt), grasps


def test_single_grasp_labels(gt):
    for name, (row, label) in CASES.items():
        if label is None:
            continue
        result = evaluate_frame(GraspGroup(row[None]), gt)
        assert len(result.grasps) == 1, name
        assert result.labels[0] == label, (name, result.labels[0])
    air = evaluate_frame(GraspGroup(CASES["air"][0][None]), gt)
    assert air.empty[0] and not air.collision[0]
    table = evaluate_frame(GraspGroup(CASES["through_table"][0][None]), gt)
    assert table.collision[0]
    block = evaluate_frame(GraspGroup(CASES["block"][0][None]), gt)
    assert block.object_ids[0] == BLOCK and not block.collision[0] and not block.empty[0]


def test_frame_selection_and_labels(analytic):
    result, grasps = analytic
    expected = [(n, lab) for n, (row, lab) in CASES.items() if lab is not None]
    expected.sort(key=lambda item: -CASES[item[0]][0][0])
    # NMS removed the duplicates, the per-object cap the 11th/12th bar grasps
    assert result.num_input == 15 and len(result.grasps) == len(expected) == 11
    assert np.allclose(result.grasps.scores, [CASES[n][0][0] for n, _ in expected])
    assert result.labels.tolist() == [lab for _, lab in expected]
    assert result.object_ids.tolist() == [BLOCK if n == "block" else BAR for n, _ in expected]
    assert result.collision.tolist() == [n == "through_table" for n, _ in expected]
    assert result.empty.tolist() == [n == "air" for n, _ in expected]


def test_precision_matrix_and_ap_by_hand(analytic):
    result, _ = analytic
    # labels in score order: square .2, tilt15 .4, block .2, tilt25 .6, air -1, tilt35 .8,
    # through_table -1, tilt42 1.0, tilt48 1.2, tilt53 -1, tilt5 .2
    labels = [0.2, 0.4, 0.2, 0.6, -1, 0.8, -1, 1.0, 1.2, -1, 0.2]
    acc = result.accuracy
    assert acc.shape == (50, 6)
    assert np.array_equal(acc[0], np.ones(6))  # the best grasp is force-closure at 0.2
    assert np.allclose(acc[1], [1 / 2, 1, 1, 1, 1, 1])
    assert np.allclose(acc[4], [2 / 5, 3 / 5, 4 / 5, 4 / 5, 4 / 5, 4 / 5])  # air at rank 5
    assert np.allclose(acc[49], np.array([3, 4, 5, 6, 7, 8]) / 50)  # divided by k past 11 grasps
    expected = np.zeros((50, 6))
    for j, mu in enumerate([0.2, 0.4, 0.6, 0.8, 1.0, 1.2]):
        for k in range(1, 51):
            expected[k - 1, j] = Fraction(sum(1 for lab in labels[:k] if 0 < lab <= mu + 1e-9), k)
    assert np.allclose(acc, expected, atol=1e-12)
    # AP0.8: counts 1,2,3,4,4,5,5,5,5,5 for k = 1..10, then 6 for k = 11..50
    ap08 = (1 + 1 + 1 + 1 + Fraction(4, 5) + Fraction(5, 6) + Fraction(5, 7) + Fraction(5, 8)
            + Fraction(5, 9) + Fraction(5, 10) + sum(Fraction(6, k) for k in range(11, 51))) / 50
    assert result.ap_at(0.8) == pytest.approx(float(ap08), abs=1e-12)
    assert round(100 * result.ap_at(0.8), 2) == 34.90
    assert result.ap == pytest.approx(expected.mean(), abs=1e-12)  # all six mu columns
    assert round(100 * result.ap, 2) == 31.60
    assert round(100 * result.ap_at(0.4), 2) == 25.14
    assert result.ap_at(0.4) == pytest.approx(expected[:, 1].mean(), abs=1e-12)


def test_zero_grasps_score_zero(gt):
    result = evaluate_frame(GraspGroup(), gt)
    assert len(result.grasps) == 0 and result.accuracy.shape == (50, 6)
    assert not result.accuracy.any() and result.ap == 0.0
    assert not evaluate_frame_naive(GraspGroup(), gt).accuracy.any()


def test_widths_clipped_to_benchmark_range(gt):
    row = CASES["tilt15"][0].copy()
    row[1] = 0.3  # wider than the gripper opens
    result = evaluate_frame(GraspGroup(row[None]), gt)
    assert result.grasps.widths[0] == pytest.approx(0.1)
    assert result.labels[0] == 0.4


def test_select_candidates_cut_keeps_ties():
    scores = np.array([0.9, 0.8, 0.7, 0.7, 0.7, 0.6, 0.5])
    owner = np.array([0, 0, 0, 1, 2, 1, 2])
    chosen, full = select_candidates(scores, owner, per_object=2, top_k=3)
    # per object: 0 -> 0.9, 0.8; 1 -> 0.7, 0.6; 2 -> 0.7, 0.5; 3rd best kept = 0.7, ties kept
    assert chosen.tolist() == [0, 1, 3, 4] and full
    chosen, full = select_candidates(scores, owner, per_object=1, top_k=50)
    assert chosen.tolist() == [0, 3, 4] and not full


def test_precision_at_k_divides_by_k():
    acc = precision_at_k(np.array([0.4, -1.0, 0.2]), np.array([0.2, 0.4]), top_k=4)
    assert np.allclose(acc, [[0, 1], [0, 1 / 2], [1 / 3, 2 / 3], [1 / 4, 2 / 4]])


def test_table_block_matches_full_crop(gt):
    lo = gt.posed_models()[0].min(axis=0) - 0.05
    hi = gt.posed_models()[0].max(axis=0) + 0.05
    fast = gt.table_points_in_box(lo, hi)
    full = crop_box(gt.table_points(), lo, hi)
    assert len(fast) == len(full) > 1000
    key = lambda p: np.round(p, 9)[np.lexsort(np.round(p, 9).T)]
    assert np.allclose(key(fast), key(full), atol=1e-12)


@pytest.fixture(scope="module")
def toy_frame():
    scene = toy_scene(4, seed=3)
    table_from_cam = look_at([0.4, 0.2, 0.5], [0, 0, 0.03])
    cam_from_table = np.linalg.inv(table_from_cam)
    gt = FrameGroundTruth.from_meshes(scene.obj_ids, cam_from_table @ scene.table_poses, scene.meshes,
                                      table_pose=cam_from_table, name="toy")
    return gt, sample_predictions(scene, table_from_cam, num_grasps=160, seed=4)


@pytest.mark.parametrize("config", [EvalConfig(), EvalConfig(nms_prefix=8, top_k=20),
                                    EvalConfig(assign_max_distance=0.01, per_object=5)])
def test_fast_equals_naive_twin(toy_frame, config):
    gt, grasps = toy_frame
    fast, naive = evaluate_frame(grasps, gt, config), evaluate_frame_naive(grasps, gt, config)
    assert np.array_equal(fast.grasps.array, naive.grasps.array)
    assert np.array_equal(fast.labels, naive.labels)
    assert np.array_equal(fast.collision, naive.collision) and np.array_equal(fast.empty, naive.empty)
    assert np.array_equal(fast.object_index, naive.object_index)
    assert np.array_equal(fast.accuracy, naive.accuracy)
    assert (fast.labels > 0).any() and (fast.labels < 0).any()  # a non-trivial frame
    if config.assign_max_distance is not None:
        assert (fast.object_index == -1).any()


# -- dumps, scenes, command --------------------------------------------------

@pytest.fixture(scope="module")
def toy_root(tmp_path_factory):
    base = tmp_path_factory.mktemp("eval")
    root = write_toy_root(base / "root", scene_ids=(100, 130), num_frames=2, num_objects=3)
    dump = write_toy_dump(root, base / "dump", scene_ids=(100, 130), num_frames=2, num_objects=3,
                          num_grasps=300)
    return root, dump


def test_scene_and_summary(toy_root):
    root, dump = toy_root
    kept = []
    r100 = evaluate_scene(root, dump, 100, "realsense", on_frame=lambda a, res: kept.append(res))
    r130 = evaluate_scene(root, dump, 130, "realsense")
    assert r100.accuracy.shape == (2, 50, 6) and len(kept) == 2
    assert np.allclose(r100.accuracy, [k.accuracy for k in kept])
    assert r100.frames[0]["num_input"] == 300
    summary = summarize([r130, r100])
    assert set(summary.splits) == {"seen", "similar"}
    assert summary.splits["seen"]["ap"] == pytest.approx(r100.ap)
    assert summary.overall["ap"] == pytest.approx((r100.ap + r130.ap) / 2)
    assert summary.overall["ap_0.8"] == pytest.approx(
        np.concatenate([r100.accuracy, r130.accuracy])[..., 3].mean())


def _copy_root_with_dump(toy_root, tmp_path):
    import shutil

    root, dump = toy_root
    new = tmp_path / "dump"
    shutil.copytree(dump, new)
    return root, new, new / "scene_0100" / "realsense"


def test_bad_prediction_files_are_named(toy_root, tmp_path):
    root, dump, frames = _copy_root_with_dump(toy_root, tmp_path)
    good = np.load(frames / "0000.npy")
    bad = good.copy()
    bad[3, 13] = np.nan
    np.save(frames / "0000.npy", bad)
    with pytest.raises(ValueError, match=r"0000\.npy.*NaN"):
        evaluate_scene(root, dump, 100, "realsense")
    np.save(frames / "0000.npy", good[:, :16])
    with pytest.raises(ValueError, match=r"0000\.npy.*shape"):
        load_predictions(frames / "0000.npy")
    (frames / "0000.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match=r"0000\.npy"):
        load_predictions(frames / "0000.npy")
    (frames / "0000.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"0000\.npy"):
        evaluate_scene(root, dump, 100, "realsense")
    np.save(frames / "0000.npy", np.zeros((0, 17)))  # an empty prediction: zero precision
    result = evaluate_scene(root, dump, 100, "realsense")
    assert not result.accuracy[0].any() and result.frames[0]["num_input"] == 0
    with pytest.raises(FileNotFoundError, match="scene 150"):
        evaluate_scene(root, dump, 150, "realsense")


def test_unknown_object_id_is_named(toy_root, tmp_path):
    import shutil

    root, dump = toy_root
    new_root = tmp_path / "root"
    shutil.copytree(root, new_root)
    ann = Layout(new_root).frame_file(100, "realsense", "annotations", 1)
    objects = read_annotations(ann)
    write_annotations(ann, objects + [ObjectPose(87, objects[0].pose)])
    with pytest.raises(FileNotFoundError, match=r"object 87.*models/087"):
        evaluate_scene(new_root, dump, 100, "realsense")


def test_eval_command_writes_reports(toy_root, tmp_path, capsys):
    root, dump = toy_root
    out = tmp_path / "out"
    code = cli_main(["eval", "--root", str(root), "--dump", str(dump), "--scenes", "100", "130",
                     "--workers", "1", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Seen" in printed and "Similar" in printed and "AP0.8" in printed
    doc = json.loads((out / "results.json").read_text())
    assert set(doc["scenes"]) == {"100", "130"} and len(doc["frames"]["100"]) == 2
    with np.load(out / "accuracy.npz") as npz:
        acc = np.concatenate([npz["scene_0100"], npz["scene_0130"]])
    assert doc["overall"]["ap"] == pytest.approx(acc.mean())
    assert (out / "precision_at_k.png").read_bytes()[:4] == b"\x89PNG"
    assert cli_main(["eval", "--root", str(root), "--dump", str(dump), "--scenes", "101",
                     "--out", str(out), "--quiet"]) == 2
    assert "scene 101" in capsys.readouterr().err


def test_reliability_table_bins_predicted_scores_and_averages_true_scores():
    from graspnet_ros.evaluation.calibration import reliability_table

    predicted = np.array([0.1, 0.12, 0.5, 0.52, 0.98, 2.0])
    true = np.array([0.0, 0.2, 0.5, 0.3, 1.0, 0.9])
    table = reliability_table(predicted, true, edges=(-np.inf, 0.3, 0.7, np.inf))
    assert table.count.tolist() == [2, 2, 2]
    np.testing.assert_allclose(table.mean_true, [0.1, 0.4, 0.95])
    np.testing.assert_allclose(table.mean_predicted, [0.11, 0.51, 1.49])
    empty = reliability_table(predicted[:2], true[:2], edges=(0.0, 0.5, 1.0))
    assert empty.count.tolist() == [2, 0] and np.isnan(empty.mean_true[1]) and "grasps" in empty.format()
    with pytest.raises(ValueError, match="differ in length"):
        reliability_table(predicted, true[:3])
