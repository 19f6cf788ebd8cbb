"""Validate a GraspNet-1Billion root (real or synthetic) and report what is wrong.

``check_root(root)`` walks the scenes (all present, or the ones asked for)
and the objects they use, and records each missing or malformed file under a
category: models, grasp_labels, tolerance, collision_labels, scene (the
object id list), camera (camK / camera_poses / cam0_wrt_table), rgb, depth,
label, meta, annotations, and consistency (frame counts across kinds, image
sizes, object ids of the annotations against object_id_list.txt, collision
label shapes against grasp labels; deep: label values against the object ids,
meta intrinsics against camK, and each frame's object poses against frame 0's
through camera_poses).

The quick check (default) opens only headers: PNG signatures and IHDR
(size, bit depth, colour type), npz member headers (keys, shapes, dtypes),
the MAT-file text header, and parses the small files (xml, txt, camK,
camera poses). ``deep=True`` also decodes every PNG, reads every array in
full (which verifies the zip CRCs) and compares meta files to annotations.
Missing tolerance files and textured.obj are warnings: the real dataset
ships neither tolerance labels (graspnet-baseline generates them) nor
requires textured.obj for grasping.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .annotations_xml import read_annotations
from .grasp_labels import (check_grasp_label_shapes, load_collision_labels, load_grasp_labels,
                           load_tolerance, npz_headers)
from .layout import CAMERAS, Layout, check_camera
from .meta import read_meta
from .reader import load_matrix_file, read_object_id_list, read_png

FRAME_KINDS = ("rgb", "depth", "label", "meta", "annotations")
CATEGORIES = ("models", "grasp_labels", "tolerance", "collision_labels", "scene", "camera",
              *FRAME_KINDS, "consistency")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Allowed (bit depth, colour type) of each PNG kind: colour types 0 gray, 2 RGB, 6 RGBA.
_PNG_TYPES = {"rgb": {(8, 2), (8, 6)}, "depth": {(16, 0)}, "label": {(8, 0), (16, 0)}}


@dataclass
class Problem:
    category: str
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class CheckReport:
    """Outcome of :func:`check_root`: files checked and problems, per category."""

    root: Path
    cameras: tuple[str, ...]
    scenes: list[int]
    objects: list[int]
    deep: bool
    checked: Counter = field(default_factory=Counter)  # category -> files examined
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def by_category(self, warnings: bool = False) -> dict[str, list[Problem]]:
        out: dict[str, list[Problem]] = {}
        for p in self.warnings if warnings else self.problems:
            out.setdefault(p.category, []).append(p)
        return out

    def bad_paths(self) -> set[Path]:
        return {p.path for p in self.problems}

    def format(self, max_per_category: int = 10) -> str:
        """A readable summary: one line per category, then its first problems."""
        head = (f"GraspNet root {self.root} ({'deep' if self.deep else 'quick'} check): "
                f"{len(self.scenes)} scene(s), {len(self.objects)} object(s), "
                f"camera(s) {', '.join(self.cameras)}")
        lines = [head]
        errors, warns = self.by_category(), self.by_category(warnings=True)
        for cat in CATEGORIES:
            if not (self.checked[cat] or cat in errors or cat in warns):
                continue
            bad, warn = errors.get(cat, []), warns.get(cat, [])
            files_bad = len({p.path for p in bad})
            lines.append(f"  {cat:<17}{self.checked[cat]:>8} checked, {files_bad} bad"
                         + (f", {len(warn)} warning(s)" if warn else ""))
            for p in bad[:max_per_category]:
                lines.append(f"      ERROR {p}")
            if len(bad) > max_per_category:
                lines.append(f"      ... and {len(bad) - max_per_category} more")
            for p in warn[:max_per_category]:
                lines.append(f"      warn  {p}")
            if len(warn) > max_per_category:
                lines.append(f"      ... and {len(warn) - max_per_category} more warnings")
        lines.append("OK" if self.ok else f"{len(self.problems)} problem(s) in "
                     f"{len(self.bad_paths())} file(s)")
        return "\n".join(lines)


class _Checker:
    def __init__(self, report: CheckReport, layout: Layout) -> None:
        self.report = report
        self.lay = layout

    def error(self, category: str, path: Path, message: str) -> None:
        self.report.problems.append(Problem(category, Path(path), message))

    def warn(self, category: str, path: Path, message: str) -> None:
        self.report.warnings.append(Problem(category, Path(path), message))

    def attempt(self, category: str, path: Path, fn, *args):
        """Run fn; record FileNotFoundError / ValueError as a problem, return None then."""
        self.report.checked[category] += 1
        try:
            return fn(*args)
        except FileNotFoundError:
            self.error(category, path, "missing")
        except ValueError as exc:
            msg = str(exc)
            prefix = f"{path}: "
            self.error(category, path, msg[len(prefix):] if msg.startswith(prefix) else msg)
        return None


def _png_header(path: Path, kind: str) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; ValueError if not the kind's PNG type."""
    if not path.is_file():
        raise FileNotFoundError(path)
    with open(path, "rb") as fp:
        head = fp.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG file")
    width, height, bit_depth, colour = struct.unpack(">IIBB", head[16:26])
    if (bit_depth, colour) not in _PNG_TYPES[kind]:
        raise ValueError(f"{path}: {kind} PNG has bit depth {bit_depth} and colour type {colour}; "
                         f"expected one of {sorted(_PNG_TYPES[kind])} (bit depth, colour type)")
    return width, height


