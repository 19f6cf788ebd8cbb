"""The grasp network: shapes, reference parameter layout, labels, losses,
decode, GAF, checkpoints, the detector and its model-free baseline."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from graspnet_ros.force_closure import MeshRaycaster, force_closure_labels
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.toy import frame as toy_scene
from graspnet_ros.model.checkpoint import load_model, read_checkpoint, save_checkpoint
from graspnet_ros.model.config import (BackboneConfig, LabelConfig, ModelConfig, config_from_dict, config_to_dict,
                                       get_config, paper)
from graspnet_ros.model.decode import decode
from graspnet_ros.model.detector import GraspDetector
from graspnet_ros.model.gaf import gaf_order, gaf_rescore, score_bins
from graspnet_ros.model.graspnet import GraspNet
from graspnet_ros.model.labels import FrameLabels, ObjectGraspTable, assign_seeds, match_views
from graspnet_ros.model.train import StaticFrames, train_step
from graspnet_ros.views import fibonacci_views

DATA = Path(__file__).parent / "data"

#: A small network for fast shape tests (the real configs are tested too).
TINY = ModelConfig(name="tiny", num_points=1024,
                   backbone=BackboneConfig(npoints=(256, 128, 64, 32), nsamples=(16, 8, 8, 8),
                                           mlps=((16, 16, 32), (32, 32, 64), (32, 32, 64), (32, 32, 64)),
                                           fp_mlps=((64, 64), (64, 64))),
                   cylinder_nsample=8, crop_mlp=(16, 16, 32), operation_mlp=(32, 32), tolerance_mlp=(32, 32))
pytestmark = pytest.mark.usefixtures("one_torch_thread")




@pytest.fixture(scope="module")
def scene():
    return toy_scene.make_scene()


@pytest.fixture(scope="module")
def toy_frame(scene):
    return toy_scene.training_frame(scene, num_label_points=16)


def random_cloud(n, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy((rng.random((1, n, 3)) * 0.3 + [0, 0, 0.5]).astype(np.float32))


@pytest.mark.parametrize("cfg", [TINY, get_config("cpu")], ids=["tiny", "cpu"])
def test_stage_shapes(cfg):
    torch.manual_seed(0)
    model = GraspNet(cfg).eval()
    with torch.no_grad():
        out = model(random_cloud(cfg.num_points))
    Ns, V, A, D = cfg.num_seeds, cfg.num_view, cfg.num_angle, cfg.num_depth
    bb, ap = out.stage1.backbone, out.stage1.approach
    assert bb.seed_xyz.shape == (1, Ns, 3) and bb.seed_features.shape == (1, Ns, cfg.backbone.seed_dim)
    assert torch.equal(out.cloud[0, bb.seed_inds[0]], bb.seed_xyz[0])
    assert ap.objectness.shape == (1, 2, Ns) and ap.view_score.shape == (1, Ns, V)
    assert ap.top_view_inds.shape == (1, Ns) and ap.top_view_rot.shape == (1, Ns, 3, 3)
    assert torch.equal(ap.top_view_inds, ap.view_score.argmax(-1))
    for t in (out.stage2.score, out.stage2.angle_cls, out.stage2.width, out.stage2.tolerance):
        assert t.shape == (1, A, Ns, D) and torch.isfinite(t).all()


def test_paper_config_matches_reference_state_dict():
    ref = json.loads((DATA / "graspnet_baseline_state_dict.json").read_text())["entries"]
    ours = [[k, list(v.shape)] for k, v in GraspNet(paper()).state_dict().items()]
    assert ours == ref


def test_config_round_trip_and_errors():
    for name in ("paper", "cpu", "reference"):
        cfg = get_config(name)
        assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg
    with pytest.raises(ValueError, match="unknown model config"):
        get_config("huge")
    with pytest.raises(ValueError, match="unknown fields"):
        config_from_dict({**config_to_dict(paper()), "colour": 1})
    with pytest.raises(ValueError, match="num_points"):
        dataclasses.replace(paper(), num_points=100)


def test_decode_gives_proper_rotations_and_widths():
    torch.manual_seed(0)
    model = GraspNet(TINY).eval()
    with torch.no_grad():
        out = model(random_cloud(TINY.num_points))
        out.stage2.width.mul_(0.3).add_(0.03)  # push some widths outside [0, 0.1]
    dec = decode(out, TINY, objectness_threshold=0.0)[0]
    g = dec.grasps
    assert len(g) == TINY.num_seeds
    R = g.rotations
    assert np.allclose(R.transpose(0, 2, 1) @ R, np.eye(3), atol=1e-6)
    assert np.allclose(np.linalg.det(R), 1.0, atol=1e-6)
    assert (g.widths >= 0).all() and (g.widths <= 0.1).all()
    assert set(np.round(g.depths, 3)) <= {0.01, 0.02, 0.03, 0.04}
    # grasp point = seed, approach = -template view
    seeds = out.stage1.seed_xyz[0].numpy()[dec.seed_index]
    assert np.allclose(g.translations, seeds, atol=1e-6)
    views = -out.stage1.approach.top_view_xyz[0].numpy()[dec.seed_index]
    assert np.allclose(g.approaches, views / np.linalg.norm(views, axis=1, keepdims=True), atol=1e-5)


def test_decode_more_grasps_per_seed_adds_other_angles_of_the_same_seeds():
    torch.manual_seed(1)
    model = GraspNet(TINY).eval()
    with torch.no_grad():
        out = model(random_cloud(TINY.num_points))
        out.stage2.angle_cls.normal_(0.0, 3.0)  # several confident angles per seed
    one = decode(out, TINY, objectness_threshold=0.0)[0]
    three = decode(out, TINY, objectness_threshold=0.0, grasps_per_seed=3)[0]
    n = len(one.grasps)
    assert np.array_equal(three.grasps.array[:n], one.grasps.array)  # rank 0 = the single-grasp decode
    assert n < len(three.grasps) <= 3 * n
    extra = three.grasps[n:]
    assert set(three.seed_index[n:]) <= set(one.seed_index)
    for i, seed in zip(range(len(extra)), three.seed_index[n:]):
        first = one.grasps.rotations[list(one.seed_index).index(seed)]
        assert not np.allclose(extra.rotations[i], first)  # another in-plane angle, same approach
        assert np.allclose(extra.approaches[i], first[:, 0], atol=1e-6)
    with pytest.raises(ValueError, match="grasps_per_seed"):
        decode(out, TINY, grasps_per_seed=0)


def test_gaf_reranks_inside_score_bins():
    scores = np.array([0.93, 0.88, 0.52, 0.47, 0.91, 0.12, 0.97])
    tol = np.array([0.010, 0.040, 0.030, 0.000, 0.020, 0.050, 0.000])
    # bins: 0.93, 0.88, 0.91 -> level 0.9; 0.97 -> 1.0; 0.52, 0.47 -> 0.5; 0.12 -> 0.1
    assert score_bins(scores).tolist() == [8, 8, 4, 4, 8, 0, 9]
    assert gaf_order(scores, tol).tolist() == [6, 1, 4, 0, 2, 3, 5]
    new = gaf_rescore(scores, tol)
    assert np.argsort(-new, kind="stable").tolist() == [6, 1, 4, 0, 2, 3, 5]
    assert (score_bins(new) == score_bins(scores)).all()  # scores stay in their bins


def _hand_table(obj_id, points, good_view, rng):
    V, A, D = 300, 12, 4
    mu = np.full((len(points), V, A, D), -1.0, dtype=np.float32)
    mu[:, good_view, 3, 1] = 0.2
    widths = np.full_like(mu, 0.05)
    return ObjectGraspTable.from_arrays(obj_id, points, mu, widths)


def test_view_matching_and_seed_assignment():
    views = fibonacci_views(300)
    idx, ok = match_views(np.eye(3), views, 5.0)
    assert (idx == np.arange(300)).all() and ok.all()
    # a 90 degree turn about z maps the lattice onto itself only approximately
    Rz = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]])
    idx, ok = match_views(Rz, views, 5.0)
    rotated = views[idx] @ Rz.T
    assert (np.einsum("ij,ij->i", rotated, views)[ok] >= np.cos(np.deg2rad(5))).all()
    assert 0.2 < ok.mean() < 1.0
    rng = np.random.default_rng(0)
    pts = np.array([[0.0, 0.0, 0.0], [0.02, 0.0, 0.0]])
    table = _hand_table(0, pts, good_view=7, rng=rng)
    pose = np.eye(4)
    pose[:3, 3] = (0, 0, 0.5)
    cloud = np.array([[0, 0, 0.5], [0.02, 0.001, 0.5], [0.2, 0.2, 0.6], [0.05, 0.0, 0.5]], dtype=np.float32)
    seg = np.array([1, 1, 0, 1])
    frame = FrameLabels(cloud, seg, [table], pose[None])
    a = assign_seeds(frame, cloud.astype(np.float64), np.arange(4), views, LabelConfig())
    assert a.objectness.tolist() == [1, 1, 0, -1]  # matched, matched (1 mm), background, on object but 3 cm away
    assert np.isclose(a.view_target[0, 7], 1.1 - 0.2) and a.view_target[0].sum() == pytest.approx(0.9)
    assert not a.view_mask[2].any() and a.view_mask[0].all()


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    torch.manual_seed(0)
    model = GraspNet(TINY).eval()
    path = save_checkpoint(tmp_path / "tiny.pt", model, step=7)
    loaded = load_model(path)
    assert loaded.cfg == TINY
    x = random_cloud(TINY.num_points)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    assert torch.equal(a.stage2.score, b.stage2.score)
    assert read_checkpoint(path)["step"] == 7
    with pytest.raises(ValueError, match="shape mismatches.*sa1.mlp_module.layer0.conv.weight"):
        load_model(path, config=get_config("cpu"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable weights-only torch checkpoint"):
        load_model(bad)
    torch.save({"weights": 1}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match="no 'model_state_dict'"):
        load_model(tmp_path / "odd.pt")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


def test_reference_style_checkpoint_loads_with_reference_config(tmp_path):
    sd = GraspNet(paper()).state_dict()
    torch.save({"epoch": 18, "model_state_dict": sd, "optimizer_state_dict": {}}, tmp_path / "checkpoint-rs.tar")
    model = load_model(tmp_path / "checkpoint-rs.tar")
    assert model.cfg.name == "reference" and model.cfg.score_target == "log"
    sd.pop("grasp_generator.tolerance.conv3.bias")
    torch.save({"model_state_dict": sd}, tmp_path / "broken.tar")
    with pytest.raises(ValueError, match="missing entries.*tolerance.conv3.bias"):
        load_model(tmp_path / "broken.tar")


def test_detector_bad_input():
    det = GraspDetector(GraspNet(TINY))
    with pytest.raises(ValueError, match="empty"):
        det.detect(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="no finite points"):
        det.detect(np.full((500, 3), np.nan))
    with pytest.raises(ValueError, match=r"\(M, 3\)"):
        det.detect(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="needs at least 128"):
        det.detect(np.random.default_rng(0).random((100, 3)) * 0.2 + [0, 0, 0.5])
    # NaNs mixed into a good cloud are dropped; the result is a valid GraspGroup
    pts = np.random.default_rng(1).random((3000, 3)) * 0.3 + [0, 0, 0.5]
    pts[::7] = np.nan
    res = det.detect(pts)
    assert isinstance(res.grasps, GraspGroup) and res.stats["points_after_preprocessing"] < 3000
    assert set(res.timings) >= {"preprocess", "network", "decode", "gaf", "collision", "nms", "total"}


def test_baseline_finds_force_closure_grasps_on_boxes(scene):
    pts, _ = scene.cloud()
    pts = pts[np.linalg.norm(pts - scene.T_cam_table[:3, 3], axis=1) < 0.3]
    res = GraspDetector(None).detect(pts)
    assert res.detector == "baseline" and len(res.grasps) >= 10
    top = res.grasps[:10]
    labels = np.full(10, -1.0)
    for pose, mesh in zip(scene.poses, scene.meshes):
        lab = force_closure_labels(top.transform(np.linalg.inv(pose)), MeshRaycaster.from_trimesh(mesh))
        labels = np.where(lab > 0, np.where(labels > 0, np.minimum(labels, lab), lab), labels)
    assert (labels > 0).sum() >= 4, labels


@pytest.mark.parametrize("camera", ["realsense", "kinect"])
def test_baseline_openings_are_never_narrower_than_the_object(camera):
    """A 6 cm box and a 6.6 cm can (the widths the old baseline closed on at 5 cm) seen from one
    noisy view: the fingers of at most 10% of the baseline's grasps touch the true meshes (the
    unseen back of an object is the only excuse); the old K=160 neighbourhood gave 24% / 59%."""
    import trimesh

    from graspnet_ros.cameras.base import CameraIntrinsics
    from graspnet_ros.cameras.geometry import depth_to_points
    from graspnet_ros.dataset.synthetic.cameras import apply_depth_noise, camera_model
    from graspnet_ros.dataset.synthetic.render import SceneRaycaster
    from graspnet_ros.gripper import check_collision
    from graspnet_ros.views import look_at

    objects = [trimesh.creation.box((0.06, 0.12, 0.10)), trimesh.creation.cylinder(radius=0.033, height=0.12,
                                                                                     sections=64)]
    poses = np.tile(np.eye(4), (3, 1, 1))
    poses[0, :3, 3], poses[1, :3, 3], poses[2, :3, 3] = (-0.06, 0, 0.05), (0.07, 0, 0.06), (0, 0, -0.01)
    caster = SceneRaycaster(objects + [trimesh.creation.box((0.8, 0.8, 0.02))], poses)
    model = camera_model(camera)
    pose = look_at((0.0, -0.35, 0.45), (0.0, 0.0, 0.05))
    hits = caster.cast(model, pose)
    depth = apply_depth_noise(model, hits.depth, hits.cos_incidence, np.full(hits.depth.shape, 0.6),
                              np.random.default_rng(0))
    intr = CameraIntrinsics(model.width, model.height, model.fx, model.fy, model.cx, model.cy)
    grasps = GraspDetector(None).detect(depth_to_points(depth, intr, organised=False)).grasps
    assert len(grasps) >= 30
    T_cam_table = np.linalg.inv(pose)
    truth = np.vstack([trimesh.sample.sample_surface(m.copy().apply_transform(T_cam_table @ p), 30000, seed=1)[0]
                       for m, p in zip(objects, poses)])
    touching = check_collision(grasps, truth).collision
    assert touching.mean() <= 0.10, (touching.sum(), len(grasps))


def test_loss_decreases_when_overfitting_one_frame(toy_frame, tmp_path):
    torch.manual_seed(0)
    cfg = get_config("cpu")
    label_cfg = LabelConfig(match_radius=0.015)  # the toy labels are sparse (16 points per box)
    source = StaticFrames([toy_frame], voxel_size=0.005)
    fixed = source.get(0, cfg.num_points, np.random.default_rng(123))
    model = GraspNet(cfg).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = train_step(model, [fixed], None, label_cfg=label_cfg).scalars()
    assert first["positive_seeds"] >= 10 and first["stage2_seeds"] >= 3
    history = [train_step(model, [fixed], opt, label_cfg=label_cfg).scalars() for _ in range(15)]
    last = train_step(model, [fixed], None, label_cfg=label_cfg).scalars()
    for key in ("objectness", "view"):
        assert last[key] < 0.5 * first[key], (key, first[key], last[key])
    early = np.mean([h["total"] for h in history[:3]])
    late = np.mean([h["total"] for h in history[-3:]])
    assert late < 0.7 * early, (early, late)
    assert last["total"] < 0.7 * first["total"]


def test_train_writes_checkpoints_and_resumes(toy_frame, tmp_path):
    from graspnet_ros.model.train import TrainConfig, train

    source = StaticFrames([toy_frame], voxel_size=0.005)
    cfg = TrainConfig(steps=3, batch_size=1, checkpoint_every=2, log_every=1)
    r1 = train(source, TINY, cfg, tmp_path, resume=True, progress=False, command="test")
    assert r1["steps_run"] == 3 and np.isfinite(r1["last_loss"])
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 3
    r2 = train(source, TINY, dataclasses.replace(cfg, steps=5), tmp_path, resume=True, progress=False)
    assert r2["steps_run"] == 2  # continued from step 3
    log = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [1, 2, 3, 4, 5]
    assert {"objectness", "view", "angle", "score", "width", "tolerance", "lr"} <= set(log[0])
    assert json.loads((tmp_path / "train_config.json").read_text())["resumed_from_step"] == 3
    assert load_model(tmp_path / "model.pt").cfg == TINY
    with pytest.raises(ValueError, match="differs"):
        train(source, get_config("cpu"), cfg, tmp_path, resume=True, progress=False)


def test_train_stop_at_and_init_from_continue_a_run(toy_frame, tmp_path):
    """--stop-at ends a run early (resumable); --init-from starts a new schedule from another run's step."""
    from graspnet_ros.model.train import TrainConfig, learning_rate, train

    source = StaticFrames([toy_frame], voxel_size=0.005)
    cfg = TrainConfig(steps=6, batch_size=1, checkpoint_every=4, log_every=1)
    r = train(source, TINY, cfg, tmp_path / "a", progress=False, stop_at=2)
    assert r["steps_run"] == 2 and read_checkpoint(tmp_path / "a" / "last.pt")["step"] == 2
    assert read_checkpoint(tmp_path / "a" / "model.pt")["step"] == 2
    # a new run directory continues from a's step 2 under its own schedule (lr drops at 0.5 / 0.83 of 8)
    cont = TrainConfig(steps=8, batch_size=1, checkpoint_every=4, log_every=1, lr=1e-3)
    r2 = train(source, TINY, cont, tmp_path / "b", progress=False, init_from=tmp_path / "a" / "last.pt")
    assert r2["steps_run"] == 6
    log = [json.loads(line) for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log] == [3, 4, 5, 6, 7, 8]
    assert [e["lr"] for e in log] == [learning_rate(s, cont) for s in range(2, 8)]
    meta = json.loads((tmp_path / "b" / "train_config.json").read_text())
    assert meta["resumed_from_step"] == 2 and meta["started_from"].endswith("last.pt")
    # the first run resumes where --stop-at left it
    assert train(source, TINY, cfg, tmp_path / "a", progress=False)["steps_run"] == 4
    with pytest.raises(ValueError, match="nothing to train"):
        train(source, TINY, cfg, tmp_path / "c", progress=False, init_from=tmp_path / "b" / "last.pt")


