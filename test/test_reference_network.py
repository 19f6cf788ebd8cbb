"""graspnet-baseline's GraspNet, random weights in its parameter layout, saved as its
checkpoints are, against a plain-loop forward pass written here from its code
(models/*.py, pointnet2/*.py and the CUDA kernels' loops).

The network is the ``reference`` config with fewer FPS samples (the layer
shapes, hence the checkpoint, do not depend on them), so the loops stay fast.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import nn

from graspnet_ros.model.checkpoint import load_model
from graspnet_ros.model.config import BackboneConfig, reference
from graspnet_ros.model.decode import decode

F32 = np.float32


# ---------------------------------------------------------------------------
# graspnet-baseline's parameter layout (pytorch_utils.SharedMLP, models/modules.py)
# ---------------------------------------------------------------------------
class _BN(nn.Sequential):  # pytorch_utils._BNBase: a Sequential holding "bn"
    def __init__(self, c: int, kind=nn.BatchNorm2d) -> None:
        super().__init__()
        self.add_module("bn", kind(c))


class _Conv(nn.Sequential):  # pytorch_utils.Conv2d with bn=True: conv (no bias), bn, activation
    def __init__(self, a: int, b: int) -> None:
        super().__init__()
        self.add_module("conv", nn.Conv2d(a, b, 1, bias=False))
        self.add_module("bn", _BN(b))
        self.add_module("activation", nn.ReLU())


class _SharedMLP(nn.Sequential):
    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        for i in range(len(widths) - 1):
            self.add_module(f"layer{i}", _Conv(widths[i], widths[i + 1]))


class _Head(nn.Module):  # ApproachNet / OperationNet / ToleranceNet
    def __init__(self, c_in: int, h1: int, h2: int, c_out: int) -> None:
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv1d(c_in, h1, 1), nn.Conv1d(h1, h2, 1), nn.Conv1d(h2, c_out, 1)
        self.bn1, self.bn2 = nn.BatchNorm1d(h1), nn.BatchNorm1d(h2)


def _reference_layout() -> nn.Module:
    root = nn.Module()
    root.view_estimator = nn.Module()
    bb = root.view_estimator.backbone = nn.Module()
    for name, widths in (("sa1", [3, 64, 64, 128]), ("sa2", [131, 128, 128, 256]), ("sa3", [259, 128, 128, 256]),
                         ("sa4", [259, 128, 128, 256])):
        sa = nn.Module()
        sa.mlp_module = _SharedMLP(widths)
        setattr(bb, name, sa)
    for name in ("fp1", "fp2"):
        fp = nn.Module()
        fp.mlp = _SharedMLP([512, 256, 256])
        setattr(bb, name, fp)
    root.view_estimator.vpmodule = _Head(256, 256, 302, 302)
    root.grasp_generator = nn.Module()
    root.grasp_generator.crop = nn.Module()
    root.grasp_generator.crop.mlps = _SharedMLP([3, 64, 128, 256])
    root.grasp_generator.operation = _Head(256, 128, 128, 36)
    root.grasp_generator.tolerance = _Head(256, 128, 128, 12)
    return root


def _randomise(model: nn.Module, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            state[k] = torch.tensor(7)
        elif k.endswith("running_var"):
            state[k] = torch.rand(v.shape, generator=g) + 0.5
        elif k.endswith("running_mean") or k.endswith("bias"):
            state[k] = torch.randn(v.shape, generator=g) * 0.1
        elif ".bn" in k:  # batch-norm scale
            state[k] = torch.rand(v.shape, generator=g) + 0.5
        else:  # conv weights, kaiming-like
            state[k] = torch.randn(v.shape, generator=g) * math.sqrt(2.0 / v.shape[1])
    return state


# ---------------------------------------------------------------------------
# The forward pass in loops, from the reference code
# ---------------------------------------------------------------------------
def _fps(pts: np.ndarray, m: int) -> list[int]:
    """furthest_point_sampling_kernel: threads, strided scans, tree reduction."""
    n = len(pts)
    threads = max(min(1 << int(math.log(n) / math.log(2.0)), 512), 1)
    temp = [F32(1e10)] * n
    out, old = [0], 0
    for _ in range(1, m):
        x1, y1, z1 = pts[old]
        best_t, besti_t = [], []
        for tid in range(threads):
            besti, best = 0, F32(-1)
            for k in range(tid, n, threads):
                x2, y2, z2 = pts[k]
                if float(x2 * x2 + y2 * y2 + z2 * z2) <= 1e-3:
                    continue
                d2 = min((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1) + (z2 - z1) * (z2 - z1), temp[k])
                temp[k] = d2
                if d2 > best:
                    besti, best = k, d2
            best_t.append(best)
            besti_t.append(besti)
        s = threads // 2
        while s:
            for t in range(s):
                if best_t[t + s] > best_t[t]:
                    best_t[t], besti_t[t] = best_t[t + s], besti_t[t + s]
            s //= 2
        old = besti_t[0]
        out.append(old)
    return out


def _ball_query(pts: np.ndarray, ctr: np.ndarray, radius: float, nsample: int) -> np.ndarray:
    r2 = F32(radius) * F32(radius)
    idx = np.zeros((len(ctr), nsample), dtype=np.int64)
    for j, (nx, ny, nz) in enumerate(ctr):
        cnt = 0
        for k, (x, y, z) in enumerate(pts):
            if cnt == nsample:
                break
            if (nx - x) * (nx - x) + (ny - y) * (ny - y) + (nz - z) * (nz - z) < r2:
                if cnt == 0:
                    idx[j, :] = k
                idx[j, cnt] = k
                cnt += 1
    return idx


def _three_nn(unk: np.ndarray, kn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dist = np.zeros((len(unk), 3), dtype=F32)
    idx = np.zeros((len(unk), 3), dtype=np.int64)
    for j, (ux, uy, uz) in enumerate(unk):
        best = [(math.inf, 0)] * 3  # the kernel: double 1e40
        for k, (x, y, z) in enumerate(kn):
            d = (ux - x) * (ux - x) + (uy - y) * (uy - y) + (uz - z) * (uz - z)
            if d < best[0][0]:
                best = [(d, k), best[0], best[1]]
            elif d < best[1][0]:
                best = [best[0], (d, k), best[1]]
            elif d < best[2][0]:
                best = [best[0], best[1], (d, k)]
        dist[j] = [np.sqrt(F32(b[0])) for b in best]
        idx[j] = [b[1] for b in best]
    return dist, idx


def _cylinder_query(pts: np.ndarray, ctr: np.ndarray, rot: np.ndarray, radius: float, hmin: float, hmax: float,
                    nsample: int) -> np.ndarray:
    r2 = F32(radius) * F32(radius)
    idx = np.zeros((len(ctr), nsample), dtype=np.int64)
    for j in range(len(ctr)):
        r0, r1, r2_, r3, r4, r5, r6, r7, r8 = rot[j].reshape(9)
        cnt = 0
        for k in range(len(pts)):
            if cnt == nsample:
                break
            x, y, z = pts[k] - ctr[j]
            x_rot = r0 * x + r3 * y + r6 * z
            y_rot = r1 * x + r4 * y + r7 * z
            z_rot = r2_ * x + r5 * y + r8 * z
            if y_rot * y_rot + z_rot * z_rot < r2 and x_rot > F32(hmin) and x_rot < F32(hmax):
                if cnt == 0:
                    idx[j, :] = k
                idx[j, cnt] = k
                cnt += 1
    return idx


def _bn(x: torch.Tensor, sd: dict, p: str) -> torch.Tensor:
    """Eval-mode batch norm over channel axis 1, unfused."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return ((x - sd[p + "running_mean"].view(shape)) / torch.sqrt(sd[p + "running_var"].view(shape) + 1e-5)
            * sd[p + "weight"].view(shape) + sd[p + "bias"].view(shape))