def _mat_header(path: Path) -> None:
    if not path.is_file():
        raise FileNotFoundError(path)
    with open(path, "rb") as fp:
        head = fp.read(128)
    if len(head) < 128 or not head.startswith(b"MATLAB"):
        raise ValueError(f"{path}: not a MATLAB 5 .mat file")


def _check_object(ck: _Checker, obj_id: int, deep: bool) -> tuple[int, ...] | None:
    """Check one object's files; return its label grid (Np, V, A, D) if readable."""
    lay = ck.lay
    ply = lay.model_ply(obj_id)

    def model():
        if not ply.is_file():
            raise FileNotFoundError(ply)
        with open(ply, "rb") as fp:
            if fp.read(3) != b"ply":
                raise ValueError(f"{ply}: not a PLY file")
        if deep:
            import trimesh

            try:
                geom = trimesh.load(ply, process=False)
            except Exception as exc:
                raise ValueError(f"{ply}: unreadable mesh ({exc})") from exc
            if len(getattr(geom, "vertices", ())) == 0:
                raise ValueError(f"{ply}: no vertices")

    ck.attempt("models", ply, model)
    if not lay.model_obj(obj_id).is_file():
        ck.warn("models", lay.model_obj(obj_id), "missing (optional)")

    path = lay.grasp_label(obj_id)

    def labels():
        heads = npz_headers(path)
        check_grasp_label_shapes({k: h.shape for k, h in heads.items()}, str(path))
        if heads["collision"].dtype != np.bool_:
            raise ValueError(f"{path}: 'collision' must be bool, got {heads['collision'].dtype}")
        if deep:
            lab = load_grasp_labels(path, mmap=False)
            for key in ("points", "offsets", "scores"):
                if not np.isfinite(getattr(lab, key)).all():
                    raise ValueError(f"{path}: '{key}' contains NaN or infinite values")
        return heads["scores"].shape

    grid = ck.attempt("grasp_labels", path, labels)
    tol = lay.tolerance_label(obj_id)
    if not tol.is_file():
        ck.warn("tolerance", tol, "missing (optional; needed for GAF training)")
    else:
        def tolerance():
            arr = load_tolerance(tol, None if grid is None else grid[0])
            if grid is not None and arr.shape != tuple(grid):
                raise ValueError(f"{tol}: shape {arr.shape} does not match the grasp labels {grid}")
            if deep:
                np.asarray(arr).sum()

        ck.attempt("tolerance", tol, tolerance)
    return grid