class _ScenesSource:
    """Frame indices only: 4 scenes of 5 frames (what frame_indices reads)."""

    def __len__(self) -> int:
        return 20

    def scene_groups(self) -> list[np.ndarray]:
        return [np.arange(5 * s, 5 * s + 5) for s in range(4)]


def test_scene_blocked_sampling_is_resumable_and_keeps_scenes_within_a_block():
    from graspnet_ros.model.train import TrainConfig, frame_indices

    src = _ScenesSource()
    cfg = TrainConfig(batch_size=2, scene_block=4, seed=3)

    def batch(step):
        return frame_indices(src, cfg, step, np.random.default_rng([cfg.seed, step]))

    assert batch(6) == batch(6)  # depends on (seed, step) only: a resumed run draws the same frames
    block = [batch(s) for s in range(4, 8)]
    first, second = {i // 5 for b in block for i in b[:1]}, {i // 5 for b in block for i in b[1:]}
    assert len(first) == 1 and len(second) == 1 and first != second  # two scenes per block, one per item
    scenes_seen = {i // 5 for s in range(0, 400, 4) for i in batch(s)}
    assert scenes_seen == {0, 1, 2, 3}
    uniform = dataclasses.replace(cfg, scene_block=0)
    draws = [frame_indices(src, uniform, s, np.random.default_rng([0, s])) for s in range(4)]
    assert len({i // 5 for b in draws for i in b}) > 2  # no blocking: scenes mix freely


@pytest.mark.parametrize("training", [True, False])
def test_channels_last_mlp_equals_reference_convolutions(training):
    """SharedMLP and the heads compute what the reference's Conv2d/Conv1d +
    BatchNorm + ReLU stacks compute (batch statistics in training, folded
    running statistics in eval)."""
    from graspnet_ros.model.backbone import SharedMLP
    from graspnet_ros.model.heads import OperationNet

    torch.manual_seed(0)
    mlp = SharedMLP((5, 8, 4))
    for _ in range(5):  # move the running statistics away from their defaults
        mlp.train()(torch.randn(40, 5) * 3 + 1)
    mlp.train(training)
    x = torch.randn(2, 5, 6, 7)  # reference layout (B, C, M, K)
    ours = mlp(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    ref = x
    for layer in mlp.children():
        ref = torch.relu(layer.bn.bn(layer.conv(ref)))
    assert torch.allclose(ours, ref, atol=1e-5)
    op = OperationNet(12, 16, (8, 8))
    for _ in range(3):
        op.train()(torch.randn(2, 5, 4, 16) + 0.5)
    op.train(training)
    feats = torch.randn(2, 5, 4, 16)  # (B, Ns, D, C)
    score, cls, width = op(feats)
    flat = feats.permute(0, 3, 1, 2).reshape(2, 16, 20)  # reference: (B, C, Ns * D)
    r = torch.relu(op.bn1(op.conv1(flat)))
    r = torch.relu(op.bn2(op.conv2(r)))
    r = op.conv3(r).view(2, 36, 5, 4)
    assert torch.allclose(torch.cat([score, cls, width], 1), r, atol=1e-5)


def test_train_only_a_head_leaves_the_rest_of_the_network_bit_identical(toy_frame, tmp_path):
    """--train-only grasp_generator.tolerance: only that head's weights and batch-norm statistics change."""
    from graspnet_ros.model.config import LossWeights
    from graspnet_ros.model.train import TrainConfig, train

    source = StaticFrames([toy_frame], voxel_size=0.005)
    label_cfg = LabelConfig(match_radius=0.015)
    train(source, TINY, TrainConfig(steps=2, batch_size=1, log_every=1), tmp_path / "a", progress=False,
          label_cfg=label_cfg)
    before = read_checkpoint(tmp_path / "a" / "last.pt")["model_state_dict"]
    head = "grasp_generator.tolerance."
    cfg = TrainConfig(steps=6, batch_size=1, log_every=1, train_only=("grasp_generator.tolerance",))
    train(source, TINY, cfg, tmp_path / "b", progress=False, init_from=tmp_path / "a" / "last.pt",
          weights=LossWeights(tolerance_on="all"), label_cfg=label_cfg)
    after = read_checkpoint(tmp_path / "b" / "last.pt")["model_state_dict"]
    assert after.keys() == before.keys()
    frozen = [k for k in before if not k.startswith(head)]
    assert [k for k in frozen if not torch.equal(before[k], after[k])] == []
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(head) and "weight" in k)
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(head) and "running_mean" in k)
    meta = json.loads((tmp_path / "b" / "train_config.json").read_text())
    assert meta["adam_state"].startswith("restarted") and meta["train_config"]["train_only"] == [head[:-1]]
    with pytest.raises(ValueError, match="no submodule.*grasp_generator"):
        train(source, TINY, dataclasses.replace(cfg, train_only=("tolerance",)), tmp_path / "c", progress=False)
    # resuming b with the whole network trainable would silently mix two optimisers: refused
    with pytest.raises(ValueError, match="other --train-only modules"):
        train(source, TINY, dataclasses.replace(cfg, steps=8, train_only=()), tmp_path / "b", progress=False,
              label_cfg=label_cfg)
    train(source, TINY, dataclasses.replace(cfg, steps=8), tmp_path / "b", progress=False, label_cfg=label_cfg)
    assert json.loads((tmp_path / "b" / "train_config.json").read_text())["adam_state"] == "continued"


def test_tolerance_loss_on_all_entries_counts_ungraspable_ones_as_zero_tolerance():
    """Eq. 7 on hand-made tensors: "graspable" averages over graspable label entries only; "all" over
    every entry of the stage-2 seeds, where an ungraspable entry's target is 0."""
    from types import SimpleNamespace

    from graspnet_ros.model.config import GRASP_MAX_TOLERANCE, LossWeights
    from graspnet_ros.model.labels import GraspTargets
    from graspnet_ros.model.losses import grasp_losses

    B, Ns, A, D, V = 1, 3, 2, 1, 4
    valid = torch.tensor([[True, False], [False, False], [True, True]]).reshape(B, Ns, A, D)
    tol_t = torch.where(valid, 0.02, 0.0)
    pred = torch.full((B, A, Ns, D), 0.01)  # stage-2 layout (B, A, Ns, D): 1 cm everywhere
    z = torch.zeros(B, Ns, A, D)
    targets = GraspTargets(objectness=torch.ones(B, Ns, dtype=torch.long), view_target=torch.zeros(B, Ns, V),
                           view_mask=torch.ones(B, Ns, V, dtype=torch.bool), crop_centers=torch.zeros(B, Ns, 3),
                           crop_rot=torch.eye(3).expand(B, Ns, 3, 3), seed_mask=torch.ones(B, Ns, dtype=torch.bool),
                           score=z, width=z, tolerance=tol_t, valid=valid)
    s1 = SimpleNamespace(approach=SimpleNamespace(objectness=torch.zeros(B, 2, Ns), view_score=torch.zeros(B, Ns, V)))
    s2 = SimpleNamespace(score=pred * 0, angle_cls=pred * 0, width=pred * 0, tolerance=pred)

    def huber(err):  # smooth L1 (delta 1) of an error in units of the largest tolerance
        err = abs(err) / GRASP_MAX_TOLERANCE
        return 0.5 * err ** 2 if err < 1 else err - 0.5

    graspable = grasp_losses(s1, s2, targets, LossWeights(tolerance_on="graspable")).tolerance
    everywhere = grasp_losses(s1, s2, targets, LossWeights(tolerance_on="all")).tolerance
    assert float(graspable) == pytest.approx(huber(0.01))  # 3 graspable entries, each 1 cm too low
    assert float(everywhere) == pytest.approx((3 * huber(0.01) + 3 * huber(0.01)) / 6)  # + 3 entries 1 cm too high
    s2.tolerance = torch.where(valid, 0.02, 0.0).permute(0, 2, 1, 3)  # exact: no loss either way
    assert float(grasp_losses(s1, s2, targets, LossWeights(tolerance_on="all")).tolerance) == 0
    s2.tolerance = torch.full((B, A, Ns, D), 0.02)  # right on graspable entries, 2 cm too high elsewhere
    assert float(grasp_losses(s1, s2, targets, LossWeights(tolerance_on="graspable")).tolerance) == 0
    assert float(grasp_losses(s1, s2, targets, LossWeights(tolerance_on="all")).tolerance) == \
        pytest.approx(3 * huber(0.02) / 6)
    with pytest.raises(ValueError, match="tolerance_on"):
        LossWeights(tolerance_on="some")
