"""Per-frame meta files (``meta/%04d.mat``, MATLAB v5 as in the real dataset).

Keys: ``cls_indexes`` (1, n) object id + 1; ``poses`` (3, 4, n) T_camera<-object
(metres); ``intrinsic_matrix`` (3, 3); ``factor_depth`` (1, 1) depth PNG units
per metre (1000).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from .layout import FACTOR_DEPTH


@dataclass
class FrameMeta:
    obj_ids: np.ndarray  # (n,) 0-based object ids
    poses: np.ndarray  # (n, 4, 4) T_camera<-object, metres
    intrinsics: np.ndarray  # (3, 3)
    factor_depth: float = FACTOR_DEPTH


def write_meta(path: str | Path, meta: FrameMeta) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    poses = np.asarray(meta.poses, dtype=np.float64).reshape(-1, 4, 4)
    tmp = path.with_name(path.stem + ".tmp.mat")
    scipy.io.savemat(tmp, {
        "cls_indexes": (np.asarray(meta.obj_ids, dtype=np.float64) + 1).reshape(1, -1),
        "poses": np.transpose(poses[:, :3, :], (1, 2, 0)),
        "intrinsic_matrix": np.asarray(meta.intrinsics, dtype=np.float64),
        "factor_depth": np.array([[float(meta.factor_depth)]]),
    })
    tmp.replace(path)


def read_meta(path: str | Path) -> FrameMeta:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"meta file not found: {path}")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise ValueError(f"{path}: not a readable .mat file ({exc})") from exc
    missing = [k for k in ("cls_indexes", "poses", "intrinsic_matrix", "factor_depth") if k not in mat]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}")
    ids = np.asarray(mat["cls_indexes"]).reshape(-1).astype(np.int64) - 1
    raw = np.asarray(mat["poses"], dtype=np.float64).reshape(3, 4, -1)
    if raw.shape[2] != len(ids):
        raise ValueError(f"{path}: {len(ids)} objects but {raw.shape[2]} poses")
    poses = np.tile(np.eye(4), (len(ids), 1, 1))
    poses[:, :3, :] = np.transpose(raw, (2, 0, 1))
    return FrameMeta(ids, poses, np.asarray(mat["intrinsic_matrix"], dtype=np.float64),
                     float(np.asarray(mat["factor_depth"]).reshape(-1)[0]))