def _check_camera(ck: _Checker, scene_id: int, camera: str, ids: list[int] | None, deep: bool) -> None:
    lay = ck.lay
    cam_dir = lay.camera_dir(scene_id, camera)
    if not cam_dir.is_dir():
        ck.report.checked["camera"] += 1
        ck.error("camera", cam_dir, "missing camera folder")
        return
    K = ck.attempt("camera", lay.camK(scene_id, camera), load_matrix_file, lay.camK(scene_id, camera),
                   (3, 3), "camK")
    poses = ck.attempt("camera", lay.camera_poses(scene_id, camera), load_matrix_file,
                       lay.camera_poses(scene_id, camera), (None, 4, 4), "camera_poses")
    ck.attempt("camera", lay.cam0_wrt_table(scene_id, camera), load_matrix_file,
               lay.cam0_wrt_table(scene_id, camera), (4, 4), "cam0_wrt_table")

    ext = {"rgb": "png", "depth": "png", "label": "png", "meta": "mat", "annotations": "xml"}
    present = {kind: {int(p.stem) for p in (cam_dir / kind).glob(f"[0-9][0-9][0-9][0-9].{ext[kind]}")}
               for kind in FRAME_KINDS}
    counts = {kind: len(v) for kind, v in present.items()}
    ck.report.checked["consistency"] += 1
    if len(set(counts.values())) > 1:
        ck.error("consistency", cam_dir, "frame counts differ between kinds: "
                 + ", ".join(f"{k} {n}" for k, n in counts.items()))
    if poses is not None:
        expected = set(range(len(poses)))
    else:
        expected = set().union(*present.values())
    for kind in FRAME_KINDS:
        for ann_id in sorted(present[kind] - expected):
            ck.error("consistency", lay.frame_file(scene_id, camera, kind, ann_id),
                     f"frame {ann_id} is past camera_poses.npy's {len(expected)} frames")

    sizes: dict[tuple[int, int], list[str]] = {}
    first_poses: dict[int, np.ndarray] | None = None  # frame 0's object poses (camera 0 frame)
    for ann_id in sorted(expected):
        files = {k: lay.frame_file(scene_id, camera, k, ann_id) for k in FRAME_KINDS}
        for kind in ("rgb", "depth", "label"):
            size = ck.attempt(kind, files[kind], _png_header, files[kind], kind)
            if deep and size is not None:
                img = ck.attempt(kind, files[kind], read_png, files[kind], kind)
                ck.report.checked[kind] -= 1
                if img is not None and (img.shape[1], img.shape[0]) != size:
                    ck.error(kind, files[kind], f"decoded size {img.shape[:2]} differs from header {size}")
                if kind == "label" and img is not None and ids is not None:
                    extra = sorted(set(np.unique(img).tolist()) - {0} - {i + 1 for i in ids})
                    if extra:
                        ck.error("consistency", files[kind], f"label values {extra} are not object ids + 1 "
                                 "of object_id_list.txt")
            if size is not None:
                sizes.setdefault(size, []).append(str(files[kind]))
        objects = ck.attempt("annotations", files["annotations"], read_annotations, files["annotations"])
        if deep and objects is not None:
            if ann_id == 0:
                first_poses = {o.obj_id: o.pose for o in objects}
            elif first_poses is not None and poses is not None:
                _check_pose_chain(ck, files["annotations"], objects, first_poses, poses[ann_id])
        if objects is not None and ids is not None:
            ck.report.checked["consistency"] += 1
            xml_ids = sorted(o.obj_id for o in objects)
            if xml_ids != sorted(ids):
                ck.error("consistency", files["annotations"],
                         f"object ids {xml_ids} differ from object_id_list.txt {sorted(ids)}")
        if deep:
            meta = ck.attempt("meta", files["meta"], read_meta, files["meta"])
            if meta is not None and objects is not None:
                xml_poses = {o.obj_id: o.pose for o in objects}
                if sorted(meta.obj_ids.tolist()) != sorted(xml_poses):
                    ck.error("consistency", files["meta"], f"cls_indexes - 1 = {meta.obj_ids.tolist()} "
                             f"differ from the annotation ids {sorted(xml_poses)}")
                else:
                    err = max((np.abs(p - xml_poses[i]).max() for i, p in zip(meta.obj_ids.tolist(),
                                                                                meta.poses)), default=0.0)
                    if err > 1e-3:
                        ck.error("consistency", files["meta"],
                                 f"poses differ from the annotation xml by up to {err:.4f}")
                if K is not None and not np.allclose(meta.intrinsics, K, atol=1e-3):
                    ck.error("consistency", files["meta"], "intrinsic_matrix differs from camK.npy")
        else:
            ck.attempt("meta", files["meta"], _mat_header, files["meta"])
    if len(sizes) > 1:
        ck.error("consistency", cam_dir, "images differ in size: " + ", ".join(
            f"{w}x{h} ({len(v)} files, e.g. {Path(v[0]).name} in {Path(v[0]).parent.name})"
            for (w, h), v in sizes.items()))


