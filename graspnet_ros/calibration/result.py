"""Calibration results as YAML: save safely, load with validation.

File layout (``format: graspnet_ros/calibration``, ``version: 1``)::

    parent_frame: base_link                  # the transform maps child -> parent
    child_frame: camera_color_optical_frame
    mode: eye-to-hand                        # eye-in-hand | eye-to-hand | views
    translation: [x, y, z]                   # metres
    quaternion_xyzw: [x, y, z, w]
    matrix: 4x4 rows                         # the same transform, T_parent<-child
    method: park-numpy+lm
    residuals: {rotation_rms_deg, rotation_max_deg, translation_rms_mm,
                translation_max_mm, reprojection_rms_px}
    methods: [{name, rotation_rms_deg, translation_rms_mm, ...}, ...]
    n_samples: 12
    date: 2026-01-01T12:00:00+00:00          # UTC, ISO 8601
    camera_serial: "123456789"

The transform keys sit at the top level, so the camera mount reader
(:meth:`graspnet_ros.cameras.mount.CameraMount.from_calibration_file`, which
reads ``parent_frame``, ``child_frame`` and ``matrix``) loads these files as is.

Saving never replaces a previous good calibration with a failed or worse
one: a failed solve is refused, a worse (higher :attr:`CalibrationResult.score`)
or different (other frames or mode) one needs ``force=True``; the file is
written to a temporary file and renamed, and the previous file is kept as
``<name>.bak``.
"""

from __future__ import annotations

import datetime as _dt
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from scipy.spatial.transform import Rotation

from ._io import atomic_path
from .poses import check_transforms, make_transform

__all__ = ["CalibrationResult", "save_calibration", "load_calibration", "FORMAT", "VERSION"]

FORMAT = "graspnet_ros/calibration"
VERSION = 1
#: Lever arm (mm) that turns a rotation residual into a displacement in :attr:`CalibrationResult.score`.
SCORE_LEVER_MM = 500.0


@dataclass
class CalibrationResult:
    """A solved extrinsic calibration: ``transform`` = T_parent<-child (4x4, metres)."""

    transform: np.ndarray
    parent_frame: str
    child_frame: str
    mode: str
    method: str
    rotation_rms_deg: float = float("nan")
    rotation_max_deg: float = float("nan")
    translation_rms_mm: float = float("nan")
    translation_max_mm: float = float("nan")
    reprojection_rms_px: float = float("nan")
    n_samples: int = 0
    camera_serial: str = ""
    date: str = ""
    ok: bool = True
    failure: str = ""
    methods: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def translation(self) -> np.ndarray:
        return np.asarray(self.transform, dtype=np.float64)[:3, 3].copy()

    @property
    def quaternion_xyzw(self) -> np.ndarray:
        return Rotation.from_matrix(np.asarray(self.transform, dtype=np.float64)[:3, :3]).as_quat()

    @property
    def score(self) -> float:
        """Lower is better. Hand-eye: RMS translation residual combined with the RMS
        rotation residual seen at 0.5 m (mm); views: RMS reprojection error (px)."""
        if self.mode == "views":
            return float(self.reprojection_rms_px)
        return math.hypot(self.translation_rms_mm, math.radians(self.rotation_rms_deg) * SCORE_LEVER_MM)

    @classmethod
    def from_hand_eye(cls, res: Any, parent_frame: str, child_frame: str, camera_serial: str = "",
                      reprojection_rms_px: float = float("nan"), extra: dict | None = None) -> "CalibrationResult":
        """From a :class:`~graspnet_ros.calibration.handeye.HandEyeResult`."""
        methods = [{"name": m.name, "rotation_rms_deg": _num(m.rotation_rms_deg),
                    "rotation_max_deg": _num(m.rotation_max_deg), "translation_rms_mm": _num(m.translation_rms_mm),
                    "translation_max_mm": _num(m.translation_max_mm), **({"error": m.error} if m.error else {})}
                   for m in res.methods]
        ex = {"target_transform": np.asarray(res.target_transform).tolist(),
              "rotation_spread_deg": float(res.rotation_spread_deg), "axis_spread_deg": float(res.axis_spread_deg),
              **(extra or {})}
        if res.warnings:
            ex["warnings"] = list(res.warnings)
        return cls(np.asarray(res.transform, dtype=np.float64), parent_frame, child_frame, res.mode, res.method,
                   rotation_rms_deg=float(np.sqrt(np.mean(res.rotation_residuals_deg ** 2))),
                   rotation_max_deg=float(res.rotation_residuals_deg.max()),
                   translation_rms_mm=float(np.sqrt(np.mean(res.translation_residuals_mm ** 2))),
                   translation_max_mm=float(res.translation_residuals_mm.max()),
                   reprojection_rms_px=float(reprojection_rms_px), n_samples=res.n_samples,
                   camera_serial=camera_serial, ok=res.ok, failure=res.failure, methods=methods, extra=ex)

    def to_dict(self) -> dict[str, Any]:
        T = check_transforms(self.transform, "calibration transform").reshape(4, 4)
        return {
            "format": FORMAT, "version": VERSION,
            "parent_frame": self.parent_frame, "child_frame": self.child_frame, "mode": self.mode,
            "translation": [float(v) for v in T[:3, 3]],
            "quaternion_xyzw": [float(v) for v in Rotation.from_matrix(T[:3, :3]).as_quat()],
            "matrix": [[float(v) for v in row] for row in T],
            "method": self.method,
            "residuals": {"rotation_rms_deg": _num(self.rotation_rms_deg),
                          "rotation_max_deg": _num(self.rotation_max_deg),
                          "translation_rms_mm": _num(self.translation_rms_mm),
                          "translation_max_mm": _num(self.translation_max_mm),
                          "reprojection_rms_px": _num(self.reprojection_rms_px)},
            "methods": self.methods, "n_samples": int(self.n_samples),
            "date": self.date, "camera_serial": self.camera_serial,
            "ok": bool(self.ok), **({"failure": self.failure} if self.failure else {}),
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "calibration") -> "CalibrationResult":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ValueError(f"{source}: not a graspnet_ros calibration file (format: {FORMAT} missing)")
        if int(d.get("version", 0)) > VERSION:
            raise ValueError(f"{source}: calibration format version {d.get('version')} is newer than this "
                             f"graspnet_ros ({VERSION}); update graspnet_ros")
        try:
            T = check_transforms(np.asarray(d["matrix"], dtype=np.float64), f"{source}: matrix")
            q = np.asarray(d["quaternion_xyzw"], dtype=np.float64)
            t = np.asarray(d["translation"], dtype=np.float64)
            res = d.get("residuals") or {}
            out = cls(T, str(d["parent_frame"]), str(d["child_frame"]), str(d["mode"]), str(d["method"]),
                      **{k: _float(res.get(k)) for k in ("rotation_rms_deg", "rotation_max_deg", "translation_rms_mm",
                                                         "translation_max_mm", "reprojection_rms_px")},
                      n_samples=int(d.get("n_samples", 0)), camera_serial=str(d.get("camera_serial", "") or ""),
                      date=str(d.get("date", "")), ok=bool(d.get("ok", True)), failure=str(d.get("failure", "")),
                      methods=list(d.get("methods") or []), extra=dict(d.get("extra") or {}))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{source}: malformed calibration file ({exc!r})") from None
        if q.shape != (4,) or t.shape != (3,):
            raise ValueError(f"{source}: translation must have 3 and quaternion_xyzw 4 numbers")
        T_q = make_transform(Rotation.from_quat(q).as_matrix(), t)
        if np.abs(T_q - T).max() > 1e-5:
            raise ValueError(f"{source}: matrix and translation/quaternion_xyzw disagree; "
                             f"the file was edited inconsistently")
        return out