def _shared_mlp(x: torch.Tensor, sd: dict, p: str) -> torch.Tensor:
    """(C, ...) channels-first through layer{i}: 1x1 conv, bn, relu."""
    i = 0
    while f"{p}layer{i}.conv.weight" in sd:
        w = sd[f"{p}layer{i}.conv.weight"][:, :, 0, 0]
        x = torch.relu(_bn(torch.einsum("oc,bc...->bo...", w, x), sd, f"{p}layer{i}.bn.bn."))
        i += 1
    return x


def _head(x: torch.Tensor, sd: dict, p: str) -> torch.Tensor:
    def conv(x, n):
        return torch.einsum("oc,bcn->bon", sd[f"{p}conv{n}.weight"][:, :, 0], x) + sd[f"{p}conv{n}.bias"][None, :, None]
    x = torch.relu(_bn(conv(x, 1), sd, p + "bn1."))
    x = torch.relu(_bn(conv(x, 2), sd, p + "bn2."))
    return conv(x, 3)


def _views(n: int = 300) -> torch.Tensor:  # loss_utils.generate_grasp_views
    phi = (np.sqrt(5) - 1) / 2
    views = []
    for i in range(n):
        zi = (2 * i + 1) / n - 1
        r = np.sqrt(1 - zi ** 2)
        views.append([r * np.cos(2 * i * np.pi * phi), r * np.sin(2 * i * np.pi * phi), zi])
    return torch.from_numpy(np.array(views).astype(np.float32))


