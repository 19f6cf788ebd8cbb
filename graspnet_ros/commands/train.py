"""``graspnet-ros train``: train the grasp network on a GraspNet-layout dataset root.

Runs unchanged under ``torchrun --nnodes N --nproc_per_node M -m graspnet_ros train ...``
(DistributedDataParallel: gloo on the CPU, NCCL on CUDA; rank 0 writes OUT).
"""

from __future__ import annotations

import argparse
import sys


def parse_scenes(text: str | None) -> list[int] | None:
    """'0-99', '0,3,7' or '0-9,20' -> scene ids; None -> the train split."""
    if not text:
        return None
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                out += list(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError as exc:
            raise ValueError(f"--scenes: cannot parse '{part}' (use e.g. 0-99 or 0,3,7)") from exc
    return out


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from ..model.config import LabelConfig, LossWeights, get_config
    from ..model.train import ReaderFrames, TrainConfig, train

    if args.steps <= 0 or args.batch_size <= 0 or args.micro_batch < 0:
        raise ValueError("--steps and --batch-size must be positive, --micro-batch positive or 0")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = get_config(args.config)
    if args.num_view:
        cfg = dataclasses.replace(cfg, num_view=args.num_view, name=f"{cfg.name}-v{args.num_view}")
    if args.seeds != cfg.seeds or args.graspness_threshold is not None:
        thr = cfg.graspness_threshold if args.graspness_threshold is None else args.graspness_threshold
        cfg = dataclasses.replace(cfg, seeds=args.seeds, graspness_threshold=thr,
                                  name=cfg.name + ("-graspness" if args.seeds == "graspness" else ""))
    label_cfg = LabelConfig(match_radius=args.match_radius)
    source = ReaderFrames(args.root, args.camera, parse_scenes(args.scenes), cfg, voxel_size=args.voxel,
                          workspace=None if args.workspace == "none" else args.workspace,
                          max_label_points=args.max_label_points, label_cfg=label_cfg, seed=args.seed)
    tcfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, augment=not args.no_augment,
                       checkpoint_every=args.checkpoint_every, log_every=args.log_every, seed=args.seed,
                       voxel_size=args.voxel, num_threads=args.threads, scene_block=args.scene_block,
                       train_only=tuple(args.train_only or ()), micro_batch=args.micro_batch)
    weights = LossWeights(beta=args.beta, tolerance_on=args.tolerance_on, graspness=args.graspness_weight)
    summary = train(source, cfg, tcfg, args.out, resume=not args.no_resume, progress=not args.no_progress,
                    weights=weights, label_cfg=label_cfg, command="graspnet-ros " + " ".join(sys.argv[1:]),
                    init_from=args.init_from, stop_at=args.stop_at, device=args.device)
    if summary["rank"] != 0:  # under torchrun: rank 0 reports
        return 0
    print(f"trained {summary['steps_run']} steps in {summary['seconds']:.0f} s "
          f"({summary['steps_per_second']:.3f} steps/s); loss {summary['first_loss']} -> {summary['last_loss']}; "
          f"checkpoint {args.out}/model.pt, log {args.out}/train_log.jsonl"
          + (f" ({summary['processes']} processes, {summary['device']})" if summary["processes"] > 1 else ""))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..model.config import SEED_MODES, TOLERANCE_ON, LossWeights
    from ..model.ddp import DEVICES

    summary = __doc__.split("\n")[0].split(":", 1)[1].strip()
    p = subparsers.add_parser("train", help=summary,
                              description=__doc__.split(":", 1)[1].strip() + " Resumes from OUT/last.pt.")
    p.add_argument("--root", required=True, help="dataset root (models/, grasp_label/, collision_label/, scenes/)")
    p.add_argument("--config", default="cpu", choices=("cpu", "paper"), help="network configuration")
    p.add_argument("--steps", type=int, default=1000, help="total optimiser steps of the run")
    p.add_argument("--out", default="output/train", help="folder for last.pt, model.pt and the log")
    p.add_argument("--camera", default="realsense", choices=("realsense", "kinect"))
    p.add_argument("--scenes", help="scene ids, e.g. 0-99 or 0,3,7 (default: the train split present)")
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (x0.1 at 50%% and 83%%)")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--scene-block", type=int, default=8,
                   help="steps drawing their frames from the same batch-size scenes, which keeps the "
                        "grasp-table cache hot (0 = uniform frames)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--workspace", default="objects", choices=("objects", "table", "none"),
                   help="cloud crop in the table frame (objects: labelled objects' box + 2 cm)")
    p.add_argument("--voxel", type=float, default=0.005, help="voxel size (m) before sampling; 0 = off")
    p.add_argument("--num-view", type=int, help="approach views V of the labels (default: the config's 300)")
    p.add_argument("--match-radius", type=float, default=0.005, help="seed <-> label point radius (m)")
    p.add_argument("--max-label-points", type=int, default=2048, help="label points kept per object")
    p.add_argument("--beta", type=float, default=LossWeights.beta, help="tolerance loss weight (paper: 0.1)")
    p.add_argument("--tolerance-on", default=LossWeights.tolerance_on, choices=TOLERANCE_ON,
                   help="tolerance loss on graspable label entries only (reference) or on all, target 0 "
                        "where not graspable")
    p.add_argument("--seeds", default="fps", choices=SEED_MODES,
                   help="seed sampling: fps (GraspNet-1Billion: farthest points of the whole cloud) or "
                        "graspness (ICCV 2021: a graspness head, seeds among the most graspable points)")
    p.add_argument("--graspness-threshold", type=float,
                   help="graspness seeds: normalised graspness a candidate must exceed (default 0.1)")
    p.add_argument("--graspness-weight", type=float, default=LossWeights.graspness,
                   help="graspness seeds: weight of the point graspness loss")
    p.add_argument("--train-only", action="append", metavar="MODULE",
                   help="train only this submodule (repeatable), e.g. grasp_generator.tolerance; "
                        "the rest stays frozen")
    p.add_argument("--no-augment", action="store_true", help="no flip/rotation augmentation")
    p.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    p.add_argument("--init-from", help="another run's last.pt to start from (weights, optimiser, step) "
                                       "when OUT has no last.pt: a new schedule continuing that run")
    p.add_argument("--stop-at", type=int, help="stop after this step (checkpoints saved); rerun without it to go on")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice; torchrun sets 1)")
    p.add_argument("--device", default="auto", choices=DEVICES,
                   help="cpu, cuda (cuda:LOCAL_RANK under torchrun) or auto: CUDA when present")
    p.add_argument("--micro-batch", type=int, default=0,
                   help="frames per forward pass (default: batch size / processes); a step averages the "
                        "gradients of batch-size / micro-batch passes, so a fixed value gives the same "
                        "training under any torchrun --nproc_per_node x --nnodes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)