def _num(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def load_calibration(path: str | Path) -> CalibrationResult:
    """Read a calibration YAML written by :func:`save_calibration`."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"calibration file {path} not found: run `graspnet-ros calibrate` or the "
                                f"calibration node first")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    return CalibrationResult.from_dict(data, str(path))


def _compare(new: CalibrationResult, old: CalibrationResult) -> str:
    """Why ``new`` must not replace ``old`` without force ('' if it may)."""
    if not old.ok:
        return ""
    if (old.parent_frame, old.child_frame, old.mode) != (new.parent_frame, new.child_frame, new.mode):
        return (f"it holds a different calibration ({old.mode}, {old.parent_frame} <- {old.child_frame}) than the "
                f"new one ({new.mode}, {new.parent_frame} <- {new.child_frame})")
    if np.isfinite(old.score) and not new.score <= old.score:
        return f"it is better than the new one (score {old.score:.3f} vs {new.score:.3f}, lower is better)"
    return ""


def save_calibration(result: CalibrationResult, path: str | Path, force: bool = False) -> Path:
    """Write ``result`` to ``path`` (YAML) atomically; return the path written.

    Refuses (ValueError) a failed result (``ok`` False or a non-finite
    transform), and, unless ``force``, a result that is worse than or different
    from the good calibration already at ``path``. The previous file, if any,
    is kept as ``<path>.bak``. ``date`` is set to now (UTC) if empty.
    """
    path = Path(path).expanduser()
    if not result.ok:
        raise ValueError(f"refusing to save a failed calibration ({result.failure or 'no reason given'}); "
                         f"{path} is left unchanged")
    if result.date == "":
        result.date = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    text = yaml.safe_dump(result.to_dict(), sort_keys=False, default_flow_style=None)  # validates the transform
    if path.exists() and not force:
        try:
            old = load_calibration(path)
        except ValueError:
            old = None  # unreadable: replaced, the old bytes stay in the backup
        if old is not None:
            reason = _compare(result, old)
            if reason:
                raise ValueError(f"not overwriting {path}: {reason}. Pass force=True (--force) to replace it "
                                 f"or write to another path")
    backup = path.with_name(path.name + ".bak")
    with atomic_path(path) as tmp:
        tmp.write_text("# graspnet_ros extrinsic calibration (graspnet_ros.calibration.result)\n" + text,
                       encoding="utf-8")
        if path.exists():  # keep the previous file, itself replaced atomically
            with atomic_path(backup) as tmp_backup:
                shutil.copyfile(path, tmp_backup)
    return path


#: ``mode`` of a calibration file -> what its transform is
CAMERA_MODES = {"eye-to-hand": "T_base<-camera", "eye-in-hand": "T_flange<-camera"}


def read_calibration(path: str | Path) -> CalibrationResult:
    """The one reader of camera calibration files, for the executor, the camera mount and TF.

    Accepts what ``graspnet-ros calibrate`` / calibration_node write (:func:`save_calibration`:
    ``format``, ``matrix``, ``translation`` + ``quaternion_xyzw``, frames, ``mode``, checked
    for consistency), and a hand-written file with ``transform`` or ``matrix`` (4x4), or
    ``translation`` (m) + ``quaternion`` / ``quaternion_xyzw`` / ``rotation`` (x, y, z, w);
    a hand-written file may name ``parent_frame``, ``child_frame`` and ``mode``
    (default eye-to-hand: the transform is T_parent<-camera, parent = the robot base).
    A failed calibration (``ok: false``) is refused. Lengths in metres.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"calibration file not found: {path} (run `graspnet-ros calibrate` or the "
                                f"calibration node, or write one by hand; see docs/nodes.md)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    return calibration_from_mapping(data, str(path))


def calibration_from_mapping(data: Any, source: str = "calibration") -> CalibrationResult:
    """A calibration from the parsed YAML mapping (see :func:`read_calibration`); ValueError
    naming the problem for anything else, a non-camera mode or a failed calibration."""
    result = CalibrationResult.from_dict(data, source) if isinstance(data, dict) and "format" in data \
        else _hand_written(data, source)
    if result.mode not in CAMERA_MODES:
        raise ValueError(f"{source}: mode '{result.mode}' does not place a camera on a robot; "
                         f"expected one of {sorted(CAMERA_MODES)}")
    if not result.ok:
        raise ValueError(f"{source}: this calibration failed ({result.failure or 'ok: false'}); "
                         "recalibrate before using it")
    return result


def _hand_written(data: Any, source: str) -> CalibrationResult:
    need = ("needs 'transform' or 'matrix' (4x4), or 'translation' (3, m) and 'quaternion' "
            "(x, y, z, w), giving T_parent<-camera")
    if not isinstance(data, dict):
        raise ValueError(f"{source}: calibration {need}")
    try:
        if data.get("transform") is not None or data.get("matrix") is not None:
            T = np.asarray(data["transform"] if data.get("transform") is not None else data["matrix"],
                           dtype=np.float64)
            if T.shape != (4, 4):
                raise ValueError(f"{source}: the transform must be 4x4, got shape {T.shape}")
        else:
            q = next((data[k] for k in ("quaternion", "quaternion_xyzw", "rotation") if data.get(k) is not None),
                     None)
            if data.get("translation") is None or q is None:
                raise ValueError(f"{source}: calibration {need}")
            q = np.asarray(q, dtype=np.float64)
            t = np.asarray(data["translation"], dtype=np.float64)
            if q.shape != (4,) or t.shape != (3,) or not np.linalg.norm(q) > 0:
                raise ValueError(f"{source}: translation must have 3 numbers and the quaternion 4 (x, y, z, w)")
            T = make_transform(Rotation.from_quat(q / np.linalg.norm(q)).as_matrix(), t)
    except (TypeError, ValueError) as exc:
        if str(exc).startswith(source):
            raise
        raise ValueError(f"{source}: malformed calibration ({exc})") from None
    T = check_transforms(T, f"{source}: transform").reshape(4, 4)
    mode = str(data.get("mode", "eye-to-hand"))
    default_parent = "tool0" if mode == "eye-in-hand" else "base_link"
    return CalibrationResult(T, str(data.get("parent_frame", default_parent)),
                             str(data.get("child_frame", "camera_color_optical_frame")), mode, "manual")


def base_from_camera(calibration: CalibrationResult, T_base_flange: np.ndarray | None = None) -> np.ndarray:
    """T_base<-camera (4x4, m) of a calibration at capture time.

    Eye-to-hand: the calibrated transform. Eye-in-hand: the calibrated T_flange<-camera
    composed with the arm's flange pose T_base<-flange when the frame was captured (required).
    """
    T = np.asarray(calibration.transform, dtype=np.float64)
    if calibration.mode == "eye-to-hand":
        return T.copy()
    if T_base_flange is None:
        raise ValueError("an eye-in-hand calibration gives T_flange<-camera: the flange pose "
                         "T_base<-flange at capture time is needed to place the camera")
    return check_transforms(np.asarray(T_base_flange, dtype=np.float64), "T_base<-flange").reshape(4, 4) @ T
