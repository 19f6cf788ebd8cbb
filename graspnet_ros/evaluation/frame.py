"""One frame of the GraspNet-1Billion benchmark (paper section 3.4).

:func:`evaluate_frame` takes the predicted grasps of one frame (camera
frame, metres) and the frame's :class:`FrameGroundTruth` and computes what
the reference evaluator (graspnetAPI 1.2.11, ``GraspNetEval.eval_scene`` and
``eval_utils.eval_grasp``) computes, in this order:

1. width clipped to [0, 0.1] m (done by the reference's ``eval_scene``
   before ``eval_grasp``);
2. pose NMS: a grasp within 0.03 m and 30 degrees of a better one is dropped
   (run on a growing prefix of the score order and stopped as soon as the
   selection below is decided, which gives the same selection);
3. each grasp is assigned to the object owning the nearest model point
   (models voxel-sampled at 0.008 m, posed in the camera frame);
4. the 10 best grasps of each object are kept; of those, the ones scoring at
   least the 50th best score (the lowest score if fewer than 50 remain) are
   evaluated, so ties can let slightly more than 50 through;
5. collision and empty checks of each object's grasps against the points of
   all posed models plus the 1 x 1 x 0.05 m table grid (0.008 m), cropped to
   that object's model bounding box +- 0.05 m, with the fixed gripper of
   :class:`GripperModel` (height 0.02, base depth 0.02, finger width 0.01,
   fewer than 10 points between the jaws = empty);
6. force-closure label of the grasps that neither collide nor are empty: the
   smallest mu in {0.2, 0.4, ..., 1.2} at which the jaws' contacts on the
   assigned object's mesh pass the antipodal test, else -1; colliding and
   empty grasps are labelled -1;
7. the evaluated grasps sorted by predicted score; for k = 1..50 and each mu,
   Precision@k = (grasps with 0 < label <= mu among the top k) / k, with k in
   the denominator even when fewer than k grasps exist. The (50, 6) matrix is
   the frame's result; AP averages it over k and all six mu columns (the
   reference's ``np.mean(res)``: mu = 1.2 included, unlike the paper's text),
   AP0.8 and AP0.4 are the means of the mu = 0.8 and mu = 0.4 columns.

Reference quirks that change numbers, followed by default:

* no distance gate in step 3: a grasp far from every object is still
  assigned to (and competes for the top 10 of) the nearest one.
  ``EvalConfig(assign_max_distance=d)`` gives the corrected behaviour:
  grasps whose nearest model point is farther than d metres form their own
  "unassigned" group (same top-10 cap) and score -1 without further checks
  (``object_index`` -1, neither collision nor empty).
  Results with this option are not comparable with published numbers.
* the gripper height is 0.02 m whatever the prediction's height column says.
* the workspace crop of step 5 ignores scene points outside the assigned
  object's box +- 0.05 m, so fingers reaching beyond it never collide there.
* the reference scans mu from 1.2 down and stops at the first failure after a
  pass; with contacts independent of mu the antipodal test is monotonic in
  mu, so this equals "smallest passing mu", which is what is computed here.
* contacts and normals (``EvalConfig.contact_normals``): ``"dexnet"``
  (default) is the reference's own method, reproduced exactly in
  :mod:`graspnet_ros.sdf`: each jaw marches the object's signed distance
  field (the dataset's ``textured.sdf``, or the grid dex-net's SDFGen makes
  of the mesh, cached on disk) along the jaw line at ``t + depth * x``, with
  its quadratic zero-crossing refinement (which finds no contact on flat
  faces) and its 27-point plane fit for the normal, off the true normal by
  about 5 degrees on average. ``"sdf"`` is the earlier imitation of that
  normal on the exact mesh (ray-cast contacts, point-to-mesh distances;
  about 94% label agreement with the reference); ``"face"`` uses ray-cast
  contacts and exact triangle normals (corrected behaviour, not comparable
  with published numbers).

The reference crashes on a frame with no grasp; here such a frame scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..force_closure import BENCHMARK_MUS, NORMALS, force_closure_labels
from ..grasp import WIDTH, GraspGroup
from ..gripper import CollisionResult, GripperModel, _region_masks
from ..nms import pose_nms
from ..sdf import close_jaws, close_jaws_naive, friction_labels
from .ground_truth import FrameGroundTruth, crop_box

#: Index of the unassigned group (only with ``assign_max_distance``).
UNASSIGNED = -1
#: Contact methods of :class:`EvalConfig`: the reference's SDF march ("dexnet") or the mesh's.
CONTACT_METHODS = ("dexnet", *NORMALS)


@dataclass(frozen=True)
class EvalConfig:
    """Benchmark parameters; the defaults are the reference's."""

    top_k: int = 50  # Precision@k for k = 1..top_k, and the score cut
    per_object: int = 10  # best grasps kept per object
    max_width: float = 0.1  # m, widths clipped to [0, max_width]
    nms_translation: float = 0.03  # m
    nms_rotation: float = float(np.deg2rad(30.0))  # rad
    mus: tuple[float, ...] = tuple(BENCHMARK_MUS)
    gripper: GripperModel = field(default_factory=GripperModel)
    workspace_margin: float = 0.05  # m, collision crop around each object's model box
    assign_max_distance: float | None = None  # m; None = the reference (no gate)
    nms_prefix: int = 256  # grasps NMS examines first (grown x4 until the cut is decided)
    contact_normals: str = "dexnet"  # "dexnet" = the reference's SDF method; "sdf", "face": mesh based

    def __post_init__(self) -> None:
        if self.top_k < 1 or self.per_object < 1:
            raise ValueError("top_k and per_object must be >= 1")
        if self.max_width <= 0:
            raise ValueError("max_width must be > 0 (metres)")
        if self.nms_prefix < 1:
            raise ValueError("nms_prefix must be >= 1")
        if self.contact_normals not in CONTACT_METHODS:
            raise ValueError(f"contact_normals must be one of {CONTACT_METHODS}, got {self.contact_normals!r}")
        if self.assign_max_distance is not None and self.assign_max_distance <= 0:
            raise ValueError("assign_max_distance must be > 0 metres, or None for the reference")

    @property
    def mu_array(self) -> np.ndarray:
        return np.asarray(self.mus, dtype=np.float64)

    def mu_column(self, mu: float) -> int:
        hit = np.flatnonzero(np.isclose(self.mu_array, mu))
        if len(hit) == 0:
            raise ValueError(f"mu {mu} is not among the evaluated {list(self.mus)}")
        return int(hit[0])


