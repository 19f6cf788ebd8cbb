"""Graspness-guided seeds (issue 16 item 2; Wang et al., ICCV 2021): point graspness labels,
seed selection, the graspness head, its loss and checkpoints."""

import dataclasses

import numpy as np
import pytest
import torch

from graspnet_ros.model.checkpoint import load_model, read_checkpoint, save_checkpoint, shipped_checkpoint
from graspnet_ros.model.config import config_from_dict, config_to_dict
from graspnet_ros.model.graspnet import GraspNet
from graspnet_ros.model.graspness import select_graspable_seeds
from graspnet_ros.model.labels import FrameLabels, ObjectGraspTable, point_graspness
from graspnet_ros.model.train import train_step
from test_model import TINY

#: A small network (as test_model's TINY) with graspness seeds.
TINY_G = dataclasses.replace(TINY, name="tiny-graspness", num_view=12, num_angle=4, depths=(0.01, 0.02),
                             seeds="graspness")
pytestmark = pytest.mark.usefixtures("one_torch_thread")
SHAPE = (TINY_G.num_view, TINY_G.num_angle, TINY_G.num_depth)




def _table(mu: np.ndarray, collision: np.ndarray | None = None, obj_id: int = 0) -> ObjectGraspTable:
    points = np.array([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.0, 0.05, 0.0], [0.05, 0.05, 0.0]])[:len(mu)]
    return ObjectGraspTable.from_arrays(obj_id, points, mu, np.full(mu.shape, 0.04), collision)


def test_point_graspness_labels_on_a_hand_made_object():
    mu = np.zeros((4, *SHAPE), np.float32)
    mu[0] = 0.2  # every grasp force-closure at mu 0.2: all feasible
    mu[1] = 0.0  # no valid grasp
    mu[2, :, :, 0] = 0.4  # half of them feasible (depth bin 0), the rest invalid
    mu[3] = 0.8  # force closure only above the 0.6 friction threshold: not feasible
    table = _table(mu)
    assert table.graspness.tolist() == pytest.approx([1.0, 0.0, 0.5, 0.0])
    coll = np.zeros(mu.shape, bool)
    coll[0] = True  # point 0 collides everywhere
    assert _table(mu, coll).graspness.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.0])

    # the scene: object 0 placed 0.5 m in front of the camera; points near each label point, one
    # background point right on label point 0 (background stays 0 whatever is near)
    pose = np.eye(4)
    pose[:3, 3] = (0.0, 0.0, 0.5)
    cloud = np.array([[0.001, 0, 0.5], [0.049, 0, 0.5], [0, 0.051, 0.5], [0.05, 0.05, 0.501], [0, 0, 0.5]])
    seg = np.array([1, 1, 1, 1, 0])
    frame = FrameLabels(cloud, seg, [table], pose[None])
    assert point_graspness(frame).tolist() == pytest.approx([1.0, 0.0, 0.5, 0.0, 0.0])
    assert point_graspness(frame, np.array([2, 0])).tolist() == pytest.approx([0.5, 1.0])
    # normalised per frame: the best point gets 1 even when its raw share is 0.5
    frame = FrameLabels(cloud, seg, [_table(mu, coll)], pose[None])
    assert point_graspness(frame).tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0, 0.0])
    # a point of another object next to label point 0 gets 0, not object 0's graspness
    frame = FrameLabels(cloud, np.array([2, 1, 1, 1, 0]), [table], pose[None])
    assert point_graspness(frame)[0] == 0.0
    # no feasible grasp anywhere: all zero, no division by zero
    frame = FrameLabels(cloud, seg, [_table(np.zeros_like(mu))], pose[None])
    assert not point_graspness(frame).any()


@pytest.mark.parametrize("backend", ["auto", "bucket"])
def test_seeds_come_from_above_the_threshold_and_fall_back_cleanly(backend):
    g = torch.Generator().manual_seed(0)
    xyz = torch.rand(2, 200, 3, generator=g)
    graspness = torch.full((2, 200), 0.05)
    graspness[0, :80] = 0.5  # 80 candidates pass in element 0
    graspness[1, 150:170] = 0.3  # 20 in element 1
    pick = select_graspable_seeds(xyz, graspness, 50, 0.1, backend)
    assert pick.shape == (2, 50)
    assert (pick[0] < 80).all() and len(set(pick[0].tolist())) == 50  # only graspable candidates
    # element 1: all 20 graspable ones, the other 30 spread over the rest, none twice
    p1 = set(pick[1].tolist())
    assert len(p1) == 50 and set(range(150, 170)) <= p1
    # nothing passes: plain FPS over every candidate
    none = select_graspable_seeds(xyz, torch.zeros(2, 200), 50, 0.1, backend)
    assert all(len(set(r.tolist())) == 50 for r in none)
    with pytest.raises(ValueError, match="cannot select"):
        select_graspable_seeds(xyz, graspness, 201, 0.1)
    # tiny candidate sets and every split between passing and not: always distinct seeds
    small = xyz[:1, :10]
    for n_pass in (0, 1, 5, 9, 10):
        g = (torch.arange(10) < n_pass).float()[None]
        for n in (1, 5, 10):
            pick = select_graspable_seeds(small, g, n, 0.1, backend)[0].tolist()
            assert len(set(pick)) == n
            # enough pass: only passing ones; too few: every passing one is in
            assert set(pick) <= set(range(n_pass)) if n_pass >= n else set(range(n_pass)) <= set(pick)


