"""The end-to-end grasp network (paper Fig. 5): backbone + ApproachNet, then
cylinder crops + OperationNet + ToleranceNet.

Module tree (names as graspnet-baseline's ``GraspNet``)::

    view_estimator   (stage 1)  backbone (PointNet++), vpmodule (ApproachNet)
    grasp_generator  (stage 2)  crop (CloudCrop), operation, tolerance

With ``ModelConfig.seeds = "graspness"`` stage 1 also holds ``graspness``
(:class:`GraspnessHead`): the backbone keeps every first-level point as a
seed candidate, the head scores them and the seeds are sampled among the
most graspable (:mod:`graspnet_ros.model.graspness`).

Inference: ``model(cloud)``. Training runs the stages separately because the
crops of stage 2 are centred and oriented by the labels of the views stage 1
picked (see :mod:`graspnet_ros.model.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .backbone import BackboneOutput, PointNet2Backbone
from .config import SEED_MODES, ModelConfig
from .graspness import select_graspable_seeds
from .heads import ApproachNet, ApproachOutput, CloudCrop, GraspnessHead, OperationNet, ToleranceNet
from .pointops import gather_points


@dataclass
class Stage1Output:
    backbone: BackboneOutput
    approach: ApproachOutput
    #: graspness seeding only: predicted graspness (B, M) of the M seed candidates and
    #: their indices (B, M) in the input cloud; None for FPS seeds
    graspness: torch.Tensor | None = None
    candidate_inds: torch.Tensor | None = None
    graspness_threshold: float = 0.1  # seeding threshold the candidates were selected with

    @property
    def seed_xyz(self) -> torch.Tensor:
        return self.backbone.seed_xyz


@dataclass
class Stage2Output:
    """Per seed, depth bin (D) and angle bin (A): tensors (B, A, Ns, D)."""

    score: torch.Tensor  # grasp score (1.1 - mu, or log(mu_max/mu) for "log" configs)
    angle_cls: torch.Tensor  # angle class logits
    width: torch.Tensor  # gripper width, m
    tolerance: torch.Tensor  # GAF tolerance, m


@dataclass
class GraspNetOutput:
    cloud: torch.Tensor  # (B, N, 3) input points, m
    stage1: Stage1Output
    stage2: Stage2Output


class GraspNetStage1(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        fps = {"torch": "torch", "bucket": "bucket"}.get(cfg.fps, "auto")
        self.fps_backend = fps
        self.num_seeds = cfg.num_seeds
        self.graspness_threshold = cfg.graspness_threshold
        #: how forward picks its seeds ("fps" or "graspness"); see GraspNet.set_seed_mode
        self.seed_mode = cfg.seeds
        self.backbone = PointNet2Backbone(cfg.backbone, fps_backend=fps, search=cfg.neighbour_search)
        self.vpmodule = ApproachNet(cfg.num_view, cfg.backbone.seed_dim)
        if cfg.seeds == "graspness":
            self.graspness = GraspnessHead(cfg.backbone.seed_dim)

    def forward(self, cloud: torch.Tensor) -> Stage1Output:
        if self.seed_mode == "fps":
            bb = self.backbone(cloud)
            return Stage1Output(bb, self.vpmodule(bb.seed_features))
        cand = self.backbone(cloud, candidates=True)  # (B, M) candidates with seed features
        graspness = self.graspness(cand.seed_features)  # (B, M)
        pick = select_graspable_seeds(cand.seed_xyz, graspness, self.num_seeds, self.graspness_threshold,
                                      self.fps_backend)  # (B, Ns) into the candidates
        bb = BackboneOutput(seed_xyz=gather_points(cand.seed_xyz, pick),
                            seed_features=gather_points(cand.seed_features, pick),
                            seed_inds=torch.gather(cand.seed_inds, 1, pick))
        return Stage1Output(bb, self.vpmodule(bb.seed_features), graspness, cand.seed_inds,
                            self.graspness_threshold)


class GraspNetStage2(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.crop = CloudCrop(cfg.cylinder_nsample, cfg.cylinder_radius, cfg.cylinder_hmin, cfg.depths,
                              cfg.crop_mlp, cfg.neighbour_search)
        self.operation = OperationNet(cfg.num_angle, cfg.crop_mlp[-1], cfg.operation_mlp)
        self.tolerance = ToleranceNet(cfg.num_angle, cfg.crop_mlp[-1], cfg.tolerance_mlp)

    def forward(self, cloud_xyz: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor) -> Stage2Output:
        """cloud_xyz (B, N, 3); centers (B, Ns, 3) grasp points; rot (B, Ns, 3, 3) approach frames."""
        feats = self.crop(centers, cloud_xyz, rot)
        score, angle_cls, width = self.operation(feats)
        return Stage2Output(score, angle_cls, width, self.tolerance(feats))


class GraspNet(nn.Module):
    """Point cloud (B, N, 3) in the camera frame (m) -> per-seed grasp predictions."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.view_estimator = GraspNetStage1(cfg)
        self.grasp_generator = GraspNetStage2(cfg)

    @property
    def seed_mode(self) -> str:
        """How stage 1 picks its seeds now: "fps" or "graspness"."""
        return self.view_estimator.seed_mode

    def set_seed_mode(self, mode: str) -> None:
        """Switch the seeding of a loaded network: "fps" works for every network (a
        graspness network then ignores its head), "graspness" needs the graspness head
        (a network built with ``seeds="graspness"``)."""
        if mode not in SEED_MODES:
            raise ValueError(f"seed mode must be one of {SEED_MODES}, got {mode!r}")
        if mode == "graspness" and not hasattr(self.view_estimator, "graspness"):
            raise ValueError(f"network '{self.cfg.name}' has no graspness head (trained with seeds="
                             f"'{self.cfg.seeds}'); graspness seeds need a network trained with them")
        self.view_estimator.seed_mode = mode

    def stage1(self, cloud: torch.Tensor) -> Stage1Output:
        return self.view_estimator(cloud)

    def stage2(self, cloud: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor) -> Stage2Output:
        return self.grasp_generator(cloud[..., :3].contiguous(), centers, rot)

    def forward(self, cloud: torch.Tensor) -> GraspNetOutput:
        """Inference: crops centred on the seeds, oriented by the best predicted view."""
        s1 = self.stage1(cloud)
        s2 = self.stage2(cloud, s1.seed_xyz, s1.approach.top_view_rot)
        return GraspNetOutput(cloud[..., :3], s1, s2)