@dataclass
class FrameResult:
    """Outcome of one frame. Per-grasp arrays follow ``grasps`` (score order)."""

    grasps: GraspGroup  # (M,) evaluated grasps, best score first, widths clipped
    object_index: np.ndarray  # (M,) index into the ground truth's objects (-1 unassigned)
    object_ids: np.ndarray  # (M,) object id (-1 unassigned)
    labels: np.ndarray  # (M,) smallest force-closure mu, or -1
    collision: np.ndarray  # (M,) bool
    empty: np.ndarray  # (M,) bool
    accuracy: np.ndarray  # (top_k, len(mus)) Precision@k per mu
    mus: np.ndarray  # (len(mus),)
    num_input: int = 0  # grasps in the prediction
    num_after_nms: int | None = 0  # None: NMS stopped once the selection was decided

    @property
    def ap(self) -> float:
        """Mean of the Precision@k matrix over k and every mu (the reference's AP)."""
        return float(self.accuracy.mean())

    def ap_at(self, mu: float) -> float:
        """Mean Precision@k of one mu column (AP0.8: mu = 0.8, AP0.4: mu = 0.4)."""
        col = np.flatnonzero(np.isclose(self.mus, mu))
        if len(col) == 0:
            raise ValueError(f"mu {mu} is not among the evaluated {list(self.mus)}")
        return float(self.accuracy[:, col[0]].mean())

    def summary(self) -> dict:
        """JSON-ready numbers of this frame."""
        return {
            "ap": self.ap, "ap_0.8": self.ap_at(0.8), "ap_0.4": self.ap_at(0.4),
            "num_input": self.num_input, "num_after_nms": self.num_after_nms,
            "num_evaluated": len(self.grasps),
            "num_collision": int(self.collision.sum()), "num_empty": int(self.empty.sum()),
            "num_force_closure": int((self.labels > 0).sum()),
        }


