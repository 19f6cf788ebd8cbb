"""Point ops of graspnet_ros.model against their naive twins (float64), with gradient checks."""

import numpy as np
import pytest
import torch

from graspnet_ros.grasp import rotation_from_approach
from graspnet_ros.model import pointops as po
from graspnet_ros.model.cylinder import (cylinder_group, cylinder_query, cylinder_query_naive,
                                         viewpoint_to_rotation)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def rand(gen, *shape, dtype=torch.float64):
    return torch.rand(*shape, generator=gen, dtype=dtype)


def _tied_grid(gen, n: int, cells: int = 6, step: float = 0.01) -> torch.Tensor:
    """(1, n, 3) float32 points on a coarse grid: many exactly equal distances."""
    pts = torch.randint(0, cells, (1, n, 3), generator=gen).float() * step + 0.2
    pts[0, 3] = torch.tensor([0.001, 0.002, 0.0])  # |p|^2 <= 1e-3: the kernel never samples it
    return pts


@pytest.mark.parametrize("n", [37, 64, 300, 700])  # 32, 64, 256 and 512 threads in the kernel
def test_fps_breaks_exact_ties_as_the_cuda_kernel(gen, n):
    xyz = _tied_grid(gen, n)
    ref = po.farthest_point_sample_cuda_naive(xyz, 24)
    assert torch.equal(po.farthest_point_sample(xyz, 24), ref)
    assert torch.equal(po.farthest_point_sample(xyz, 24, backend="torch"), ref)
    assert ref[0, 0] == 0 and 3 not in ref[0].tolist()
    # the tie rule matters: first-index FPS (fpsample) picks other points on these clouds
    if n >= 300:
        assert not torch.equal(po.farthest_point_sample(xyz, 24, backend="fpsample"), ref)


def test_fps_cuda_matches_naive_on_random_clouds(gen):
    xyz = rand(gen, 2, 150, 3, dtype=torch.float32)
    ref = po.farthest_point_sample_cuda_naive(xyz, 16)
    assert torch.equal(po.farthest_point_sample(xyz, 16), ref)
    assert torch.equal(po.farthest_point_sample(xyz, 16, backend="torch"), ref)
    assert all(len(set(r.tolist())) == 16 for r in ref)


def test_fps_tie_order_is_the_reduction_order():
    # 8 threads: bit-reversed lanes 0, 4, 2, 6, 1, 5, 3, 7, then index inside a lane
    assert po.cuda_threads(8) == 8 and po.cuda_threads(20000) == 512 and po.cuda_threads(15) == 8
    assert po.fps_tie_order(10).tolist() == [0, 8, 4, 2, 6, 1, 9, 5, 3, 7]


def test_fps_fpsample_matches_naive(gen):
    xyz = rand(gen, 2, 200, 3, dtype=torch.float32)
    ref = po.farthest_point_sample_naive(xyz, 20)
    assert torch.equal(po.farthest_point_sample(xyz, 20, backend="fpsample"), ref)


def test_fps_bad_count(gen):
    with pytest.raises(ValueError, match="cannot sample"):
        po.farthest_point_sample(rand(gen, 1, 5, 3), 6)


def test_first_k():
    mask = torch.tensor([[0, 1, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]], dtype=torch.bool)
    idx, count = po.first_k(mask, 3)
    assert idx.tolist() == [[1, 3, 4], [0, 0, 0], [2, 2, 2]]
    assert count.tolist() == [3, 0, 1]


def test_ball_query_matches_naive(gen):
    xyz = rand(gen, 2, 80, 3)
    centers = torch.cat([po.gather_points(xyz, torch.tensor([[0, 5, 9], [1, 2, 3]])),
                         torch.full((2, 1, 3), 5.0, dtype=torch.float64)], dim=1)  # last centre: no neighbour
    for dtype in (torch.float64, torch.float32):  # brute force / numba grid kernel
        got = po.ball_query(xyz.to(dtype), centers.to(dtype), 0.3, 8)
        assert torch.equal(got, po.ball_query_naive(xyz.to(dtype), centers.to(dtype), 0.3, 8))
        assert (got[:, -1] == 0).all()