def _viewpoint_params_to_matrix(towards: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:  # loss_utils
    axis_x = towards
    ones, zeros = torch.ones(len(axis_x)), torch.zeros(len(axis_x))
    axis_y = torch.stack([-axis_x[:, 1], axis_x[:, 0], zeros], dim=-1)
    axis_y[torch.norm(axis_y, dim=-1) == 0, 1] = 1
    axis_x = axis_x / torch.norm(axis_x, dim=-1, keepdim=True)
    axis_y = axis_y / torch.norm(axis_y, dim=-1, keepdim=True)
    axis_z = torch.cross(axis_x, axis_y, dim=-1)
    sin, cos = torch.sin(angle), torch.cos(angle)
    r1 = torch.stack([ones, zeros, zeros, zeros, cos, -sin, zeros, sin, cos], dim=-1).reshape([-1, 3, 3])
    return torch.matmul(torch.stack([axis_x, axis_y, axis_z], dim=-1), r1)


def reference_forward(cloud: np.ndarray, sd: dict, npoints: tuple[int, ...]) -> dict:
    """The reference GraspNet in eval mode plus pred_decode on one (N, 3) float32 cloud."""
    out: dict = {}
    xyz, feats = cloud, None
    levels = []
    for i, (m, r, ns) in enumerate(zip(npoints, (0.04, 0.1, 0.2, 0.3), (64, 32, 16, 16))):
        inds = _fps(xyz, m)
        new_xyz = xyz[inds]
        idx = _ball_query(xyz, new_xyz, r, ns)
        out[f"sa{i + 1}_inds"], out[f"sa{i + 1}_ball"] = np.array(inds), idx
        grouped = (torch.from_numpy(xyz[idx]) - torch.from_numpy(new_xyz)[:, None]) / r  # (m, ns, 3)
        grouped = grouped.permute(2, 0, 1)[None]  # (1, 3, m, ns)
        if feats is not None:
            grouped = torch.cat([grouped, feats[:, :, torch.from_numpy(idx)]], dim=1)
        feats = _shared_mlp(grouped, sd, f"view_estimator.backbone.sa{i + 1}.mlp_module.").amax(dim=3)
        xyz = new_xyz
        levels.append((xyz, feats))
    for name, (fine, coarse_feats) in (("fp1", (levels[2], levels[3][1])), ("fp2", (levels[1], None))):
        (fx, ff) = fine
        cx = levels[3][0] if name == "fp1" else levels[2][0]
        cf = coarse_feats if name == "fp1" else out["fp1"]
        dist, idx = _three_nn(fx, cx)
        out[f"{name}_nn"] = idx
        recip = 1.0 / (torch.from_numpy(dist) + 1e-8)
        w = recip / recip.sum(dim=1, keepdim=True)
        interp = (cf[:, :, torch.from_numpy(idx)] * w[None, None]).sum(-1)
        out[name] = _shared_mlp(torch.cat([interp, ff], dim=1)[..., None], sd,
                                f"view_estimator.backbone.{name}.mlp.")[..., 0]
    seed_xyz, seed_feats = levels[1][0], out["fp2"]
    a = _head(seed_feats, sd, "view_estimator.vpmodule.")
    out["objectness"], view_score = a[0, :2], a[0, 2:].T  # (2, Ns), (Ns, V)
    out["top_view"] = view_score.max(dim=1).indices
    vp_xyz = _views()[out["top_view"]]
    rot = _viewpoint_params_to_matrix(-vp_xyz, torch.zeros(len(vp_xyz)))
    out["top_view_rot"] = rot
    crops = []
    for d, hmax in enumerate((0.01, 0.02, 0.03, 0.04)):
        idx = _cylinder_query(cloud, seed_xyz, rot.numpy(), 0.05, -0.02, hmax, 64)
        out[f"cyl{d}"] = idx
        local = torch.matmul(torch.from_numpy(cloud[idx]) - torch.from_numpy(seed_xyz)[:, None], rot)  # (Ns, 64, 3)
        crops.append(local.permute(2, 0, 1))
    grouped = torch.stack(crops, dim=2)[None]  # (1, 3, Ns, D, 64)
    vp = _shared_mlp(grouped, sd, "grasp_generator.crop.mlps.").amax(dim=4)  # (1, 256, Ns, D)
    ns = vp.shape[2]
    op = _head(vp.reshape(1, 256, ns * 4), sd, "grasp_generator.operation.").view(1, -1, ns, 4)[0]
    out["score"], out["angle_cls"], out["width"] = op[:12], op[12:24], op[24:36]
    out["tolerance"] = _head(vp.reshape(1, 256, ns * 4), sd, "grasp_generator.tolerance.").view(1, -1, ns, 4)[0]
    # pred_decode
    width = torch.clamp(1.2 * out["width"], min=0, max=0.1)
    cls = torch.argmax(out["angle_cls"], 0)
    angle = cls.float() / 12 * np.pi
    score = torch.gather(out["score"], 0, cls[None])[0]
    width = torch.gather(width, 0, cls[None])[0]
    tol = torch.gather(out["tolerance"], 0, cls[None])[0]
    depth_cls = torch.argmax(score, 1, keepdim=True)
    depth = (depth_cls.float() + 1) * 0.01
    score, angle = torch.gather(score, 1, depth_cls), torch.gather(angle, 1, depth_cls)
    width, tol = torch.gather(width, 1, depth_cls), torch.gather(tol, 1, depth_cls)
    mask = torch.argmax(out["objectness"], 0) == 1
    score = score[mask] * tol[mask] / 0.05
    rotm = _viewpoint_params_to_matrix(-vp_xyz[mask], angle[mask].view(-1))
    out["grasps"] = dict(seeds=np.flatnonzero(mask.numpy()), score=score.view(-1), width=width[mask].view(-1),
                         depth=depth[mask].view(-1), rot=rotm, center=torch.from_numpy(seed_xyz)[mask])
    return out


# ---------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------
def _scene(seed: int, n: int = 700) -> np.ndarray:
    """A table with two boxes seen from above, depth quantised to 1 mm (exact distance ties)."""
    rng = np.random.default_rng(seed)
    table = np.c_[rng.uniform(-0.08, 0.08, (n // 2, 2)), np.full(n // 2, 0.5)]
    box = np.c_[rng.uniform(-0.03, 0.03, (n - n // 2, 2)), np.full(n - n // 2, 0.46)]
    box[::3, 2] = 0.47
    pts = np.round(np.concatenate([table, box]) * 1000) / 1000
    return pts[rng.permutation(n)].astype(np.float32)


@pytest.fixture(scope="module")
def baseline_checkpoint(tmp_path_factory):
    layout = _reference_layout()
    state = _randomise(layout, seed=3)
    layout.load_state_dict(state)  # the layout accepts it: names and shapes are graspnet-baseline's
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint-random.tar"
    torch.save({"epoch": 18, "model_state_dict": layout.state_dict(), "optimizer_state_dict": {}}, path)
    return path, state


def test_reference_network_matches_the_loop_forward(baseline_checkpoint):
    path, state = baseline_checkpoint
    npoints = (128, 64, 32, 16)
    cfg = dataclasses.replace(reference(), num_points=700, backbone=BackboneConfig(npoints=npoints))
    model = load_model(path, cfg)
    cloud = _scene(0)
    ref = reference_forward(cloud, state, npoints)
    seen: dict = {}
    import graspnet_ros.model.backbone as bb
    import graspnet_ros.model.heads as hd

    fps, nn3, crop = bb.farthest_point_sample, bb.three_nn, hd.cylinder_crop_pooled

    def spy_fps(xyz, m, backend):
        seen.setdefault("fps", []).append(fps(xyz, m, backend)[0].numpy())
        return torch.from_numpy(seen["fps"][-1])[None]

    def spy_nn(u, k):
        d, i = nn3(u, k)
        seen.setdefault("nn", []).append(i[0].numpy())
        return d, i

    def spy_crop(mlp, xyz, centers, rot, *args):
        from graspnet_ros.model.cylinder import cylinder_query
        seen["cyl"] = cylinder_query(xyz, centers, rot, *args[:4])[0].numpy()
        return crop(mlp, xyz, centers, rot, *args)

    try:
        bb.farthest_point_sample, bb.three_nn, hd.cylinder_crop_pooled = spy_fps, spy_nn, spy_crop
        with torch.no_grad():
            out = model(torch.from_numpy(cloud)[None])
    finally:
        bb.farthest_point_sample, bb.three_nn, hd.cylinder_crop_pooled = fps, nn3, crop
    # sampling, neighbourhoods and crops: identical indices
    for i in range(4):
        assert np.array_equal(seen["fps"][i], ref[f"sa{i + 1}_inds"]), f"FPS level {i + 1}"
    assert np.array_equal(seen["nn"][0], ref["fp1_nn"]) and np.array_equal(seen["nn"][1], ref["fp2_nn"])
    for d in range(4):
        assert np.array_equal(seen["cyl"][:, d], ref[f"cyl{d}"]), f"cylinder depth {d}"
    # a crop here holds more than 64 points, and ties exist: the test exercises both
    assert (ref["cyl3"][:, -1] != ref["cyl3"][:, 0]).any()
    # dense layers: same values to float32 rounding (the package folds batch norm into the weights)
    s1, s2 = out.stage1, out.stage2
    assert torch.allclose(s1.backbone.seed_features[0].T, ref["fp2"][0], rtol=1e-4, atol=1e-4)
    assert torch.allclose(s1.approach.objectness[0], ref["objectness"], rtol=1e-4, atol=1e-4)
    assert torch.equal(s1.approach.top_view_inds[0], ref["top_view"])
    assert torch.allclose(s1.approach.top_view_rot[0], ref["top_view_rot"], atol=1e-6)
    for name in ("score", "angle_cls", "width", "tolerance"):
        assert torch.allclose(getattr(s2, name)[0], ref[name], rtol=1e-4, atol=1e-4), name
    # decode: the same grasps, scores and ranking
    dec = decode(out, model.cfg)[0]
    g = ref["grasps"]
    assert len(g["seeds"]) > 0
    assert np.array_equal(dec.seed_index, g["seeds"])
    assert np.allclose(dec.grasps.scores, g["score"].numpy(), rtol=1e-4, atol=1e-5)
    assert np.allclose(dec.grasps.widths, g["width"].numpy(), atol=1e-5)
    assert np.array_equal(dec.grasps.depths, g["depth"].numpy().astype(np.float64))
    assert np.allclose(dec.grasps.rotations, g["rot"].numpy(), atol=1e-6)
    assert np.array_equal(dec.grasps.translations, g["center"].numpy().astype(np.float64))
    assert np.array_equal(np.argsort(-dec.grasps.scores, kind="stable"),
                          np.argsort(-g["score"].numpy(), kind="stable"))


def test_baseline_checkpoint_loads_with_the_reference_config(baseline_checkpoint):
    path, state = baseline_checkpoint
    model = load_model(path)
    assert model.cfg.name == "reference" and model.cfg.decode_mode == "reference"
    own = model.state_dict()
    assert set(own) == set(state) and all(torch.equal(own[k], state[k]) for k in state)