def precision_at_k(labels: np.ndarray, mus: np.ndarray, top_k: int = 50) -> np.ndarray:
    """(top_k, len(mus)) Precision@k of labels already sorted best score first.

    Entry [k-1, j] counts labels with 0 < label <= mus[j] among the first k,
    divided by k (also when fewer than k labels exist).
    """
    labels = np.asarray(labels, dtype=np.float64).reshape(-1)
    mus = np.asarray(mus, dtype=np.float64).reshape(-1)
    good = (labels[:top_k, None] > 0) & (labels[:top_k, None] <= mus[None, :])
    counts = np.zeros((top_k, len(mus)))
    if len(good):
        cum = np.cumsum(good, axis=0)
        counts[:len(cum)] = cum
        counts[len(cum):] = cum[-1]
    return counts / np.arange(1, top_k + 1)[:, None]


def _empty_result(grasps: GraspGroup, config: EvalConfig, num_input: int, num_nms: int) -> FrameResult:
    z = np.zeros(0)
    return FrameResult(grasps[np.zeros(0, dtype=np.int64)], z.astype(np.int64), z.astype(np.int64), z,
                       z.astype(bool), z.astype(bool), np.zeros((config.top_k, len(config.mus))),
                       config.mu_array, num_input, num_nms)


def clip_widths(grasps: GraspGroup, max_width: float = 0.1) -> GraspGroup:
    """Copy of ``grasps`` with widths clipped to [0, max_width] metres.

    Widths up to ``max_width`` rounded to float32 are kept: that is where the
    reference's clipping leaves widths of float32 predictions (it clips in the
    file's dtype; :func:`~graspnet_ros.evaluation.scene.load_predictions`
    does the same), and the contact march is sensitive to the difference.
    """
    arr = grasps.array.copy()
    w = arr[:, WIDTH]
    w[w > float(np.float32(max_width))] = max_width
    np.maximum(w, 0.0, out=w)
    return GraspGroup(arr, frame_id=grasps.frame_id, copy=False, validate=False)