def test_ball_query_exact_on_boundaries_and_crowds(gen):
    # grid points: many at exactly the radius (excluded by "<"), balls holding far more than nsample
    xyz = _tied_grid(gen, 600, cells=8, step=0.005)
    centers = xyz[:, 100:140]
    got = po.ball_query(xyz, centers, 0.01, 16)
    assert torch.equal(got, po.ball_query_naive(xyz, centers, 0.01, 16))
    assert torch.equal(po.ball_query(xyz, centers, 0.01, 16), po.ball_query(xyz.double(), centers.double(), 0.01, 16))


def test_group_points_matches_naive_and_gradcheck(gen):
    feats = rand(gen, 2, 4, 10).requires_grad_()
    idx = torch.randint(0, 10, (2, 3, 5), generator=gen)
    assert torch.allclose(po.group_points(feats, idx), po.group_points_naive(feats, idx))
    assert torch.autograd.gradcheck(lambda f: po.group_points(f, idx), (feats,))
    cl = po.group_points_cl(feats.transpose(1, 2), idx)
    assert torch.allclose(cl.permute(0, 3, 1, 2), po.group_points(feats, idx))


def test_query_and_group_layout(gen):
    xyz = rand(gen, 1, 50, 3)
    feats = rand(gen, 1, 2, 50)
    centers = xyz[:, :4]
    out = po.query_and_group(xyz, centers, feats, 0.4, 6, normalize_xyz=True)
    assert out.shape == (1, 5, 4, 6)
    assert out[:, :3].abs().max() < 1.0  # relative coordinates divided by the radius
    cl = po.query_and_group_cl(xyz, centers, feats.transpose(1, 2), 0.4, 6)
    assert torch.allclose(cl.permute(0, 3, 1, 2), out)


def test_three_nn_matches_naive(gen):
    unknown, known = rand(gen, 2, 15, 3), rand(gen, 2, 9, 3)
    for dtype in (torch.float64, torch.float32):
        d, i = po.three_nn(unknown.to(dtype), known.to(dtype))
        dn, iN = po.three_nn_naive(unknown.to(dtype), known.to(dtype))
        assert torch.equal(i, iN)
        assert torch.allclose(d, dn, rtol=1e-6, atol=0)


def test_three_nn_targets_on_known_points_and_ties(gen):
    known = _tied_grid(gen, 60, cells=4, step=0.01)
    unknown = torch.cat([known[:, :20], known[:, 30:40] + 0.005], dim=1)  # on known points, then midway
    d, i = po.three_nn(unknown, known)
    dn, iN = po.three_nn_naive(unknown, known)
    assert torch.equal(i, iN) and torch.equal(d, dn)  # float32 bit for bit, ties in index order
    assert (d[0, :20, 0] == 0).all()  # distance exactly 0: the weight goes to that point (and its duplicates)
    w = po.interpolation_weights(d)
    assert ((w * (d == 0))[0, :20].sum(-1) > 1 - 1e-5).all()


def test_three_interpolate_matches_naive_and_gradcheck(gen):
    feats = rand(gen, 2, 3, 7).requires_grad_()
    unknown, known = rand(gen, 2, 5, 3), rand(gen, 2, 7, 3)
    dist, idx = po.three_nn(unknown, known)
    w = po.interpolation_weights(dist).requires_grad_()
    assert torch.allclose(w.sum(-1), torch.ones(2, 5, dtype=torch.float64))
    assert torch.allclose(po.three_interpolate(feats, idx, w), po.three_interpolate_naive(feats, idx, w))
    assert torch.autograd.gradcheck(lambda f, ww: po.three_interpolate(f, idx, ww), (feats, w))
    assert torch.allclose(po.three_interpolate_cl(feats.transpose(1, 2), idx, w).transpose(1, 2),
                          po.three_interpolate(feats, idx, w))


