"""Training loop (paper section 5.2): Adam, step learning-rate schedule,
flip/rotation augmentation, checkpoints every N steps, resume, progress bar
with the loss terms and a JSON-lines log next to the checkpoints.

Schedule: the paper trains at lr 1e-3, x0.1 after 60 epochs and x0.01 after
100; scaled to a run of S steps the drops happen at 0.5 S and 0.83 S.
Augmentation (as the reference): mirror the camera x axis with probability
0.5, then rotate about the camera x axis by U(-30, 30) degrees; clouds and
object poses move together.

Frames come from a :class:`FrameSource`: :class:`ReaderFrames` reads a
dataset root through ``graspnet_ros.dataset.reader.GraspNetDataset``;
:class:`StaticFrames` serves prepared frames (tests, toy scenes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from .checkpoint import read_checkpoint, save_checkpoint, check_state_dict
from .ddp import DistContext, init_distributed
from .config import LabelConfig, LossWeights, ModelConfig, config_to_dict
from ..cameras.geometry import voxel_downsample_index
from .graspnet import GraspNet
from .labels import FrameLabels, ObjectGraspTable, build_targets
from .losses import LossTerms, grasp_losses


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 2
    lr: float = 1e-3
    lr_drops: tuple[float, ...] = (0.5, 0.83)  # fractions of the run where lr is multiplied by 0.1
    weight_decay: float = 0.0
    augment: bool = True
    checkpoint_every: int = 200
    log_every: int = 10
    seed: int = 0
    voxel_size: float = 0.005  # m, as the detector's preprocessing; 0 = off
    num_threads: int | None = None
    #: Steps that draw their frames from the same few scenes (0 = every frame
    #: drawn uniformly). Grasp tables are expensive to build and cached per
    #: (scene, object); blocks of scenes keep the cache hot (~2x faster on
    #: the small preset) while every scene is still visited at random.
    scene_block: int = 0
    #: Submodules to train (names in GraspNet, e.g. "grasp_generator.tolerance");
    #: empty = the whole network. The rest is frozen: no gradients, batch-norm
    #: statistics kept, so its outputs stay exactly what they were.
    train_only: tuple[str, ...] = ()
    #: Frames per forward pass (0: batch_size / processes, one pass each).
    #: A step is the mean loss gradient of batch_size / micro_batch passes,
    #: spread over the processes of a torchrun job and accumulated inside
    #: each; batch-norm statistics and the loss's masked means are per pass,
    #: so a fixed micro_batch gives the same step for any number of
    #: processes (to float rounding) and a run may resume with another count.
    micro_batch: int = 0


class FrameSource(Protocol):
    def __len__(self) -> int: ...

    def get(self, index: int, num_points: int, rng: np.random.Generator) -> FrameLabels: ...


def frame_index(source: FrameSource, cfg: "TrainConfig", step: int, item: int, rng: np.random.Generator) -> int:
    """Frame of batch item ``item`` at ``step``: uniform, or (``cfg.scene_block`` > 0
    and a source with ``scene_groups()``) a frame of scene ``item`` of the
    block's scenes. The block's scenes depend only on (seed, step // scene_block)."""
    groups = getattr(source, "scene_groups", None)
    if cfg.scene_block <= 0 or groups is None:
        return int(rng.integers(len(source)))
    groups = groups()
    block_rng = np.random.default_rng([cfg.seed, 1, step // cfg.scene_block])
    scenes = block_rng.choice(len(groups), min(cfg.batch_size, len(groups)), replace=False)
    frames = groups[scenes[item % len(scenes)]]
    return int(frames[rng.integers(len(frames))])


def frame_indices(source: FrameSource, cfg: "TrainConfig", step: int, rng: np.random.Generator) -> list[int]:
    """The batch's frame indices at ``step``, every item drawn from ``rng`` in turn
    (see :func:`frame_index`); depends only on (seed, step) and ``rng``."""
    return [frame_index(source, cfg, step, k, rng) for k in range(cfg.batch_size)]


def item_rng(cfg: "TrainConfig", step: int, item: int) -> np.random.Generator:
    """The random stream of batch item ``item`` at ``step`` (frame choice, point
    sampling, augmentation): a function of (seed, step, item) only, so any
    process can load any item and a resumed run repeats the same frames."""
    return np.random.default_rng([cfg.seed, step, item])


def load_item(source: FrameSource, cfg: "TrainConfig", num_points: int, step: int, item: int) -> FrameLabels:
    """Batch item ``item`` of step ``step``: frame, sampled points, augmentation."""
    rng = item_rng(cfg, step, item)
    frame = source.get(frame_index(source, cfg, step, item, rng), num_points, rng)
    return frame.transformed(augmentation(rng)) if cfg.augment else frame


def rank_chunks(batch_size: int, micro_batch: int, rank: int, world_size: int) -> list[range]:
    """Batch items of each forward pass of process ``rank``: the batch is cut
    into ``batch_size / micro_batch`` chunks of consecutive items, and each
    process takes a contiguous run of them (with scene blocks: its own
    scenes, so its grasp-table cache stays hot). ValueError when the batch
    does not divide evenly."""
    if micro_batch <= 0 or batch_size % (micro_batch * world_size):
        raise ValueError(f"--batch-size {batch_size} must be a multiple of --micro-batch {micro_batch} "
                         f"x {world_size} processes")
    per_rank = batch_size // (micro_batch * world_size)
    first = rank * per_rank
    return [range((first + c) * micro_batch, (first + c + 1) * micro_batch) for c in range(per_rank)]


def sample_frame(cloud: np.ndarray, seg: np.ndarray, num_points: int, voxel: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Voxel-downsample (keeping per-point labels) and sample exactly num_points."""
    keep = voxel_downsample_index(cloud, voxel)
    cloud, seg = cloud[keep], seg[keep]
    if len(cloud) == 0:
        raise ValueError("frame has no valid depth points")
    if len(cloud) >= num_points:
        idx = rng.choice(len(cloud), num_points, replace=False)
    else:
        idx = np.concatenate([np.arange(len(cloud)), rng.choice(len(cloud), num_points - len(cloud))])
    return cloud[idx].astype(np.float32), seg[idx]


class StaticFrames:
    """Prepared frames: each is (cloud (M, 3), seg (M,), tables, poses)."""

    def __init__(self, frames: list[tuple[np.ndarray, np.ndarray, list[ObjectGraspTable], np.ndarray]],
                 voxel_size: float = 0.0) -> None:
        if not frames:
            raise ValueError("no frames to train on")
        self.frames = frames
        self.voxel_size = voxel_size

    def __len__(self) -> int:
        return len(self.frames)

    def get(self, index: int, num_points: int, rng: np.random.Generator) -> FrameLabels:
        cloud, seg, tables, poses = self.frames[index]
        c, s = sample_frame(np.asarray(cloud), np.asarray(seg), num_points, self.voxel_size, rng)
        return FrameLabels(c, s, list(tables), poses)


class ReaderFrames:
    """Frames of a GraspNet-layout dataset root (real or synthetic) for training.

    Reads through ``graspnet_ros.dataset.reader.GraspNetDataset``: the frame's
    cloud cropped by ``workspace`` ("objects": the labelled objects' box + 2 cm,
    as graspnet-baseline trains; "table"; or None) with the per-pixel object
    labels, the object poses, each object's grasp labels (its own collision
    flags included), the scene's collision labels and, when present, the
    tolerance labels. Grasp tables are built per (scene, object) and kept in
    a small LRU cache (at most ``cache_size`` tables and ``cache_bytes``
    bytes); ``max_label_points`` subsamples each object's points. Labels are
    read row by row from memory maps: with the compact labels of
    ``graspnet-ros data compact`` (uncompressed, 3-5 bytes per entry) a
    table costs its rows' bytes only and no label file is held; original
    labels go through the reader, which keeps compressed ones inflated per
    object (fine for the synthetic presets, not for the real 55 GB).
    """

    def __init__(self, root: str | Path, camera: str, scenes: list[int] | None, model_cfg: ModelConfig,
                 voxel_size: float = 0.005, workspace: str | None = "objects",
                 max_label_points: int | None = 2048, cache_size: int = 24,
                 label_cfg: LabelConfig = LabelConfig(), seed: int = 0, cache_bytes: int = 6 << 30) -> None:
        from ..dataset.reader import GraspNetDataset

        self.reader = GraspNetDataset(root, camera)
        self.cfg = model_cfg
        self.label_cfg = label_cfg
        self.voxel_size = voxel_size
        self.workspace = workspace
        self.max_label_points = max_label_points
        self.seed = seed
        scenes = self.reader.scene_ids("train") if scenes is None else list(scenes)
        self.index = [(s, a) for s in scenes for a in range(self.reader.num_frames(s))]
        if not self.index:
            raise ValueError(f"no training frames for camera '{camera}' in scenes {scenes[:5]} under {root}: "
                             "check --root, --camera and --scenes (default: the train split, scenes 0-99)")
        scene_of = np.array([s for s, _ in self.index])
        self._scene_groups = [np.flatnonzero(scene_of == s) for s in np.unique(scene_of)]
        self._tables: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = cache_bytes

    def __len__(self) -> int:
        return len(self.index)

    def scene_groups(self) -> list[np.ndarray]:
        """Frame indices grouped by scene (for scene-blocked sampling)."""
        return self._scene_groups

    def table(self, scene: int, obj_id: int) -> ObjectGraspTable:
        key = (scene, obj_id)
        if key in self._tables:
            self._tables.move_to_end(key)
            return self._tables[key]
        scene_objects = self.reader.object_ids(scene)
        if obj_id not in scene_objects:
            raise ValueError(f"object {obj_id} is annotated in scene {scene} but not in its object_id_list.txt")
        table = self._build_table(scene, obj_id, scene_objects.index(obj_id))
        self._tables[key] = table
        while len(self._tables) > self._cache_size or (
                len(self._tables) > 1 and sum(t.nbytes for t in self._tables.values()) > self._cache_bytes):
            self._tables.popitem(last=False)
        return table

    def _build_table(self, scene: int, obj_id: int, slot: int) -> ObjectGraspTable:
        """One (scene, object) table from the label files, reading only the kept points' rows:
        the compact labels (``graspnet-ros data compact``) when present (nothing of them stays
        cached), else the originals through the reader (which caches them per object)."""
        from ..dataset.grasp_labels import compact_complete, compact_label_path, load_compact_labels, load_npz

        layout = self.reader.layout
        compact = compact_complete(layout.root, obj_id)
        labels = (load_compact_labels(compact_label_path(layout.root, obj_id)) if compact
                  else self.reader.grasp_labels(obj_id))
        n = len(labels.points)
        sel = np.arange(n)
        if self.max_label_points and n > self.max_label_points:
            sel = np.sort(np.random.default_rng([self.seed, scene, obj_id]).choice(
                n, self.max_label_points, replace=False))
        # this object's member only: a compressed member is inflated alone, a stored one memory-mapped
        scene_collision = load_npz(layout.collision_label(scene), (f"arr_{slot}",))[f"arr_{slot}"]
        if scene_collision.shape[0] != n:
            raise ValueError(f"{layout.collision_label(scene)}: arr_{slot} has {scene_collision.shape[0]} "
                             f"points, object {obj_id}'s labels {n}: wrong object order or stale labels")
        collision = np.asarray(scene_collision[sel], dtype=bool)
        if compact:
            mu, widths, tolerance = labels.rows(sel)  # object collision is folded into mu (0)
        else:
            mu, widths = np.asarray(labels.scores[sel]), np.asarray(labels.offsets[sel, ..., 2])
            collision |= np.asarray(labels.collision[sel], dtype=bool)
            tol = self.reader.tolerance(obj_id)
            tolerance = None if tol is None else np.asarray(tol[sel])
        return ObjectGraspTable.from_arrays(obj_id, np.asarray(labels.points[sel]), mu, widths, collision,
                                            tolerance, self.cfg.score_target, self.label_cfg.max_width,
                                            self.label_cfg.graspness_friction)

    def get(self, index: int, num_points: int, rng: np.random.Generator) -> FrameLabels:
        from ..dataset.cloud import frame_point_cloud

        scene, ann = self.index[index]
        fr = self.reader.frame(scene, ann)
        organized = frame_point_cloud(fr, workspace=self.workspace, organized=True)
        valid = np.isfinite(organized).all(axis=-1)
        c, s = sample_frame(organized[valid].astype(np.float64), fr.label[valid].astype(np.int64),
                            num_points, self.voxel_size, rng)
        tables, poses = [], []
        for obj_id, pose in zip(fr.object_ids.tolist(), fr.object_poses):
            if (s == obj_id + 1).sum() < 10:  # hardly visible: no labels from it (seeds there are ignored)
                continue
            tables.append(self.table(scene, int(obj_id)))
            poses.append(pose)
        return FrameLabels(c, s, tables, np.asarray(poses, dtype=np.float64).reshape(-1, 4, 4))


def augmentation(rng: np.random.Generator) -> np.ndarray:
    """3x3 map: optional mirror of the camera x axis, then a rotation about x by U(-30, 30) deg."""
    flip = np.diag([-1.0, 1.0, 1.0]) if rng.random() > 0.5 else np.eye(3)
    a = rng.uniform(-np.pi / 6, np.pi / 6)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ flip


def trainable_modules(model: GraspNet, names: tuple[str, ...]) -> list[torch.nn.Module]:
    """The submodules ``names`` of ``model`` (all of it when empty); a clear error for unknown names."""
    if not names:
        return [model]
    known = [n for n, _ in model.named_modules() if n]
    missing = [n for n in names if n not in known]
    if missing:
        raise ValueError(f"train_only: no submodule {missing} in the network; choose from "
                         + ", ".join(n for n in known if n.count(".") <= 1))
    return [model.get_submodule(n) for n in names]


def set_train_mode(model: GraspNet, trainable: list[torch.nn.Module]) -> None:
    """Training mode for the trained submodules only (frozen batch norms keep their statistics)."""
    model.eval()
    for m in trainable:
        m.train()


def learning_rate(step: int, cfg: TrainConfig) -> float:
    drops = sum(step >= int(f * cfg.steps) for f in cfg.lr_drops)
    return cfg.lr * 0.1 ** drops


def batch_loss(model: GraspNet, frames: list[FrameLabels], weights: LossWeights = LossWeights(),
               label_cfg: LabelConfig = LabelConfig()) -> LossTerms:
    """Loss terms of one forward pass on ``frames`` (clouds moved to the model's device)."""
    device = next(model.parameters()).device
    cloud = torch.from_numpy(np.stack([f.cloud for f in frames])).to(device)
    s1 = model.stage1(cloud)
    a = s1.approach
    targets = build_targets(frames, s1.seed_xyz, s1.backbone.seed_inds, a.top_view_inds, a.top_view_rot,
                            model.cfg, label_cfg, s1.candidate_inds)
    s2 = model.stage2(cloud, targets.crop_centers, targets.crop_rot)
    return grasp_losses(s1, s2, targets, weights)


class LossModule(torch.nn.Module):
    """The network, its targets and its loss as one forward: what
    DistributedDataParallel wraps (its gradient hooks need the whole pass
    inside ``forward``)."""

    def __init__(self, model: GraspNet, weights: LossWeights, label_cfg: LabelConfig) -> None:
        super().__init__()
        self.model = model
        self.weights = weights
        self.label_cfg = label_cfg

    def forward(self, frames: list[FrameLabels]) -> LossTerms:
        return batch_loss(self.model, frames, self.weights, self.label_cfg)


def train_step(model: GraspNet, frames: list[FrameLabels], optimizer: torch.optim.Optimizer | None,
               weights: LossWeights = LossWeights(), label_cfg: LabelConfig = LabelConfig()) -> LossTerms:
    """One forward/backward pass on a batch of frames (optimizer None: no update)."""
    terms = batch_loss(model, frames, weights, label_cfg)
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
    return terms


#: Logged loss terms and statistics, in a fixed order (averaged over passes and processes).
LOG_KEYS = ("total", "objectness", "view", "angle", "score", "width", "tolerance", "objectness_acc",
            "positive_seeds", "ignored_seeds", "stage2_seeds", "angle_acc", "graspness", "graspable_pred",
            "graspable_true")


def _mean_scalars(passes: list[dict[str, float]], ctx: DistContext) -> dict[str, float]:
    """Mean of each LOG_KEYS entry over this step's passes of every process
    (entries missing from a pass, e.g. angle_acc without graspable seeds, are left out)."""
    sums = torch.zeros(2, len(LOG_KEYS), dtype=torch.float64)
    for values in passes:
        for j, key in enumerate(LOG_KEYS):
            if key in values:
                sums[0, j] += values[key]
                sums[1, j] += 1
    sums = ctx.mean(sums)
    return {key: float(sums[0, j] / sums[1, j]) for j, key in enumerate(LOG_KEYS) if sums[1, j] > 0}


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def train(source: FrameSource, model_cfg: ModelConfig, cfg: TrainConfig, out_dir: str | Path,
          resume: bool = True, progress: bool = True, weights: LossWeights = LossWeights(),
          label_cfg: LabelConfig = LabelConfig(), command: str | None = None,
          init_from: str | Path | None = None, stop_at: int | None = None, device: str = "auto") -> dict:
    """Train for ``cfg.steps`` steps (continuing from out_dir/last.pt when
    ``resume``); writes last.pt every ``checkpoint_every`` steps and at the end,
    model.pt (weights + config only) at the end, train_log.jsonl and
    train_config.json. Returns a summary dict.

    ``init_from``: another run's last.pt (weights, optimiser state, step) to
    start from when out_dir has no last.pt of its own -- a new schedule
    continuing an earlier run. ``stop_at``: stop after that step (last.pt and
    model.pt saved there); the same call without it resumes the schedule.
    ``device``: auto, cpu or cuda (see :mod:`graspnet_ros.model.ddp`).

    Under torchrun (WORLD_SIZE > 1) every process runs this function: the
    model is wrapped in DistributedDataParallel, each process loads only its
    chunks of every batch (:func:`rank_chunks`), rank 0 reads the checkpoint
    and hands it to the others, and only rank 0 writes files (``out_dir``
    needs to be on rank 0's machine only; the dataset root on every node).
    """
    ctx = init_distributed(device)
    try:
        return _train(source, model_cfg, cfg, Path(out_dir), resume, progress, weights, label_cfg, command,
                      init_from, stop_at, ctx)
    finally:
        ctx.close()


def _load_start(out: Path, resume: bool, init_from: str | Path | None, model_cfg: ModelConfig) -> dict | None:
    """The checkpoint a run starts from (out/last.pt when resuming, else init_from), or None."""
    last = out / "last.pt"
    path = last if resume and last.is_file() else (Path(init_from) if init_from else None)
    if path is None:
        return None
    payload = read_checkpoint(path)
    if payload["model_config"] != model_cfg:
        raise ValueError(f"{path} was trained with config '{payload['model_config'].name}' "
                         f"which differs from '{model_cfg.name}'; use another --out or --no-resume")
    return {"path": str(path), "is_last": path == last, "step": int(payload["step"]),
            "model": payload["model_state_dict"], "optimizer": payload.get("optimizer_state_dict")}


def _train(source: FrameSource, model_cfg: ModelConfig, cfg: TrainConfig, out: Path, resume: bool,
           progress: bool, weights: LossWeights, label_cfg: LabelConfig, command: str | None,
           init_from: str | Path | None, stop_at: int | None, ctx: DistContext) -> dict:
    micro = cfg.micro_batch or max(cfg.batch_size // ctx.world_size, 1)
    chunks = rank_chunks(cfg.batch_size, micro, ctx.rank, ctx.world_size)
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    torch.manual_seed(cfg.seed)
    model = GraspNet(model_cfg)
    trainable = trainable_modules(model, cfg.train_only)
    model.requires_grad_(False)
    for m in trainable:
        m.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]  # model order, each parameter once
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = 0
    adam_state = "new"
    ckpt = ctx.on_main(lambda: _load_start(out, resume, init_from, model_cfg))
    if ckpt is not None:
        check_state_dict(model, ckpt["model"], ckpt["path"])
        model.load_state_dict(ckpt["model"])
        adam_state = "none in the checkpoint"
        if ckpt["optimizer"] is not None:
            try:
                optimizer.load_state_dict(ckpt["optimizer"])
                adam_state = "continued"
            except ValueError as exc:  # the checkpoint's optimiser trained other parameters
                if ckpt["is_last"]:
                    raise ValueError(f"{ckpt['path']} was trained with other --train-only modules than "
                                     f"{list(cfg.train_only) or 'the whole network'}; use the same "
                                     "--train-only to resume, or another --out with --init-from") from exc
                adam_state = "restarted (the checkpoint trained other parameters)"
        start = ckpt["step"]
    model.to(ctx.device)
    for state in optimizer.state.values():  # Adam moments follow their parameters
        for key, value in state.items():
            if torch.is_tensor(value) and key != "step":
                state[key] = value.to(ctx.device)
    end = cfg.steps if stop_at is None else min(cfg.steps, stop_at)
    if end <= start and not (ckpt is not None and ckpt["is_last"]):
        raise ValueError(f"nothing to train: the run starts at step {start} "
                         f"and ends at step {end} (--steps {cfg.steps}, --stop-at {stop_at})")
    if ctx.is_main:
        _write_atomic(out / "train_config.json", json.dumps({
            "command": command or " ".join(sys.argv), "model_config": config_to_dict(model_cfg),
            "train_config": dataclasses.asdict(cfg), "loss_weights": dataclasses.asdict(weights),
            "label_config": dataclasses.asdict(label_cfg), "frames": len(source), "resumed_from_step": start,
            "started_from": ckpt["path"] if ckpt is not None else None, "stop_at": stop_at,
            "adam_state": adam_state, "processes": ctx.world_size, "micro_batch": micro,
            "device": str(ctx.device),
        }, indent=2))
    set_train_mode(model, trainable)
    net: torch.nn.Module = LossModule(model, weights, label_cfg)
    if ctx.distributed:
        net = torch.nn.parallel.DistributedDataParallel(net)
    bar = None
    if progress and ctx.is_main:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc=f"train {model_cfg.name}", dynamic_ncols=True)
    t_start = time.perf_counter()
    history = []
    log = open(out / "train_log.jsonl", "a") if ctx.is_main else None
    try:
        for step in range(start, end):
            lr = learning_rate(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            passes = []
            for c, items in enumerate(chunks):
                frames = [load_item(source, cfg, model_cfg.num_points, step, k) for k in items]
                # DDP averages gradients over processes at the last pass's backward only
                sync = c == len(chunks) - 1 or not ctx.distributed
                with contextlib.nullcontext() if sync else net.no_sync():
                    terms = net(frames)
                    (terms.total / len(chunks)).backward()
                passes.append(terms.scalars())
            values = _mean_scalars(passes, ctx)
            if not np.isfinite(values["total"]):
                raise ValueError(f"loss became {values['total']} at step {step}; lower --lr")
            optimizer.step()
            history.append(values["total"])
            done = step + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix({k: f"{values[k]:.3f}" for k in
                                 ("total", "objectness", "view", "angle", "score", "width", "tolerance")})
            if log is not None and (done % cfg.log_every == 0 or done == end):
                log.write(json.dumps({"step": done, "lr": lr, "elapsed_s": time.perf_counter() - t_start,
                                      **values}) + "\n")
                log.flush()
            if ctx.is_main and (done % cfg.checkpoint_every == 0 or done == end):
                save_checkpoint(out / "last.pt", model, optimizer, done)
    finally:
        if log is not None:
            log.close()
        if bar is not None:
            bar.close()
    elapsed = time.perf_counter() - t_start
    steps_run = max(end - start, 0)
    if ctx.is_main:
        save_checkpoint(out / "model.pt", model, None, max(end, start), {"train_seconds": elapsed})
    ctx.barrier()  # no process leaves (and tears the group down) before rank 0 has written
    return {"steps_run": steps_run, "seconds": elapsed,
            "steps_per_second": steps_run / elapsed if elapsed > 0 else float("nan"),
            "first_loss": history[0] if history else None, "last_loss": history[-1] if history else None,
            "processes": ctx.world_size, "rank": ctx.rank, "device": str(ctx.device)}