def assign_objects(points: np.ndarray, gt: FrameGroundTruth,
                   max_distance: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Object index (into ``gt``) owning the nearest posed model point of each
    (N, 3) camera-frame point, and that distance (m); -1 beyond ``max_distance``.

    Each object's cached k-d tree is queried with the points taken into the
    object frame (no tree is built per frame).
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    dist = np.empty((len(gt), len(points)))
    for i, (model, T) in enumerate(zip(gt.models, gt.poses)):
        dist[i] = model.tree.query((points - T[:3, 3]) @ T[:3, :3])[0]
    owner = np.argmin(dist, axis=0) if len(points) else np.zeros(0, dtype=np.int64)
    best = dist[owner, np.arange(len(points))]
    if max_distance is not None:
        owner = np.where(best > max_distance, UNASSIGNED, owner)
    return owner, best


def select_candidates(scores: np.ndarray, owner: np.ndarray, per_object: int,
                      top_k: int) -> tuple[np.ndarray, bool]:
    """Indices of the grasps the benchmark evaluates, best score first.

    ``scores``/``owner`` must be sorted best score first. Keeps the
    ``per_object`` best of each owner, then those scoring at least the
    ``top_k``-th best of what is kept (the reference's cut, ties included).
    Also returns whether the cut was decided by a full ``top_k`` (then no
    grasp scoring below the cut, seen or not, can change the selection).
    """
    n = len(scores)
    if n == 0:
        return np.zeros(0, dtype=np.int64), False
    by_owner = np.argsort(owner, kind="stable")  # stays in score order within an owner
    sorted_owner = owner[by_owner]
    starts = np.flatnonzero(np.r_[True, sorted_owner[1:] != sorted_owner[:-1]])
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    kept = np.sort(by_owner[rank < per_object])  # back to score order
    kept_scores = scores[kept]
    min_score = kept_scores[min(top_k, len(kept)) - 1]
    return kept[kept_scores >= min_score], len(kept) >= top_k


def check_collision_dense(grasps: GraspGroup, points: np.ndarray,
                          model: GripperModel) -> CollisionResult:
    """Collision/empty checks of a few grasps against a small point set.

    The core's inequalities (:mod:`graspnet_ros.gripper`) on the dense
    (points x grasps) block, the points put into every gripper frame by one
    matrix product: the right tool for the benchmark's <= 10 grasps per
    object against a few thousand cropped points (no tree to build).
    """
    n = len(grasps)
    if n == 0 or len(points) == 0:
        count = np.zeros(n, dtype=np.int64)
        return CollisionResult(np.zeros(n, bool), count < model.empty_threshold, count)
    rot = grasps.rotations
    offsets = np.einsum("gk,gkj->gj", grasps.translations, rot)  # t in each gripper frame
    local = (points @ rot.transpose(1, 0, 2).reshape(3, -1)).reshape(len(points), n, 3) - offsets
    collide, inner = _region_masks(local, grasps.widths, grasps.depths, model)
    count = inner.sum(axis=0)
    return CollisionResult(collide.any(axis=0), count < model.empty_threshold, count)


def _nms_select(gg: GraspGroup, gt: FrameGroundTruth, config: EvalConfig
                ) -> tuple[GraspGroup, np.ndarray, int | None]:
    """Pose NMS, assignment, per-object top and cut, on a growing score prefix.

    NMS only lets better grasps suppress worse ones, so NMS of the best P
    grasps equals the full NMS restricted to them. Once the cut is decided
    by a full top_k and the prefix's last grasp scores strictly below it,
    no further grasp can enter or change the selection, and the remaining
    grasps are never examined. Returns the selected grasps (best first),
    their owners and the number of grasps NMS kept (None if it stopped early).
    """
    order = np.argsort(-gg.scores, kind="stable")
    n = len(order)
    size = min(n, config.nms_prefix)
    while True:
        prefix = gg[order[:size]]
        kept = prefix[pose_nms(prefix, config.nms_translation, config.nms_rotation)]
        owner, _ = assign_objects(kept.translations, gt, config.assign_max_distance)
        chosen, full = select_candidates(kept.scores, owner, config.per_object, config.top_k)
        if size == n:
            return kept[chosen], owner[chosen], len(kept)
        if full and prefix.scores[-1] < kept.scores[chosen[-1]]:
            return kept[chosen], owner[chosen], None
        size = min(n, size * 4)


def object_labels(grasps: GraspGroup, pose: np.ndarray, model, config: EvalConfig,
                  naive: bool = False) -> np.ndarray:
    """Friction labels (N,) of camera-frame grasps on the object ``model`` posed
    at ``pose`` (T_camera<-object, metres), by ``config.contact_normals``.

    ``"dexnet"`` takes each grasp into the object frame as the reference does:
    the jaw centre ``t + depth * x`` in the camera frame, then the inverse of
    the pose rounded to float32 (the reference parses poses into float32
    matrices and inverts them in float32), the closing axis through the
    float32 rotation. The contact march is chaotic where it rejects flat faces
    (a quadratic coefficient under 1e-10 decides), so these roundings matter.
    ``naive`` walks the reference's loop one grasp at a time (the twin of the
    batched march).
    """
    if config.contact_normals != "dexnet":
        in_object = grasps.transform(np.linalg.inv(pose), frame_id="object")
        return force_closure_labels(in_object, model.raycaster, config.mu_array, config.contact_normals)
    pose32 = np.asarray(pose).astype(np.float32)
    inv32 = np.linalg.inv(pose32).astype(np.float64)
    rot32 = pose32[:3, :3].astype(np.float64)
    centers = grasps.translations + grasps.depths[:, None] * grasps.approaches  # camera frame
    centers = centers @ inv32[:3, :3].T + inv32[:3, 3]
    axes = grasps.closing_axes @ rot32  # R_obj^T y, row vectors
    if not naive:
        contacts = close_jaws(model.sdf, centers, axes, grasps.widths)
        return friction_labels(contacts, config.mu_array)
    from ..sdf import JawContacts

    found, points, normals = zip(*(close_jaws_naive(model.sdf, c, y, w) for c, y, w in
                                   zip(centers, axes, grasps.widths)))
    return friction_labels(JawContacts(np.array(found, bool), np.array(points).reshape(-1, 2, 3),
                                       np.array(normals).reshape(-1, 2, 3)), config.mu_array)


def evaluate_frame(grasps: GraspGroup, gt: FrameGroundTruth,
                   config: EvalConfig | None = None) -> FrameResult:
    """Evaluate one frame's predicted grasps (camera frame) against its ground truth.

    See the module docstring for the steps. Never fails on an empty grasp set:
    the result then has no grasps and an all-zero Precision@k matrix.
    """
    config = config or EvalConfig()
    num_input = len(grasps)
    if num_input == 0:
        return _empty_result(grasps, config, 0, 0)
    gg, owner, num_nms = _nms_select(clip_widths(grasps, config.max_width), gt, config)
    m = len(gg)
    labels = np.full(m, -1.0)
    collision = np.zeros(m, dtype=bool)
    empty = np.zeros(m, dtype=bool)
    posed = gt.posed_models()
    models = np.concatenate(posed)
    for i in np.unique(owner[owner >= 0]):
        sel = np.flatnonzero(owner == i)
        sub = gg[sel]
        lo = posed[i].min(axis=0) - config.workspace_margin
        hi = posed[i].max(axis=0) + config.workspace_margin
        workspace = np.concatenate([crop_box(models, lo, hi), gt.table_points_in_box(lo, hi)])
        check = check_collision_dense(sub, workspace, config.gripper)
        collision[sel], empty[sel] = check.collision, check.empty
        valid = check.valid
        if valid.any():
            labels[sel[valid]] = object_labels(sub[valid], gt.poses[i], gt.models[i], config)
    object_ids = np.where(owner >= 0, gt.obj_ids[np.maximum(owner, 0)], -1)
    return FrameResult(gg, owner, object_ids, labels, collision, empty,
                       precision_at_k(labels, config.mu_array, config.top_k), config.mu_array,
                       num_input, num_nms)


def evaluate_frame_naive(grasps: GraspGroup, gt: FrameGroundTruth,
                         config: EvalConfig | None = None) -> FrameResult:
    """Slow, obviously-correct twin of :func:`evaluate_frame`, for tests and baselines.

    Follows the reference's structure literally: O(N^2) NMS over every grasp,
    a dense nearest-point search, the whole table grid, and one grasp at a
    time through cropping, collision checks and force closure.
    """
    from ..gripper import check_collision_naive
    from ..nms import pose_nms_naive

    config = config or EvalConfig()
    if len(grasps) == 0:
        return _empty_result(grasps, config, 0, 0)
    gg = clip_widths(grasps, config.max_width)
    gg = gg[pose_nms_naive(gg, config.nms_translation, config.nms_rotation)]
    posed = gt.posed_models()
    models = np.concatenate(posed)
    seg = np.concatenate([np.full(len(p), i) for i, p in enumerate(posed)])
    dist = np.linalg.norm(gg.translations[:, None, :] - models[None, :, :], axis=2)
    owner = seg[np.argmin(dist, axis=1)]
    if config.assign_max_distance is not None:
        owner[dist.min(axis=1) > config.assign_max_distance] = UNASSIGNED
    lists = []
    for i in [UNASSIGNED, *range(len(gt))]:
        idx = np.flatnonzero(owner == i)
        lists.append(idx[np.argsort(-gg.scores[idx], kind="stable")][:config.per_object])
    kept = np.concatenate(lists)
    cut = np.sort(gg.scores[kept])[::-1][min(config.top_k, len(kept)) - 1]
    kept = kept[gg.scores[kept] >= cut]
    kept = kept[np.argsort(-gg.scores[kept], kind="stable")]
    scene = np.concatenate([models, gt.table_points()])
    m = len(kept)
    labels, collision, empty = np.full(m, -1.0), np.zeros(m, bool), np.zeros(m, bool)
    for j, g in enumerate(kept):
        i = owner[g]
        if i < 0:
            continue
        lo = posed[i].min(axis=0) - config.workspace_margin
        hi = posed[i].max(axis=0) + config.workspace_margin
        check = check_collision_naive(gg[[g]], crop_box(scene, lo, hi), config.gripper)
        collision[j], empty[j] = check.collision[0], check.empty[0]
        if check.valid[0]:
            labels[j] = object_labels(gg[[g]], gt.poses[i], gt.models[i], config, naive=True)[0]
    owner = owner[kept]
    object_ids = np.where(owner >= 0, gt.obj_ids[np.maximum(owner, 0)], -1)
    return FrameResult(gg[kept], owner, object_ids, labels, collision, empty,
                       precision_at_k(labels, config.mu_array, config.top_k), config.mu_array,
                       len(grasps), len(gg))