def test_viewpoint_rotation_equals_core():
    rng = np.random.default_rng(1)
    approach = np.concatenate([rng.normal(size=(20, 3)), [[0, 0, 1.0], [0, 0, -2.0]]])
    angle = rng.uniform(0, np.pi, len(approach))
    ours = viewpoint_to_rotation(torch.from_numpy(approach), torch.from_numpy(angle)).numpy()
    assert np.allclose(ours, rotation_from_approach(approach, angle), atol=1e-12)


def _random_frames(gen, B, M):
    approach = torch.randn(B, M, 3, generator=gen, dtype=torch.float64)
    angle = rand(gen, B, M) * np.pi
    return viewpoint_to_rotation(approach, angle)


def test_cylinder_query_matches_naive(gen):
    xyz = rand(gen, 2, 120, 3) * 0.2
    centers = xyz[:, :6]
    rot = _random_frames(gen, 2, 6)
    hmaxs = (0.01, 0.02, 0.04)
    for dtype in (torch.float64, torch.float32):  # brute force / numba grid kernel
        got = cylinder_query(xyz.to(dtype), centers.to(dtype), rot.to(dtype), 0.05, -0.02, hmaxs, 5)
        assert got.shape == (2, 6, 3, 5)
        assert torch.equal(got, cylinder_query_naive(xyz.to(dtype), centers.to(dtype), rot.to(dtype), 0.05,
                                                     -0.02, hmaxs, 5))


def test_cylinder_query_has_no_cap(gen):
    # 1500 points inside the tallest cylinder; the shortest one's members come late in index order,
    # so a search limited to the tallest cylinder's first 256 members misses them
    tall = (torch.rand(1, 1500, 3, generator=gen) * torch.tensor([0.03, 0.04, 0.04])
            + torch.tensor([0.015, -0.02, -0.02]))
    short = (torch.rand(1, 100, 3, generator=gen) * torch.tensor([0.02, 0.02, 0.02])
             + torch.tensor([-0.015, -0.01, -0.01]))
    xyz = (torch.cat([tall, short], dim=1) + 0.5).float()
    centers = torch.full((1, 2, 3), 0.5)
    rot = torch.eye(3).expand(1, 2, 3, 3).clone()
    rot[0, 1] = _random_frames(gen, 1, 1)[0, 0].float()
    hmaxs = (0.01, 0.02, 0.03, 0.04)
    got = cylinder_query(xyz, centers, rot, 0.05, -0.02, hmaxs, 64)
    assert torch.equal(got, cylinder_query_naive(xyz, centers, rot, 0.05, -0.02, hmaxs, 64))
    assert (got[0, 0, 0] >= 1500).all()  # depth 0.01: only the late points qualify


def test_cylinder_group_local_frame(gen):
    xyz = rand(gen, 1, 400, 3) * 0.1
    centers = xyz[:, :8]
    rot = _random_frames(gen, 1, 8)
    idx = cylinder_query(xyz, centers, rot, 0.03, -0.02, (0.01, 0.03), 6)
    local = cylinder_group(xyz, centers, rot, idx)
    assert local.shape == (1, 8, 2, 6, 3)
    for d, hmax in enumerate((0.01, 0.03)):
        loc = local[:, :, d]
        inside = (loc[..., 1] ** 2 + loc[..., 2] ** 2 < 0.03 ** 2) & (loc[..., 0] > -0.02) & (loc[..., 0] < hmax)
        assert inside.all()
    p = xyz[0, idx[0, 3, 1, 2]]
    assert torch.allclose(local[0, 3, 1, 2], rot[0, 3].T @ (p - centers[0, 3]))


def test_kdtree_searches_match_exact_when_pools_suffice(gen):
    xyz = rand(gen, 2, 300, 3, dtype=torch.float32) * 0.2
    centers = xyz[:, :10]
    assert torch.equal(po.ball_query_kdtree(xyz, centers, 0.05, 8, pool=300), po.ball_query(xyz, centers, 0.05, 8))
    rot = _random_frames(gen, 2, 10).float()
    from graspnet_ros.model.cylinder import cylinder_query_kdtree

    hmaxs = (0.01, 0.02, 0.03, 0.04)
    assert torch.equal(cylinder_query_kdtree(xyz, centers, rot, 0.05, -0.02, hmaxs, 6, pool=300),
                       cylinder_query(xyz, centers, rot, 0.05, -0.02, hmaxs, 6))
    # small pools: still only points inside the ball
    idx = po.ball_query_kdtree(xyz, centers, 0.05, 8, pool=10)
    d = (po.group_points_cl(xyz, idx) - centers.unsqueeze(2)).norm(dim=-1)
    assert (d < 0.05).all()