def _check_pose_chain(ck: _Checker, path: Path, objects: list, first: dict[int, np.ndarray],
                      camera_pose: np.ndarray, atol: float = 1e-3) -> None:
    """Each object's pose in frame k must be inv(camera_poses[k]) @ its frame-0 pose
    (camera_poses[k]: camera k in camera 0's frame; the objects do not move)."""
    ck.report.checked["consistency"] += 1
    inv = np.linalg.inv(camera_pose)
    bad = [o.obj_id for o in objects if o.obj_id in first and not np.allclose(o.pose, inv @ first[o.obj_id],
                                                                               atol=atol)]
    if bad:
        ck.error("consistency", path, f"object(s) {bad}: pose is not inv(camera_poses[k]) @ the frame-0 pose "
                 f"(to {atol}); camera_poses.npy or the annotations are wrong")


def check_root(root: str | Path, cameras: tuple[str, ...] | list[str] = CAMERAS,
               scenes: list[int] | None = None, deep: bool = False) -> CheckReport:
    """Validate a dataset root; returns a :class:`CheckReport` (see the module doc).

    cameras: which camera folders to check; scenes: scene ids (default: all
    present under scenes/); deep: decode and read every file in full.
    Objects checked are those listed by the checked scenes (all models
    present under models/ when every scene is checked).
    """
    lay = Layout(root)
    if not lay.root.is_dir():
        raise FileNotFoundError(f"dataset root not found: {lay.root}")
    cameras = tuple(check_camera(c) for c in cameras)
    all_scenes = scenes is None
    scenes = lay.scenes() if all_scenes else sorted(int(s) for s in scenes)
    report = CheckReport(lay.root, cameras, scenes, [], deep)
    ck = _Checker(report, lay)
    if all_scenes and not scenes:
        ck.error("scene", lay.root / "scenes", "no scene_%04d folders")

    scene_ids: dict[int, list[int] | None] = {}
    for scene_id in scenes:
        path = lay.object_id_list(scene_id)
        if not lay.scene_dir(scene_id).is_dir():
            report.checked["scene"] += 1
            ck.error("scene", lay.scene_dir(scene_id), "missing scene folder")
            scene_ids[scene_id] = None
            continue
        scene_ids[scene_id] = ck.attempt("scene", path, read_object_id_list, path)

    objects = set(i for ids in scene_ids.values() if ids for i in ids)
    if all_scenes and (lay.root / "models").is_dir():
        objects |= {int(p.name) for p in (lay.root / "models").glob("[0-9][0-9][0-9]") if p.is_dir()}
    report.objects = sorted(objects)
    grids = {obj_id: _check_object(ck, obj_id, deep) for obj_id in report.objects}

    for scene_id, ids in scene_ids.items():
        if not lay.scene_dir(scene_id).is_dir():
            continue
        path = lay.collision_label(scene_id)

        def collision():
            heads = npz_headers(path)
            if ids is not None:
                want = [f"arr_{k}" for k in range(len(ids))]
                missing, extra = [k for k in want if k not in heads], sorted(set(heads) - set(want))
                if missing or extra:
                    raise ValueError(f"{path}: expected keys arr_0..arr_{len(ids) - 1} for "
                                     f"{len(ids)} objects; missing {missing}, unexpected {extra}")
                for k, obj_id in enumerate(ids):
                    h = heads[f"arr_{k}"]
                    if h.dtype != np.bool_ or len(h.shape) != 4:
                        raise ValueError(f"{path}: 'arr_{k}' must be (Np, V, A, D) bool, got "
                                         f"{h.shape} {h.dtype}")
                    grid = grids.get(obj_id)
                    if grid is not None and h.shape != tuple(grid):
                        raise ValueError(f"{path}: 'arr_{k}' {h.shape} does not match object "
                                         f"{obj_id}'s grasp labels {tuple(grid)}")
            if deep:
                load_collision_labels(path, None if ids is None else len(ids), mmap=False)

        ck.attempt("collision_labels", path, collision)
        for camera in cameras:
            _check_camera(ck, scene_id, camera, ids, deep)
    return report
