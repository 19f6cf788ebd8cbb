"""The end-to-end grasp network (paper Fig. 5): backbone + ApproachNet, then
cylinder crops + OperationNet + ToleranceNet.

Module tree (names as graspnet-baseline's ``GraspNet``)::

    view_estimator   (stage 1)  backbone (PointNet++), vpmodule (ApproachNet)
    grasp_generator  (stage 2)  crop (CloudCrop), operation, tolerance

Inference: ``model(cloud)``. Training runs the stages separately because the
crops of stage 2 are centred and oriented by the labels of the views stage 1
picked (see :mod:`graspnet_ros.model.labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .backbone import BackboneOutput, PointNet2Backbone
from .config import ModelConfig
from .heads import ApproachNet, ApproachOutput, CloudCrop, OperationNet, ToleranceNet


@dataclass
class Stage1Output:
    backbone: BackboneOutput
    approach: ApproachOutput

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
        self.backbone = PointNet2Backbone(cfg.backbone, fps_backend=fps, search=cfg.neighbour_search)
        self.vpmodule = ApproachNet(cfg.num_view, cfg.backbone.seed_dim)

    def forward(self, cloud: torch.Tensor) -> Stage1Output:
        bb = self.backbone(cloud)
        return Stage1Output(bb, self.vpmodule(bb.seed_features))


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

    def stage1(self, cloud: torch.Tensor) -> Stage1Output:
        return self.view_estimator(cloud)

    def stage2(self, cloud: torch.Tensor, centers: torch.Tensor, rot: torch.Tensor) -> Stage2Output:
        return self.grasp_generator(cloud[..., :3].contiguous(), centers, rot)

    def forward(self, cloud: torch.Tensor) -> GraspNetOutput:
        """Inference: crops centred on the seeds, oriented by the best predicted view."""
        s1 = self.stage1(cloud)
        s2 = self.stage2(cloud, s1.seed_xyz, s1.approach.top_view_rot)
        return GraspNetOutput(cloud[..., :3], s1, s2)