def test_knn_grouping_takes_the_nearest_points_inside_the_radius(gen):
    xyz = rand(gen, 1, 400, 3, dtype=torch.float32) * 0.2
    centers = xyz[:, :12]
    grouped = po.query_and_group_cl(xyz, centers, None, 0.05, 8, normalize_xyz=False, search="knn")
    d = torch.cdist(centers[0], xyz[0], compute_mode="donot_use_mm_for_euclid_dist")  # brute force
    for m in range(12):
        inside = d[m][d[m] < 0.05].sort().values
        got = grouped[0, m].norm(dim=-1).sort().values
        want = inside[:8] if len(inside) >= 8 else torch.cat([inside, inside[:1].expand(8 - len(inside))]).sort().values
        assert torch.allclose(got, want, atol=1e-6)


def test_bucket_fps_spreads_points(gen):
    xyz = rand(gen, 1, 2000, 3, dtype=torch.float32)
    idx = po.farthest_point_sample(xyz, 64, backend="bucket")
    assert len(set(idx[0].tolist())) == 64
    pts = po.gather_points(xyz, idx)[0]
    d = torch.cdist(pts, pts) + torch.eye(64) * 10
    exact = po.gather_points(xyz, po.farthest_point_sample(xyz, 64, backend="fpsample"))[0]
    de = torch.cdist(exact, exact) + torch.eye(64) * 10
    assert d.min() > 0.5 * de.min()  # coverage close to exact FPS


def test_pooled_crop_equals_mlp_over_every_slot(gen):
    from graspnet_ros.model.backbone import SharedMLP
    from graspnet_ros.model.cylinder import cylinder_crop, cylinder_crop_pooled

    xyz = rand(gen, 2, 500, 3, dtype=torch.float32) * 0.1
    centers = xyz[:, :20]
    rot = _random_frames(gen, 2, 20).float()
    mlp = SharedMLP((3, 16, 32)).eval()
    args = (0.03, -0.02, (0.01, 0.02, 0.03), 12)
    with torch.no_grad():
        want = mlp(cylinder_crop(xyz, centers, rot, *args)).amax(dim=3)
        got = cylinder_crop_pooled(mlp, xyz, centers, rot, *args)
    assert got.shape == want.shape == (2, 20, 3, 32)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)


def test_row_blocks_on_threads_give_the_single_thread_result(gen):
    """Ball and cylinder queries over 700 centres split into blocks on 2 threads (run_rows) equal the
    naive kernels' rows; the pooled crop's gather-max equals torch's gather then amax."""
    from graspnet_ros.model.cylinder import gather_max

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        xyz = (rand(gen, 1, 3000, 3) * 0.2).float()
        centers = xyz[:, :700]
        got = po.ball_query(xyz, centers, 0.02, 16)
        assert torch.equal(got, po.ball_query_naive(xyz, centers, 0.02, 16))
        rot = _random_frames(gen, 1, 700).float()
        hmaxs = (0.01, 0.02)
        got = cylinder_query(xyz, centers, rot, 0.02, -0.02, hmaxs, 8)
        assert torch.equal(got, cylinder_query_naive(xyz, centers, rot, 0.02, -0.02, hmaxs, 8))
        feats = torch.randn(500, 32, generator=gen)
        index = torch.randint(0, 500, (900, 12), generator=gen)
        index[:, 6:] = index[:, :1]  # padding repeats a slot, as the crops do
        assert torch.equal(gather_max(feats, index), feats[index].amax(dim=1))
    finally:
        torch.set_num_threads(before)
