"""Generate a synthetic GraspNet-1Billion root from a preset: objects, scenes, labels.

Steps, each resumable (finished work is skipped on a re-run):

1. objects: ``models/%03d/`` of every object the preset uses (``objects.py``);
2. scenes: settled, rendered and written (``synthetic/scenes.py``), in
   ``workers`` processes, or one Dask task per object / scene / label file
   with ``scheduler`` (:mod:`graspnet_ros.distributed`);
3. annotation: grasp labels, tolerance labels and scene collision labels
   through ``graspnet_ros.annotation`` with the preset's settings.

``synthetic.yaml`` at the root records the preset, the seed, the depth
model (``noise``: ``simple`` or ``sensor``, see ``synthetic/sensors.py``) and
the scene kind (``scene``: ``tabletop`` or ``lab``, see ``synthetic/lab.py``);
a root is only ever extended with the same seed, depth model and scene kind,
so every scene stays a function of ``(seed, scene_id)``.

``scene_ids`` restricts a run to some of the preset's scenes, with only the
objects those scenes draw (:func:`scene_objects`) and only their labels: a
day-long preset can be generated, trained on and evaluated in chunks, and a
later run with other ids (or none: all) completes the same root.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .layout import Layout, split_of_scene
from .objects import get_spec, object_complete, write_object
from .presets import Preset, get_preset
from .synthetic.scenes import SceneStats, choose_objects, generate_scene, scene_rng

INFO_FILE = "synthetic.yaml"


@dataclass
class GenerateReport:
    preset: str
    root: Path
    objects_written: int = 0
    objects_skipped: int = 0
    scenes: list[SceneStats] = field(default_factory=list)
    seconds_objects: float = 0.0
    seconds_scenes: float = 0.0
    seconds_annotation: float = 0.0

    def summary(self) -> str:
        done = [s for s in self.scenes if not s.skipped]
        frames = sum(s.frames for s in done)
        render = sum(s.render_seconds for s in done)
        lines = [f"root {self.root} (preset {self.preset})",
                 f"objects: {self.objects_written} written, {self.objects_skipped} already there "
                 f"({self.seconds_objects:.1f} s)",
                 f"scenes: {len(done)} written, {len(self.scenes) - len(done)} already complete; "
                 f"{frames} frames ({self.seconds_scenes:.1f} s"
                 + (f", {frames / render:.2f} frames/s rendered per process)" if render else ")"),
                 f"annotation: {self.seconds_annotation:.1f} s"]
        return "\n".join(lines)


def _object_job(args: tuple[str, int]) -> tuple[int, bool, float]:
    root, obj_id = args
    t0 = time.perf_counter()
    written = write_object(Layout(root), get_spec(obj_id))
    return obj_id, written, time.perf_counter() - t0


def _scene_job(args: tuple) -> SceneStats:
    root, scene_id, pool, per_scene, frames, cameras, seed, noise, scene = args
    return generate_scene(root, scene_id, pool, per_scene, frames, cameras, seed, noise=noise, scene=scene)


def _run(fn: Callable, jobs: list, workers: int, client: object | None = None, name: str = "job") -> Iterable:
    """Results of ``fn`` over ``jobs`` (in completion order): one Dask task each
    on ``client`` (a ``distributed.Client``), else in ``workers`` spawned processes."""
    if client is not None:
        from ..distributed import submit_all

        for _, result in submit_all(client, fn, [(job,) for job in jobs], name, [job[1] for job in jobs]):
            yield result
        return
    if workers <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(min(workers, len(jobs))) as pool:
        yield from pool.imap_unordered(fn, jobs)


def default_choices(root: Path, preset: Preset, noise: str | None, scene: str | None) -> tuple[str, str]:
    """(noise, scene): the given ones, else what ``root`` records, else the preset's defaults."""
    path = root / INFO_FILE
    info = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}
    recorded_noise = info.get("noise", "simple") if info else None  # roots older than the option: simple
    recorded_scene = info.get("scene", "tabletop") if info else None
    return (noise or recorded_noise or preset.noise), (scene or recorded_scene or preset.scene)


