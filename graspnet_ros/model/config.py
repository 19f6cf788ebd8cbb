"""Network configurations: the paper's numbers and a smaller one for a 2-core CPU.

Two named configurations:

* ``paper``: paper section 5.2 / graspnet-baseline. 20,000 input points,
  PointNet++ SSG (SA 2048/0.04/64, 1024/0.1/32, 512/0.2/16, 256/0.3/16, two
  FP layers to 1024 seeds with 256-d features), V = 300 views, A = 12 angles,
  D = 4 depths, cylinder radius 0.05 m, height -0.02 m .. depth bin, 64
  samples. Parameter names and shapes equal graspnet-baseline's ``GraspNet``
  so its released checkpoint loads. ToleranceNet is (128, 128, 12) as in the
  reference code; the paper's text says (128, 64, 12) but the released
  weights have the former, and loading them wins.
* ``cpu``: chosen for this 2-core machine (see bench/bench_model.py): 8,192
  input points, 512 seeds, narrower MLPs, 16 cylinder samples, V = 300 kept,
  approximate FPS (QuickFPS) and k-d tree neighbour search
  (nearest-nsample grouping).

``reference`` is ``paper`` with the conventions of graspnet-baseline's own
training and decode (score labels log(mu_max / mu), angle picked by its
class score, widths x 1.2, score x tolerance / 0.05 as in its
``pred_decode``): use it for a checkpoint trained by that code.

Every dataclass is frozen and round-trips through :func:`config_to_dict` /
:func:`config_from_dict` (plain JSON types), which checkpoints store.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

#: Largest gripper opening (m); widths are clipped to [0, GRASP_MAX_WIDTH].
GRASP_MAX_WIDTH = 0.1
#: Largest tolerance label (m) of the GAF labels (graspnet-baseline uses 0..0.05).
GRASP_MAX_TOLERANCE = 0.05
#: Decode conventions (ModelConfig.decode_mode).
DECODE_MODES = ("package", "reference")
#: How stage 1 picks its seeds (ModelConfig.seeds): "fps" = farthest point sampling over the
#: whole cloud (GraspNet-1Billion, the paper's path); "graspness" = FPS among the points whose
#: predicted graspness exceeds ``graspness_threshold`` (Wang et al., ICCV 2021).
SEED_MODES = ("fps", "graspness")
#: Friction coefficient up to which a grasp counts as feasible for the graspness labels
#: (graspness_implementation's ``fric_coef_thresh``).
GRASPNESS_FRICTION = 0.6


@dataclass(frozen=True)
class BackboneConfig:
    """PointNet++ single-scale-grouping backbone.

    npoints/radii (m)/nsamples/mlps describe the set-abstraction layers
    (each MLP's input width is implied: 3 + previous output); fp_mlps the two
    feature-propagation layers (sa3 <- sa4, then sa2 <- sa3). The seeds are
    the sa2 points, with fp_mlps[-1][-1] features.
    """

    npoints: tuple[int, ...] = (2048, 1024, 512, 256)
    radii: tuple[float, ...] = (0.04, 0.1, 0.2, 0.3)
    nsamples: tuple[int, ...] = (64, 32, 16, 16)
    mlps: tuple[tuple[int, ...], ...] = ((64, 64, 128), (128, 128, 256), (128, 128, 256), (128, 128, 256))
    fp_mlps: tuple[tuple[int, ...], ...] = ((256, 256), (256, 256))
    input_feature_dim: int = 0

    @property
    def num_seeds(self) -> int:
        return self.npoints[1]

    @property
    def seed_dim(self) -> int:
        return self.fp_mlps[-1][-1]


@dataclass(frozen=True)
class ModelConfig:
    """Everything that fixes the network's shapes and the meaning of its outputs.

    Units: metres and radians. ``depths`` are the approach-distance bins (the
    cylinder crop's upper heights). ``score_target`` says what the score head
    regresses: "linear" = 1.1 - mu (this package's labels) or "log" =
    log(mu_max / mu) (graspnet-baseline's); decode always reports 1.1 - mu.
    ``angle_select``: "cls" picks the in-plane angle by its class logit (the
    reference's decode), "score" picks the best predicted score among angles
    whose class probability is at least 0.5 (falls back to "cls").
    ``fps``: "exact" farthest point sampling (fpsample when installed, else
    torch), "torch" (always the torch loop) or "bucket" (fpsample's
    approximate QuickFPS, run at every SA level).
    ``neighbour_search``: "exact" (brute-force torch ball and cylinder
    queries, the reference's semantics), "kdtree" (candidates from a k-d
    tree; the same result unless a ball holds more than 4 x nsample points,
    or a crop's enclosing sphere more than max(16 x nsample, 256)) or "knn"
    (set abstraction groups the nsample nearest points within the radius
    instead of the first nsample by index, about 3x cheaper at the first
    level; cylinder crops as "kdtree").
    ``decode_mode``: "package" (scores reported as 1.1 - mu, ranked by
    :mod:`.gaf` bins downstream) or "reference" (graspnet-baseline's
    ``pred_decode``: angle by class, depth by bin, score = raw score x
    tolerance / 0.05, ranked by that score); see :mod:`.decode`.
    ``seeds``: "fps" (the paper: the seeds are the second set-abstraction
    level's FPS points) or "graspness" (ICCV 2021 graspness discovery: every
    first-level point is a candidate, a graspness head scores it, the seeds
    are FPS among candidates above ``graspness_threshold`` (normalised
    graspness, 0..1), topped up by FPS over the rest when fewer pass; see
    :mod:`.graspness`). Only "graspness" networks have the graspness head.
    """

    name: str = "paper"
    num_points: int = 20000
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    num_view: int = 300
    num_angle: int = 12
    depths: tuple[float, ...] = (0.01, 0.02, 0.03, 0.04)
    cylinder_radius: float = 0.05
    cylinder_hmin: float = -0.02
    cylinder_nsample: int = 64
    crop_mlp: tuple[int, ...] = (64, 128, 256)
    operation_mlp: tuple[int, int] = (128, 128)
    tolerance_mlp: tuple[int, int] = (128, 128)
    score_target: str = "linear"
    angle_select: str = "score"
    decode_width_scale: float = 1.0
    fps: str = "exact"
    neighbour_search: str = "exact"
    decode_mode: str = "package"
    seeds: str = "fps"
    graspness_threshold: float = 0.1

    def __post_init__(self) -> None:
        b = self.backbone
        if not (len(b.npoints) == len(b.radii) == len(b.nsamples) == len(b.mlps) == 4):
            raise ValueError("backbone needs exactly 4 set-abstraction layers (npoints, radii, nsamples, mlps)")
        if len(b.fp_mlps) != 2:
            raise ValueError("backbone needs exactly 2 feature-propagation layers")
        if list(b.npoints) != sorted(b.npoints, reverse=True):
            raise ValueError(f"backbone npoints must decrease, got {b.npoints}")
        if self.num_points < b.npoints[0]:
            raise ValueError(f"num_points ({self.num_points}) must be >= the first SA layer's "
                             f"npoint ({b.npoints[0]})")
        if len(self.operation_mlp) != 2 or len(self.tolerance_mlp) != 2:
            raise ValueError("operation_mlp and tolerance_mlp need exactly two hidden widths")
        if self.score_target not in ("linear", "log"):
            raise ValueError(f"score_target must be 'linear' or 'log', got {self.score_target!r}")
        if self.angle_select not in ("cls", "score"):
            raise ValueError(f"angle_select must be 'cls' or 'score', got {self.angle_select!r}")
        if self.fps not in ("exact", "torch", "bucket"):
            raise ValueError(f"fps must be 'exact', 'torch' or 'bucket', got {self.fps!r}")
        if self.neighbour_search not in ("exact", "kdtree", "knn"):
            raise ValueError(f"neighbour_search must be 'exact', 'kdtree' or 'knn', got {self.neighbour_search!r}")
        if self.decode_mode not in DECODE_MODES:
            raise ValueError(f"decode_mode must be one of {DECODE_MODES}, got {self.decode_mode!r}")
        if self.seeds not in SEED_MODES:
            raise ValueError(f"seeds must be one of {SEED_MODES}, got {self.seeds!r}")
        if list(self.depths) != sorted(self.depths) or min(self.depths) <= 0:
            raise ValueError(f"depths must be positive and increasing (m), got {self.depths}")

    @property
    def num_depth(self) -> int:
        return len(self.depths)

    @property
    def num_seeds(self) -> int:
        return self.backbone.num_seeds

    @property
    def angles(self) -> np.ndarray:
        """(A,) in-plane angle bins, radians over [0, pi)."""
        return np.arange(self.num_angle) * np.pi / self.num_angle


@dataclass(frozen=True)
class LabelConfig:
    """Label assignment (paper section 4.2): seed <-> ground-truth point within
    ``match_radius`` m, template view <-> label view within ``view_match_deg``."""

    match_radius: float = 0.005
    view_match_deg: float = 5.0
    max_width: float = GRASP_MAX_WIDTH
    #: grasps with friction coefficient mu <= this count as feasible in the graspness labels
    graspness_friction: float = GRASPNESS_FRICTION


#: Where the tolerance loss applies (LossWeights.tolerance_on).
TOLERANCE_ON = ("graspable", "all")


@dataclass(frozen=True)
class LossWeights:
    """Paper eq. 5-8 weights (section 5.2) and where the tolerance loss applies.

    ``tolerance_on``: "graspable" -- only ground-truth graspable (angle,
    depth) entries, as the reference trains; "all" -- every entry of the
    stage-2 seeds, with target 0 where the ground truth is not graspable
    (a grasp that fails has no tolerance), so that GAF's in-bin order also
    pushes predicted-graspable but ungraspable grasps down.
    """

    lambda1: float = 0.5  # view score regression inside L_A
    lambda2: float = 1.0  # grasp score regression inside L_R
    lambda3: float = 0.2  # width regression inside L_R
    alpha: float = 0.5  # L_R
    beta: float = 0.1  # L_F (tolerance)
    tolerance_on: str = "graspable"
    #: point graspness regression (smooth L1), "graspness" seed networks only; 10 as graspness_implementation
    graspness: float = 10.0

    def __post_init__(self) -> None:
        if self.tolerance_on not in TOLERANCE_ON:
            raise ValueError(f"tolerance_on must be one of {TOLERANCE_ON}, got {self.tolerance_on!r}")


def paper() -> ModelConfig:
    return ModelConfig()


def reference() -> ModelConfig:
    """``paper`` with graspnet-baseline's training conventions (for its checkpoints)."""
    return dataclasses.replace(ModelConfig(), name="reference", score_target="log",
                               angle_select="cls", decode_width_scale=1.2, decode_mode="reference")


def cpu() -> ModelConfig:
    return ModelConfig(
        name="cpu",
        num_points=8192,
        backbone=BackboneConfig(
            npoints=(1024, 512, 256, 128),
            radii=(0.04, 0.1, 0.2, 0.3),
            nsamples=(32, 16, 16, 16),
            mlps=((32, 32, 64), (64, 64, 128), (64, 64, 128), (64, 64, 128)),
            fp_mlps=((128, 128), (128, 128)),
        ),
        cylinder_nsample=16,
        crop_mlp=(32, 64, 128),
        operation_mlp=(64, 64),
        tolerance_mlp=(64, 64),
        fps="bucket",
        neighbour_search="knn",
    )


CONFIGS = {"paper": paper, "cpu": cpu, "reference": reference}


def get_config(name: str) -> ModelConfig:
    """A named configuration: paper, cpu or reference."""
    if name not in CONFIGS:
        raise ValueError(f"unknown model config '{name}'; use one of {sorted(CONFIGS)}")
    return CONFIGS[name]()


def _tuplify(value):
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


def config_to_dict(cfg: ModelConfig) -> dict:
    """Plain-JSON dict of a ModelConfig (tuples become lists)."""
    return dataclasses.asdict(cfg)


def config_from_dict(data: dict) -> ModelConfig:
    """Inverse of :func:`config_to_dict`; unknown keys raise ValueError naming them."""
    data = dict(data)
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"model config has unknown fields {unknown}; was it written by a newer version?")
    bb = data.pop("backbone", None)
    if bb is not None:
        bknown = {f.name for f in dataclasses.fields(BackboneConfig)}
        bunknown = sorted(set(bb) - bknown)
        if bunknown:
            raise ValueError(f"backbone config has unknown fields {bunknown}")
        data["backbone"] = BackboneConfig(**{k: _tuplify(v) for k, v in bb.items()})
    return ModelConfig(**{k: _tuplify(v) for k, v in data.items()})