def test_graspness_head_shapes_and_seed_indices():
    torch.manual_seed(0)
    model = GraspNet(TINY_G).eval()
    cloud = torch.rand(2, TINY_G.num_points, 3) * 0.3 + torch.tensor([0.0, 0.0, 0.5])
    with torch.no_grad():
        out = model(cloud)
    s1 = out.stage1
    M, Ns = TINY_G.backbone.npoints[0], TINY_G.num_seeds
    assert s1.graspness.shape == (2, M) and s1.candidate_inds.shape == (2, M)
    assert s1.seed_xyz.shape == (2, Ns, 3) and s1.backbone.seed_features.shape == (2, Ns, 64)
    assert out.stage2.score.shape == (2, TINY_G.num_angle, Ns, TINY_G.num_depth)
    for b in range(2):
        assert torch.equal(cloud[b, s1.backbone.seed_inds[b]], s1.seed_xyz[b])
        assert set(s1.backbone.seed_inds[b].tolist()) <= set(s1.candidate_inds[b].tolist())
    # the same weights run with FPS seeds
    model.set_seed_mode("fps")
    with torch.no_grad():
        assert model(cloud).stage1.graspness is None


def _training_frame(seed: int = 0) -> FrameLabels:
    """A 6 cm cube of points (object 0) on a plane of background points, labels on a 1 cm grid."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-0.03, 0.03, 7)] * 2, indexing="ij"), -1).reshape(-1, 2)
    points = np.concatenate([grid, np.full((len(grid), 1), -0.03)], axis=1)  # the cube's top face
    mu = np.where(rng.random((len(points), *SHAPE)) < 0.5, 0.3, 0.0).astype(np.float32)
    mu[points[:, 0] < 0] = 0.0  # one half of the face has no feasible grasp
    table = ObjectGraspTable.from_arrays(0, points, mu, np.full(mu.shape, 0.04))
    pose = np.eye(4)
    pose[:3, 3] = (0.0, 0.0, 0.5)
    n = TINY_G.num_points
    obj = np.concatenate([rng.uniform(-0.03, 0.03, (n // 2, 2)), np.full((n // 2, 1), -0.03)], axis=1) + pose[:3, 3]
    bg = np.concatenate([rng.uniform(-0.15, 0.15, (n - n // 2, 2)), np.full((n - n // 2, 1), 0.04)], axis=1)
    bg[:, :2] += np.sign(bg[:, :2]) * 0.05  # keep the background off the cube
    bg += pose[:3, 3]
    return FrameLabels(np.concatenate([obj, bg]), np.r_[np.ones(n // 2), np.zeros(n - n // 2)], [table], pose[None])


def test_graspness_loss_trains_the_head():
    torch.manual_seed(0)
    model = GraspNet(TINY_G).train()
    frames = [_training_frame(0), _training_frame(1)]
    first = train_step(model, frames, None)
    assert first.graspness is not None and torch.isfinite(first.graspness)
    first.total.backward()
    grads = [p.grad for p in model.view_estimator.graspness.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    assert 0 < first.scalars()["graspable_true"] < 1
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(12):
        train_step(model, frames, opt)
    last = train_step(model, frames, None)
    assert last.scalars()["graspness"] < 0.5 * first.scalars()["graspness"]


def test_checkpoint_keeps_the_seed_mode_and_the_head(tmp_path):
    torch.manual_seed(0)
    model = GraspNet(TINY_G).eval()
    path = save_checkpoint(tmp_path / "g.pt", model, step=3)
    assert read_checkpoint(path)["config"]["seeds"] == "graspness"
    loaded = load_model(path)
    assert loaded.cfg == TINY_G and loaded.seed_mode == "graspness"
    cloud = torch.rand(1, TINY_G.num_points, 3) * 0.3 + torch.tensor([0.0, 0.0, 0.5])
    with torch.no_grad():
        a, b = model(cloud), loaded(cloud)
    assert torch.equal(a.stage1.graspness, b.stage1.graspness) and torch.equal(a.stage2.score, b.stage2.score)
    # a graspness network does not load as an FPS one (the head's weights are unexpected)
    with pytest.raises(ValueError, match="unexpected entries.*graspness"):
        load_model(path, config=dataclasses.replace(TINY_G, seeds="fps"))
    assert config_from_dict(config_to_dict(TINY_G)) == TINY_G
    with pytest.raises(ValueError, match="seeds must be one of"):
        dataclasses.replace(TINY_G, seeds="random")


def test_old_checkpoint_loads_as_fps_without_a_head():
    payload = read_checkpoint(shipped_checkpoint())
    assert "seeds" not in payload["config"]  # written before graspness seeding existed
    model = load_model(shipped_checkpoint())
    assert model.cfg.seeds == "fps" and model.seed_mode == "fps"
    assert not any("graspness" in k for k in model.state_dict())
    with pytest.raises(ValueError, match="no graspness head"):
        model.set_seed_mode("graspness")