def check_info(root: Path, preset: Preset, seed: int, noise: str = "simple", scene: str = "tabletop") -> None:
    """Write ``synthetic.yaml`` on first use; refuse a root made with another
    seed, depth model or scene kind (roots written before those options record
    none: simple, tabletop), or one holding scenes this generator did not make
    (a real dataset: regenerating an incomplete scene deletes it first)."""
    path = root / INFO_FILE
    if not path.is_file() and Layout(root).scenes():
        raise ValueError(f"{root} holds scenes but no {INFO_FILE}: it is not a synthetic root made by "
                         "this generator (a real dataset?); choose an empty or new --root")
    if path.is_file():
        info = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if int(info.get("seed", seed)) != seed:
            raise ValueError(f"{root} was generated with seed {info.get('seed')}, not {seed}; "
                             "use the same --seed or another --root")
        if str(info.get("noise", "simple")) != noise:
            raise ValueError(f"{root} was generated with the {info.get('noise', 'simple')} depth model, not "
                             f"{noise}; use the same --noise or another --root")
        if str(info.get("scene", "tabletop")) != scene:
            raise ValueError(f"{root} was generated with {info.get('scene', 'tabletop')} scenes, not {scene}; "
                             "use the same --scene or another --root")
        if info.get("preset") == preset.name:
            return
    root.mkdir(parents=True, exist_ok=True)
    info = {"generator": "graspnet_ros.dataset.generate", "preset": preset.name, "seed": seed, "noise": noise,
            "scene": scene,
            "objects": preset.obj_ids, "scenes": list(preset.scenes),
            "frames_per_camera": {"train": preset.frames_per_camera, "test": preset.test_frames},
            "cameras": list(preset.cameras), "annotation": preset.annotation}
    tmp = path.with_name(f".{INFO_FILE}.{os.getpid()}.tmp")
    tmp.write_text(yaml.safe_dump(info, sort_keys=False), encoding="utf-8")
    tmp.replace(path)


def scene_objects(preset: Preset, seed: int, scene_ids: Iterable[int]) -> list[int]:
    """Object ids the scenes ``scene_ids`` of ``preset`` will hold (the scene's first draws
    from its generator, as :func:`~.synthetic.scenes.generate_scene` makes them)."""
    ids: set[int] = set()
    for s in scene_ids:
        ids.update(choose_objects(preset.pool(s), preset.objects_per_scene, scene_rng(seed, s)))
    return sorted(ids)


def select_scenes(preset: Preset, scene_ids: Iterable[int] | None) -> list[int]:
    """``scene_ids`` checked against the preset (None: all its scenes); ValueError names the strays."""
    if scene_ids is None:
        return list(preset.scenes)
    ids = sorted({int(s) for s in scene_ids})
    stray = [s for s in ids if s not in set(preset.scenes)]
    if stray:
        raise ValueError(f"scenes {stray} are not in preset {preset.name} (its scenes: "
                         f"{preset.scenes[0]}-{preset.scenes[-1]}, {len(preset.scenes)} in all); "
                         "pass ids the preset holds")
    return ids


def generate_objects(root: str | Path, obj_ids: list[int], workers: int = 1,
                     log: Callable[[str], None] = print, client: object | None = None) -> tuple[int, int]:
    """Write the model files of ``obj_ids``; returns (written, skipped).
    ``client``: a ``distributed.Client``, one task per object."""
    layout = Layout(root)
    todo = [(str(root), i) for i in obj_ids if not object_complete(layout, i)]
    for obj_id, _written, seconds in _run(_object_job, todo, workers, client, "object"):
        log(f"object {obj_id:03d} ({get_spec(obj_id).name}): {seconds:.1f} s")
    return len(todo), len(obj_ids) - len(todo)


def generate_scenes(root: str | Path, preset: Preset, seed: int, workers: int = 1,
                    scene_ids: list[int] | None = None, log: Callable[[str], None] = print,
                    client: object | None = None, noise: str = "simple",
                    scene: str = "tabletop") -> list[SceneStats]:
    """Generate the preset's scenes (or ``scene_ids``); complete scenes are skipped.
    ``client``: a ``distributed.Client``, one task per scene; ``noise``: the depth model;
    ``scene``: the scene kind, ``tabletop`` or ``lab``."""
    ids = list(preset.scenes if scene_ids is None else scene_ids)
    jobs = [(str(root), s, tuple(preset.pool(s)), preset.objects_per_scene, preset.num_frames(s),
             tuple(preset.cameras), seed, noise, scene) for s in ids]
    stats = []
    for st in _run(_scene_job, jobs, workers, client, "scene"):
        stats.append(st)
        if st.skipped:
            log(f"scene {st.scene_id:04d}: complete, skipped")
        else:
            log(f"scene {st.scene_id:04d} ({split_of_scene(st.scene_id)}): {len(st.obj_ids)} objects, "
                f"{st.frames} frames; settle {st.settle_seconds:.1f} s, render {st.render_seconds:.1f} s, "
                f"write {st.write_seconds:.1f} s")
    return sorted(stats, key=lambda s: s.scene_id)


