"""Scene and split evaluation from a prediction dump, with a worker pool.

Predictions use the reference dump layout ``DUMP/scene_%04d/{camera}/%04d.npy``,
one (N, 17) array per frame in that frame's camera frame. A scene is one
independent task, :func:`evaluate_scene` ``(root, dump, scene_id, camera,
config, ann_ids) -> SceneResult``: a pure function of files, picklable in
and out, so any ``concurrent.futures.Executor`` can run it (the default
process pool here; a ``dask.distributed`` client's ``get_executor()`` or a
Ray pool would spread scenes over machines that see the same files).

Memory is bounded: a scene task holds one frame's predictions at a time and
the scene's object geometry (loaded once per scene through a
:class:`ModelCache`); results are small ((frames, 50, 6) floats and a few
counts per frame) and are yielded as scenes finish.

Split scores follow the reference: AP is the mean of every Precision@k
entry of every frame of the split (scenes of 256 frames each weigh the
same), AP0.8 / AP0.4 the means of the mu = 0.8 / 0.4 columns.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..dataset.layout import CAMERAS, SPLITS, Layout, check_camera
from ..grasp import GRASP_ARRAY_LEN, GraspGroup, validate_grasp_array
from .frame import EvalConfig, FrameResult, evaluate_frame
from .ground_truth import FrameGroundTruth, ModelCache, SceneCamera


def prediction_path(dump_dir: str | Path, scene_id: int, camera: str, ann_id: int) -> Path:
    """``dump/scene_%04d/{camera}/%04d.npy``, the reference dump layout."""
    return Path(dump_dir) / f"scene_{scene_id:04d}" / camera / f"{ann_id:04d}.npy"


def load_predictions(path: str | Path) -> GraspGroup:
    """Read one frame's (N, 17) predictions; errors name the file.

    An empty file (zero rows) is valid and gives zero grasps. Wrong shapes,
    NaN/inf values, negative heights/depths and improper rotations raise
    ValueError; negative widths are allowed (the benchmark clips widths to
    [0, 0.1] m, as the reference does).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prediction file not found: {path} "
                                "(expected DUMP/scene_%04d/CAMERA/%04d.npy per frame)")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npy array ({exc})") from exc
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{path}: expected a float array, got dtype {arr.dtype}")
    if arr.size == 0:
        return GraspGroup()
    if arr.ndim != 2 or arr.shape[1] != GRASP_ARRAY_LEN:
        raise ValueError(f"{path}: expected shape (N, {GRASP_ARRAY_LEN}), got {arr.shape}")
    if arr.dtype == np.float32:  # the reference clips widths to 0.1 in the file's dtype
        arr = arr.copy()
        arr[arr[:, 1] > 0.1, 1] = np.float32(0.1)
    arr = arr.astype(np.float64)
    arr[:, 1] = np.maximum(arr[:, 1], 0.0)  # the reference clips negative widths to 0
    return GraspGroup(validate_grasp_array(arr, str(path)), copy=False, validate=False)


def frame_ids(root: str | Path, scene_id: int, camera: str) -> list[int]:
    """Annotated frames of a scene: ``annotations/%04d.xml`` files present, sorted."""
    folder = Layout(root).camera_dir(scene_id, camera) / "annotations"
    if not folder.is_dir():
        raise FileNotFoundError(f"scene {scene_id} ({camera}): no annotations folder {folder}")
    ids = sorted(int(p.stem) for p in folder.glob("[0-9][0-9][0-9][0-9].xml"))
    if not ids:
        raise FileNotFoundError(f"scene {scene_id} ({camera}): no annotation files in {folder}")
    return ids


@dataclass
class SceneResult:
    """Results of one scene: Precision@k of each frame and per-frame counts."""

    scene_id: int
    camera: str
    ann_ids: list[int]
    accuracy: np.ndarray  # (frames, top_k, len(mus))
    mus: np.ndarray
    frames: list[dict] = field(default_factory=list)  # FrameResult.summary() per frame
    seconds: float = 0.0

    @property
    def ap(self) -> float:
        return float(self.accuracy.mean())

    def ap_at(self, mu: float) -> float:
        return float(self.accuracy[..., _mu_column(self.mus, mu)].mean())


def _mu_column(mus: np.ndarray, mu: float) -> int:
    hit = np.flatnonzero(np.isclose(mus, mu))
    if len(hit) == 0:
        raise ValueError(f"mu {mu} is not among the evaluated {list(mus)}")
    return int(hit[0])


def evaluate_scene(root: str | Path, dump_dir: str | Path, scene_id: int, camera: str,
                   config: EvalConfig | None = None, ann_ids: Sequence[int] | None = None,
                   cache: ModelCache | None = None,
                   on_frame: Callable[[int, FrameResult], None] | None = None) -> SceneResult:
    """Evaluate every frame of one scene (default: all annotated frames).

    ``on_frame(ann_id, result)`` is called after each frame (e.g. to keep the
    per-grasp results, which the returned SceneResult does not hold).
    """
    import time

    start = time.perf_counter()
    config = config or EvalConfig()
    check_camera(camera)
    layout = Layout(root)
    if not layout.scene_dir(scene_id).is_dir():
        raise FileNotFoundError(f"scene {scene_id} not in the dataset: "
                                f"{layout.scene_dir(scene_id)} is missing")
    scene_dump = Path(dump_dir) / f"scene_{scene_id:04d}" / camera
    if not scene_dump.is_dir():
        raise FileNotFoundError(f"no predictions for scene {scene_id} ({camera}): {scene_dump} is missing")
    ann_ids = list(ann_ids) if ann_ids is not None else frame_ids(root, scene_id, camera)
    cache = cache if cache is not None else ModelCache(root)
    scene_camera = SceneCamera.load(layout, scene_id, camera)
    accuracy = np.zeros((len(ann_ids), config.top_k, len(config.mus)))
    frames = []
    for k, ann_id in enumerate(ann_ids):
        grasps = load_predictions(prediction_path(dump_dir, scene_id, camera, ann_id))
        gt = FrameGroundTruth.from_root(root, scene_id, camera, ann_id, cache, scene_camera)
        result = evaluate_frame(grasps, gt, config)
        accuracy[k] = result.accuracy
        frames.append({"ann_id": int(ann_id), **result.summary()})
        if on_frame is not None:
            on_frame(ann_id, result)
    return SceneResult(scene_id, camera, ann_ids, accuracy, config.mu_array, frames,
                       time.perf_counter() - start)


