"""The ``reference`` preset: graspnet-baseline's demo pipeline around its checkpoints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from graspnet_ros.grasp import GraspGroup, rotation_from_approach
from graspnet_ros.model.config import BackboneConfig, paper, reference
from graspnet_ros.model.decode import decode
from graspnet_ros.model.graspnet import GraspNet
from graspnet_ros.model.reference_collision import model_free_collision, model_free_collision_naive
from graspnet_ros.model.reference_detector import ReferenceDemoConfig, ReferenceDetector, demo_points


def _box_cloud(rng: np.random.Generator, n: int = 3000) -> np.ndarray:
    table = np.c_[rng.uniform(-0.15, 0.15, (n // 2, 2)), np.full(n // 2, 0.6)]
    box = np.c_[rng.uniform(-0.03, 0.03, (n - n // 2, 2)), rng.uniform(0.52, 0.6, n - n // 2)]
    return np.concatenate([table, box])


def _grasps(rng: np.random.Generator, n: int) -> GraspGroup:
    approach = rng.normal(size=(n, 3)) + [0, 0, 3]
    rot = rotation_from_approach(approach, rng.uniform(0, np.pi, n))
    centre = np.c_[rng.uniform(-0.06, 0.06, (n, 2)), rng.uniform(0.5, 0.6, n)]
    return GraspGroup.from_components(rot, centre, rng.uniform(0.01, 0.1, n), rng.choice([0.01, 0.02, 0.03, 0.04], n),
                                      rng.random(n))


def test_model_free_collision_matches_the_dense_reference():
    rng = np.random.default_rng(0)
    cloud, grasps = _box_cloud(rng), _grasps(rng, 300)
    got = model_free_collision(grasps, cloud)
    assert np.array_equal(got, model_free_collision_naive(grasps, cloud))
    assert 0 < got.sum() < len(got)  # both outcomes occur
    for kw in (dict(voxel_size=0.005, approach_dist=0.02, collision_thresh=0.05), dict(approach_dist=0.0)):
        fast, naive = model_free_collision(grasps, cloud, **kw), model_free_collision_naive(grasps, cloud, **kw)
        assert np.array_equal(fast, naive)


def test_model_free_collision_rejects_bad_voxel():
    with pytest.raises(ValueError, match="voxel_size"):
        model_free_collision(_grasps(np.random.default_rng(0), 2), np.zeros((5, 3)), voxel_size=0.0)


def test_decode_reference_refuses_several_grasps_per_seed():
    cfg = dataclasses.replace(reference(), num_points=600, backbone=BackboneConfig(npoints=(128, 64, 32, 16)))
    model = GraspNet(cfg).eval()
    with torch.no_grad():
        out = model(torch.from_numpy(_box_cloud(np.random.default_rng(1), 600).astype(np.float32))[None])
    with pytest.raises(ValueError, match="one grasp per seed"):
        decode(out, cfg, grasps_per_seed=3)
    dec = decode(out, cfg)[0]
    # score = raw score x tolerance / 0.05 at the class-picked angle and score-picked depth
    s2 = out.stage2
    seeds = dec.seed_index
    a = s2.angle_cls[0].argmax(0)[seeds]  # (n, D)
    sc = torch.gather(s2.score[0][:, seeds], 0, a[None])[0]
    d = sc.argmax(1)
    tol = torch.gather(s2.tolerance[0][:, seeds], 0, a[None])[0]
    expect = sc[torch.arange(len(seeds)), d] * tol[torch.arange(len(seeds)), d] / 0.05
    assert np.allclose(dec.grasps.scores, expect.numpy(), rtol=1e-6)
    assert np.allclose(dec.grasps.depths, (d.numpy() + 1) * 0.01)


def test_reference_detector_follows_the_demo():
    rng = np.random.default_rng(2)
    cloud = _box_cloud(rng, 2000)
    # dropped: the demo keeps depth > 0
    cloud = np.concatenate([cloud, [[np.nan, 0, 1], [0.0, 0.0, 0.0], [0.1, 0.1, -0.2]]])
    cfg = dataclasses.replace(reference(), num_points=800, backbone=BackboneConfig(npoints=(128, 64, 32, 16)))
    torch.manual_seed(0)
    det = ReferenceDetector(GraspNet(cfg), ReferenceDemoConfig(seed=5))
    res = det.detect(cloud)
    assert len(res.cloud) == 2000 and np.isfinite(res.cloud).all()
    # the demo's draw after np.random.seed(5): choice without replacement from the valid points
    np.random.seed(5)
    want = demo_points(cloud)[np.random.choice(2000, 800, replace=False)]
    with torch.no_grad():
        out = det.model(torch.from_numpy(want.astype(np.float32))[None])
    dec = decode(out, cfg)[0].grasps
    assert res.stats["candidates"] == len(dec)
    free = dec.filter(~model_free_collision(dec, res.cloud))
    assert res.stats["collision_free"] == len(free)
    assert np.all(np.diff(res.grasps.scores) <= 0)  # best first
    assert set(map(tuple, res.grasps.translations.round(9))) <= set(map(tuple, free.translations.round(9)))
    with pytest.raises(ValueError, match="reference"):
        ReferenceDetector(GraspNet(paper()))
    with pytest.raises(ValueError, match="positive depth"):
        det.detect(np.array([[0.0, 0.0, -1.0]]))


def test_detect_command_reference_preset(tmp_path, capsys):
    from graspnet_ros.cli import main

    torch.manual_seed(1)
    ckpt = tmp_path / "checkpoint-random.tar"  # graspnet-baseline's checkpoint format: no config inside
    torch.save({"epoch": 1, "model_state_dict": GraspNet(reference()).state_dict()}, ckpt)
    np.save(tmp_path / "cloud.npy", _box_cloud(np.random.default_rng(3), 24000))
    out = tmp_path / "out" / "g"
    argv = ["detect", "--cloud", str(tmp_path / "cloud.npy"), "--checkpoint", str(ckpt), "--preset", "reference",
            "--out", str(out), "--threads", "2"]
    assert main(argv) == 0
    grasps = np.load(out.with_suffix(".npy"))
    assert grasps.ndim == 2 and grasps.shape[1] == 17
    assert np.all(np.diff(grasps[:, 0]) <= 0)
    assert main(["detect", "--cloud", str(tmp_path / "cloud.npy"), "--preset", "reference",
                 "--out", str(out)]) != 0
    assert "--checkpoint" in capsys.readouterr().err
