"""``graspnet-ros calibrate``: camera extrinsics from saved images of an ArUco marker or ChArUco board.

Offline version of calibration_node. Images (sorted by file name) are paired
with robot flange poses (same order, or by an ``image:`` name per pose in the
YAML); views whose detection is rejected are dropped together with their pose.

Robot pose files (T_base<-flange, metres): ``.npy`` of shape (N, 4, 4), or
YAML: a list (or ``poses:`` list) whose entries are a 4x4 matrix, or a mapping
with ``matrix`` or ``translation`` + ``quaternion_xyzw``, optionally ``image``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _load_robot_poses(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """(N, 4, 4) flange poses and, if the YAML names them, the image of each pose."""
    from scipy.spatial.transform import Rotation

    if not path.is_file():
        raise FileNotFoundError(f"robot pose file {path} not found")
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float64), None
    if path.suffix not in (".yaml", ".yml"):
        raise ValueError(f"robot poses must be .npy (N, 4, 4) or .yaml, got {path.name}")
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    entries = data.get("poses") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty list of poses (or a 'poses:' list)")
    mats, names = [], []
    for k, e in enumerate(entries):
        if isinstance(e, dict) and "matrix" in e:
            T = np.asarray(e["matrix"], dtype=np.float64)
        elif isinstance(e, dict) and "translation" in e and "quaternion_xyzw" in e:
            T = np.eye(4)
            T[:3, :3] = Rotation.from_quat(np.asarray(e["quaternion_xyzw"], dtype=np.float64)).as_matrix()
            T[:3, 3] = np.asarray(e["translation"], dtype=np.float64)
        elif isinstance(e, list):
            T = np.asarray(e, dtype=np.float64)
        else:
            raise ValueError(f"{path}: pose {k} must be a 4x4 matrix or have matrix / translation + "
                             f"quaternion_xyzw keys")
        if T.shape != (4, 4):
            raise ValueError(f"{path}: pose {k} is not 4x4 (shape {T.shape})")
        mats.append(T)
        names.append(str(e.get("image", "")) if isinstance(e, dict) else "")
    named = all(names)
    if any(names) and not named:
        raise ValueError(f"{path}: either every pose names its image or none does")
    return np.stack(mats), (names if named else None)


def run(args: argparse.Namespace) -> int:
    import cv2

    from ..calibration.config import load_config
    from ..calibration.pipeline import calibrate, detect_views
    from ..calibration.poses import save_camera_poses
    from ..calibration.result import save_calibration

    config = load_config(args.target)
    mode = args.mode or config.mode
    images_dir = Path(args.images)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"image directory {images_dir} not found")
    files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {images_dir}")
    K = np.load(args.camK, allow_pickle=False) if Path(args.camK).is_file() else None
    if K is None:
        raise FileNotFoundError(f"intrinsics {args.camK} not found (a 3x3 camK.npy)")
    dist = np.load(args.dist, allow_pickle=False) if args.dist else None
    flange = None
    if mode != "views":
        if not args.robot_poses:
            raise ValueError(f"{mode} needs --robot-poses (T_base<-flange per image); use --mode views without a robot")
        flange, names = _load_robot_poses(Path(args.robot_poses))
        if names is not None:
            by_name = {p.name: p for p in files}
            missing = [n for n in names if n not in by_name]
            if missing:
                raise ValueError(f"robot poses name images not in {images_dir}: {missing[:5]}")
            files = [by_name[n] for n in names]
        elif len(flange) != len(files):
            raise ValueError(f"mismatched counts: {len(files)} images in {images_dir} but {len(flange)} robot poses; "
                             f"give one pose per image (or name each pose's image)")
    images = []
    for p in files:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"cannot read image {p}")
        images.append(img)
    reports = detect_views(images, [p.name for p in files], config, K, dist)
    print(f"target: {config.target.describe()}; mode: {mode}")
    for r in reports:
        print("  " + r.row())
    keep = [i for i, r in enumerate(reports) if r.pose is not None]
    print(f"{len(keep)} of {len(reports)} views accepted")
    C = np.stack([reports[i].pose.T_cam_target for i in keep]) if keep else np.empty((0, 4, 4))
    reproj = [reports[i].pose.reprojection_rms_px for i in keep]
    result, extra = calibrate(config, C, None if flange is None else flange[keep], mode, reproj,
                              args.camera_serial)
    if mode != "views":
        print(extra.table())
        for w in extra.warnings:
            print(f"warning: {w}")
    out = Path(args.out) if args.out else config.output
    if not result.ok:
        raise ValueError(f"calibration failed: {result.failure}; nothing saved to {out}")
    path = save_calibration(result, out, force=args.force)
    if mode == "views":
        save_camera_poses(path.parent, C)
        print(f"wrote {path.parent / 'camera_poses.npy'} and {path.parent / 'cam0_wrt_table.npy'}")
    t, q = result.translation, result.quaternion_xyzw
    print(f"{result.parent_frame} <- {result.child_frame} ({result.method}): translation {np.round(t, 5).tolist()} m, "
          f"quaternion xyzw {np.round(q, 6).tolist()}")
    print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("calibrate", help=__doc__.split(":", 1)[1].strip().splitlines()[0],
                              description=__doc__.split(":", 1)[1].strip(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", required=True, help="directory of colour images of the target")
    p.add_argument("--camK", required=True, help="3x3 intrinsics .npy (pixels)")
    p.add_argument("--dist", help="distortion coefficients .npy (OpenCV order; default none)")
    p.add_argument("--robot-poses", help="T_base<-flange per image: .npy (N, 4, 4) or .yaml, metres")
    p.add_argument("--mode", choices=("eye-in-hand", "eye-to-hand", "views"),
                   help="default: the config's mode")
    p.add_argument("--target", required=True, help="calibration config YAML (config/calibration.yaml)")
    p.add_argument("--out", help="result YAML (default: the config's output.path)")
    p.add_argument("--camera-serial", help="camera serial number to record (default: the config's)")
    p.add_argument("--force", action="store_true", help="replace an existing better or different calibration")
    p.set_defaults(func=run)