@dataclass(frozen=True)
class SceneTask:
    """Everything one scene evaluation needs; picklable (send it to any worker)."""

    root: str
    dump_dir: str
    scene_id: int
    camera: str
    config: EvalConfig = field(default_factory=EvalConfig)
    ann_ids: tuple[int, ...] | None = None

    def __call__(self) -> SceneResult:
        return evaluate_scene(self.root, self.dump_dir, self.scene_id, self.camera, self.config,
                              self.ann_ids)


def run_task(task: SceneTask) -> SceneResult:
    """Module-level entry point for executors that need a plain function."""
    return task()


def _single_thread_worker() -> None:
    # One scene per process: keep BLAS/Open3D from oversubscribing the cores.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def evaluate_scenes(root: str | Path, dump_dir: str | Path, scene_ids: Iterable[int], camera: str,
                    config: EvalConfig | None = None, workers: int = 1,
                    ann_ids: Sequence[int] | None = None,
                    executor: cf.Executor | None = None) -> Iterator[SceneResult]:
    """Evaluate scenes, yielding each SceneResult as it finishes (any order).

    ``workers`` > 1 runs scenes in a process pool; pass ``executor`` to use
    another engine (anything with ``submit(fn, arg) -> Future``). Every
    scene folder is checked before any work starts, so a typo fails fast.
    """
    config = config or EvalConfig()
    check_camera(camera)
    scene_ids = list(scene_ids)
    layout = Layout(root)
    for s in scene_ids:
        if not layout.scene_dir(s).is_dir():
            raise FileNotFoundError(f"scene {s} not in the dataset: {layout.scene_dir(s)} is missing")
        if not (Path(dump_dir) / f"scene_{s:04d}" / camera).is_dir():
            raise FileNotFoundError(f"no predictions for scene {s} ({camera}): "
                                    f"{Path(dump_dir) / f'scene_{s:04d}' / camera} is missing")
    tasks = [SceneTask(str(root), str(dump_dir), s, camera, config,
                       tuple(ann_ids) if ann_ids is not None else None) for s in scene_ids]
    if executor is None and (workers <= 1 or len(tasks) <= 1):
        for task in tasks:
            yield task()
        return
    own = executor is None
    pool = executor or cf.ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                                              initializer=_single_thread_worker)
    try:
        futures = [pool.submit(run_task, t) for t in tasks]
        for fut in cf.as_completed(futures):
            yield fut.result()
    finally:
        if own:
            pool.shutdown(wait=True, cancel_futures=True)


def split_of(scene_id: int) -> str:
    """Split name of a scene id ('other' outside the dataset's splits)."""
    for name, ids in SPLITS.items():
        if scene_id in ids:
            return name
    return "other"


@dataclass
class Summary:
    """AP, AP0.8, AP0.4 per scene, per split and overall."""

    mus: np.ndarray
    scenes: dict[int, dict]
    splits: dict[str, dict]
    overall: dict
    precision: np.ndarray  # (top_k, len(mus)) mean Precision@k over all frames


def summarize(results: Iterable[SceneResult]) -> Summary:
    """Aggregate scene results the way the reference's ``eval_all`` does."""
    results = sorted(results, key=lambda r: r.scene_id)
    if not results:
        raise ValueError("no scene results to summarize")
    mus = results[0].mus

    def scores(acc: np.ndarray, n_frames: int) -> dict:
        return {"ap": float(acc.mean()), "ap_0.8": float(acc[..., _mu_column(mus, 0.8)].mean()),
                "ap_0.4": float(acc[..., _mu_column(mus, 0.4)].mean()),
                "ap_per_mu": {f"{m:.1f}": float(acc[..., j].mean()) for j, m in enumerate(mus)},
                "frames": n_frames}

    scenes = {r.scene_id: {**scores(r.accuracy, len(r.ann_ids)), "split": split_of(r.scene_id),
                           "camera": r.camera, "seconds": r.seconds} for r in results}
    groups: dict[str, list[SceneResult]] = {}
    for r in results:
        groups.setdefault(split_of(r.scene_id), []).append(r)
    splits = {name: {**scores(np.concatenate([r.accuracy for r in rs]), sum(len(r.ann_ids) for r in rs)),
                     "scenes": [r.scene_id for r in rs]} for name, rs in groups.items()}
    everything = np.concatenate([r.accuracy for r in results])
    return Summary(mus, scenes, splits, scores(everything, len(everything)), everything.mean(axis=0))


__all__ = ["CAMERAS", "SceneResult", "SceneTask", "Summary", "evaluate_scene", "evaluate_scenes",
           "frame_ids", "load_predictions", "prediction_path", "run_task", "split_of", "summarize"]