def annotate(root: str | Path, preset: Preset, workers: int = 1, client: object | None = None,
             obj_ids: list[int] | None = None, scene_ids: list[int] | None = None) -> float:
    """Object and scene labels through ``graspnet_ros.annotation``; returns seconds.
    ``client``: a ``distributed.Client``, one task per object, then per scene;
    ``obj_ids`` / ``scene_ids``: a subset (default: all of the preset's)."""
    try:
        from graspnet_ros.annotation import AnnotationSettings, annotate_objects, annotate_scenes
    except ImportError as exc:
        raise ImportError(
            f"annotation step: graspnet_ros.annotation is not available ({exc}). Objects and scenes "
            f"under {root} are complete; re-run the same command once the annotation module is "
            "installed, or pass --no-annotate to skip labels.") from exc
    t0 = time.perf_counter()
    settings = AnnotationSettings(**preset.annotation)
    annotate_objects(root, preset.obj_ids if obj_ids is None else obj_ids, settings, workers=workers,
                     scheduler=client)
    annotate_scenes(root, list(preset.scenes) if scene_ids is None else scene_ids, settings, workers=workers,
                    scheduler=client)
    return time.perf_counter() - t0


def generate(root: str | Path, preset: str | Preset, workers: int = 1, seed: int = 0,
             annotate_labels: bool = True, log: Callable[[str], None] = print,
             scheduler: object | None = None, noise: str | None = None, scene: str | None = None,
             scene_ids: Iterable[int] | None = None) -> GenerateReport:
    """Generate (or complete) a synthetic dataset root; see the module docstring.

    ``noise``: the depth model of the frames, ``sensor`` (the cameras simulated:
    active stereo, time of flight) or ``simple`` (per-pixel noise on the render);
    ``scene``: ``tabletop`` (objects on a plain table) or ``lab`` (a finite table
    with the floor, walls, a robot arm and distractors around it,
    :mod:`.synthetic.lab`). None: what the root records when it exists, else the
    preset's default (:class:`~.presets.Preset` ``noise`` / ``scene``).
    ``scene_ids``: only these of the preset's scenes, their objects and labels.

    ``scheduler``: run every stage as Dask tasks (one per object, scene,
    object label, scene label) on that scheduler address, ``local`` (a
    LocalCluster of ``workers`` processes) or ``distributed.Client``; the
    files are the same bytes as the local pool writes.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset.check()
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    root = Path(root)
    noise, scene = default_choices(root, preset, noise, scene)
    from .synthetic.lab import SCENE_KINDS
    from .synthetic.sensors import NOISE_MODELS

    if noise not in NOISE_MODELS:
        raise ValueError(f"unknown depth noise model '{noise}'; use one of {NOISE_MODELS}")
    if scene not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind '{scene}'; use one of {SCENE_KINDS}")
    ids = select_scenes(preset, scene_ids)
    check_info(root, preset, seed, noise, scene)
    if scheduler is None:
        return _generate(root, preset, workers, seed, annotate_labels, log, None, noise, scene, ids)
    from ..annotation.runner import WORKER_ENV
    from ..distributed import dask_client, describe

    with dask_client(scheduler, workers, env=WORKER_ENV) as client:
        log(describe(client))
        return _generate(root, preset, workers, seed, annotate_labels, log, client, noise, scene, ids)


def _generate(root: Path, preset: Preset, workers: int, seed: int, annotate_labels: bool,
              log: Callable[[str], None], client: object | None, noise: str,
              scene: str, scene_ids: list[int]) -> GenerateReport:
    report = GenerateReport(preset.name, root)
    obj_ids = preset.obj_ids if scene_ids == list(preset.scenes) else scene_objects(preset, seed, scene_ids)
    t0 = time.perf_counter()
    report.objects_written, report.objects_skipped = generate_objects(root, obj_ids, workers, log, client)
    t1 = time.perf_counter()
    report.scenes = generate_scenes(root, preset, seed, workers, scene_ids=scene_ids, log=log, client=client,
                                    noise=noise, scene=scene)
    t2 = time.perf_counter()
    report.seconds_objects, report.seconds_scenes = t1 - t0, t2 - t1
    if annotate_labels:
        report.seconds_annotation = annotate(root, preset, workers, client, obj_ids, scene_ids)
    return report


