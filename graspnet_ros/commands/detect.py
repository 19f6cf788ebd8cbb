"""``graspnet-ros detect``: grasps on a point cloud or a depth image, written as .npy and .png."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def load_cloud(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray | None]:
    """(M, 3) points in metres (camera frame; several views: the first view's) and optional
    (M, 3) colours in [0, 1]."""
    given = [name for name, value in (("--cloud", args.cloud), ("--depth", args.depth), ("--view", args.view),
                                      ("--views", args.views)) if value]
    if len(given) > 1:
        raise ValueError(f"give one input, not {' and '.join(given)}: --cloud FILE, --depth PNG, "
                         "--view DEPTH.png:POSE.npy (repeated) or --views FOLDER")
    if args.view or args.views:
        from ..calibration.fusion import fuse_views

        views = load_views(args)
        fused = fuse_views(views, voxel_size=FUSION_VOXEL, icp=args.icp, free_space=FREE_SPACE_MARGIN)
        icp = ", ICP fitness " + " ".join(f"{f:.2f}" for f in fused.fitness[1:]) if args.icp else ""
        print(f"fused {len(views)} view{'s' if len(views) > 1 else ''} into {len(fused.points)} points "
              f"(first view's camera frame{icp})")
        return fused.points, None
    if args.cloud:
        path = Path(args.cloud)
        if not path.is_file():
            raise FileNotFoundError(f"cloud file not found: {path}")
        if path.suffix == ".npy":
            pts = np.load(path, allow_pickle=False)
            if pts.ndim != 2 or pts.shape[1] not in (3, 6):
                raise ValueError(f"{path}: expected an (M, 3) or (M, 6) xyz[rgb] array, got {pts.shape}")
            return pts[:, :3].astype(np.float64), (pts[:, 3:6] if pts.shape[1] == 6 else None)
        if path.suffix in (".ply", ".pcd"):
            from .._native import import_open3d

            pcd = import_open3d().io.read_point_cloud(str(path))
            pts = np.asarray(pcd.points)
            if len(pts) == 0:
                raise ValueError(f"{path}: no points read (is it a point cloud, not a mesh?)")
            return pts, (np.asarray(pcd.colors) if pcd.has_colors() else None)
        raise ValueError(f"{path}: unsupported cloud format '{path.suffix}'; use .ply, .pcd or .npy")
    if not (args.depth and args.camK):
        raise ValueError("give --cloud FILE, --depth PNG with --camK NPY, or several views: --view "
                         "DEPTH.png:POSE.npy (repeated) or --views FOLDER, with --camK")
    import cv2

    from ..dataset.cloud import depth_to_points

    if args.rgb and not Path(args.rgb).is_file():
        raise FileNotFoundError(f"colour image not found: {args.rgb}")
    depth = _read_depth(args.depth, args.depth_scale)
    z = depth.astype(np.float64) / args.depth_scale
    pts = depth_to_points(z, _read_camK(args.camK)).astype(np.float64)
    colours = None
    if args.rgb:
        rgb = cv2.imread(args.rgb, cv2.IMREAD_COLOR)
        if rgb is None or rgb.shape[:2] != depth.shape:
            raise ValueError(f"{args.rgb}: colour image must be readable and {depth.shape} like the depth image")
        colours = rgb[z > 0][:, ::-1] / 255.0  # the valid pixels, row-major like the points
    return pts, colours


#: Voxel edge (m) of the fused multi-view cloud (finer than the detector's own downsampling).
FUSION_VOXEL = 0.002
#: m: a view's point is dropped where another view measured a surface this far behind it.
FREE_SPACE_MARGIN = 0.01


def _read_depth(path: str | Path, depth_scale: float) -> np.ndarray:
    """A 16-bit depth PNG (``depth_scale`` units per metre), units checked."""
    import cv2

    if not Path(path).is_file():
        raise FileNotFoundError(f"depth image not found: {path}")
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if depth is None or depth.ndim != 2:
        raise ValueError(f"{path}: not a single-channel depth PNG")
    check_depth_units(depth, depth_scale, str(path))
    return depth


def _read_camK(path: str | Path) -> np.ndarray:
    if not Path(path).is_file():
        raise FileNotFoundError(f"camera matrix not found: {path} (give --camK, a 3x3 .npy)")
    K = np.load(path, allow_pickle=False)
    if K.shape != (3, 3):
        raise ValueError(f"{path}: camera matrix must be 3x3, got {K.shape}")
    return K


def _read_pose(path: str | Path, what: str) -> np.ndarray:
    from ..calibration.poses import check_transforms

    if not Path(path).is_file():
        raise FileNotFoundError(f"{what}: pose file not found: {path}")
    return check_transforms(np.load(path, allow_pickle=False), f"{what} ({path})").reshape(-1, 4, 4)


def load_views(args: argparse.Namespace) -> list:
    """The :class:`~graspnet_ros.calibration.fusion.DepthView` list of ``--view`` / ``--views``, posed
    in the FIRST view's camera frame (T_cam0<-cam_k, metres).

    ``--view DEPTH.png:POSE.npy`` (repeated): POSE is the camera's pose T_ref<-camera (4x4) in any
    one frame shared by the views (e.g. the robot base), or with ``--calibration`` an eye-in-hand
    file the flange pose T_base<-flange when that image was taken. ``--views FOLDER``: the
    GraspNet layout, ``depth/*.png`` (sorted) with ``camera_poses.npy`` (T_cam0<-cam_k) and
    ``camK.npy`` (or ``--camK``); ``--num-views`` keeps the first n.
    """
    from ..calibration.fusion import DepthView

    if args.views:
        folder = Path(args.views)
        if not folder.is_dir():
            raise FileNotFoundError(f"--views {folder}: not a folder (expected depth/*.png and camera_poses.npy)")
        depths = sorted((folder / "depth").glob("*.png"))
        if not depths:
            raise ValueError(f"--views {folder}: no depth/*.png (GraspNet layout: depth/0000.png, ...)")
        poses = _read_pose(folder / "camera_poses.npy", f"--views {folder}: camera_poses.npy (T_cam0<-cam_k)")
        if len(poses) < len(depths):
            raise ValueError(f"--views {folder}: {len(depths)} depth images but only {len(poses)} poses in "
                             "camera_poses.npy (one T_cam0<-cam_k per image, in file-name order)")
        K = _read_camK(args.camK or folder / "camK.npy")
        n = len(depths) if not args.num_views else args.num_views
        if not 1 <= n <= len(depths):
            raise ValueError(f"--num-views {n}: the folder holds {len(depths)} views")
        pairs = list(zip(depths[:n], poses[:n]))
    else:
        if not args.camK:
            raise ValueError("--view needs --camK (the 3x3 camera matrix .npy of the depth images)")
        K = _read_camK(args.camK)
        calib = None
        if args.calibration:
            from ..calibration.result import read_calibration

            calib = read_calibration(args.calibration)
            if calib.mode != "eye-in-hand":
                raise ValueError(f"--calibration {args.calibration}: mode {calib.mode}; with --view it must be an "
                                 "eye-in-hand calibration (POSE.npy files are then flange poses T_base<-flange)")
        pairs = []
        for spec in args.view:
            depth, sep, pose = str(spec).rpartition(":")
            if not sep or not depth or not pose:
                raise ValueError(f"--view {spec!r}: expected DEPTH.png:POSE.npy")
            T = _read_pose(pose, f"--view {spec}")[0]
            if calib is not None:
                from ..calibration.result import base_from_camera

                T = base_from_camera(calib, T)  # T_base<-camera at that view's capture
            pairs.append((Path(depth), T))
    T0_inv = np.linalg.inv(pairs[0][1])
    return [DepthView(_read_depth(d, args.depth_scale), K, T0_inv @ T, depth_scale=1.0 / args.depth_scale)
            for d, T in pairs]


#: Median depth (m) a tabletop camera sees; outside this the units are wrong.
PLAUSIBLE_DEPTH = (0.15, 5.0)


def check_depth_units(depth: np.ndarray, depth_scale: float, name: str) -> None:
    """Refuse an 8-bit depth image, and depth whose median (valid pixels, divided by
    ``depth_scale`` units per metre) lies outside :data:`PLAUSIBLE_DEPTH`, naming the
    ``--depth-scale`` that would put it at about 1 m."""
    if depth.dtype == np.uint8:
        raise ValueError(f"{name}: 8-bit depth image: depth must be a 16-bit PNG (e.g. millimetres with "
                         "--depth-scale 1000); an 8-bit image cannot hold a depth range, re-save it as uint16")
    if not (np.isfinite(depth_scale) and depth_scale > 0):
        raise ValueError(f"--depth-scale must be a positive number of depth units per metre, got {depth_scale}")
    valid = depth[depth > 0]
    if valid.size == 0:
        raise ValueError(f"{name}: no valid (non-zero) depth pixel")
    raw = float(np.median(valid))
    metres = raw / depth_scale
    if not (PLAUSIBLE_DEPTH[0] <= metres <= PLAUSIBLE_DEPTH[1]):
        suggest = 10.0 ** np.round(np.log10(raw))
        raise ValueError(f"{name}: median depth {metres:.3g} m with --depth-scale {depth_scale:g} is implausible "
                         f"(expected {PLAUSIBLE_DEPTH[0]}..{PLAUSIBLE_DEPTH[1]} m); the units look wrong: try "
                         f"--depth-scale {suggest:g} (median raw value {raw:g})")


def plot(points: np.ndarray, colours: np.ndarray | None, grasps, path: Path, title: str) -> None:
    """PNG of the cloud (coloured when colours are given) and the grasps coloured by score."""
    if colours is None:
        from ..viz.plot3d import plot_grasps

        plot_grasps(points, grasps, path, title=title)
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..viz.gripper_lines import gripper_polylines

    rng = np.random.default_rng(0)
    sel = rng.choice(len(points), min(8000, len(points)), replace=False)
    fig = plt.figure(figsize=(7, 6), dpi=110)
    ax = fig.add_subplot(projection="3d")
    ax.scatter(*points[sel].T, s=1.5, c=np.clip(colours[sel], 0, 1), linewidths=0)
    cmap = plt.get_cmap("RdYlGn")
    for line, score in zip(gripper_polylines(grasps), grasps.scores):
        ax.plot(*line[:4].T, color=cmap(float(np.clip(score, 0, 1))), linewidth=1.4)
        ax.plot(*line[4:].T, color=cmap(float(np.clip(score, 0, 1))), linewidth=1.4)
    ax.view_init(elev=-60, azim=-90)
    ax.set_title(title, fontsize=9)
    fig.savefig(path)
    plt.close(fig)


def detect_pipeline(args: argparse.Namespace):
    """The detector node's pipeline (config/grasp_detector_node.yaml or ``--config``: crop, voxel,
    segmentation, detector, NMS) with this command's options on top."""
    from ..detection.detector_params import build_pipeline, detector_params

    overrides: dict = {}
    if args.checkpoint:
        overrides["checkpoint"] = args.checkpoint
    if args.voxel is not None:
        overrides["voxel_size"] = args.voxel
    if args.max_grasps:
        overrides["max_grasps"] = args.max_grasps
    if args.no_segmentation:
        overrides["segmentation.enabled"] = False
    params = detector_params(args.config, overrides)
    lower, upper = list(params["workspace.lower"]), list(params["workspace.upper"])
    if args.min_depth is not None:
        lower[2] = args.min_depth
    if args.max_depth is not None:
        upper[2] = args.max_depth
    params["workspace.lower"], params["workspace.upper"] = lower, upper
    return build_pipeline(params, use_gaf=not args.no_gaf, collision_check=not args.no_collision)


def run(args: argparse.Namespace) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    blocking = next((p for p in Path(args.out).parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"--out {args.out}: {blocking} is a file, not a folder; choose another --out")
    if args.preset == "reference" and not args.checkpoint:
        raise ValueError("--preset reference runs a graspnet-baseline checkpoint: pass --checkpoint "
                         "(e.g. checkpoint-rs.tar or checkpoint-kn.tar)")
    points, colours = load_cloud(args)
    summary = ""
    if args.preset == "reference":
        from ..model.reference_detector import ReferenceDemoConfig, ReferenceDetector

        demo = ReferenceDemoConfig(collision_thresh=0.0 if args.no_collision else 0.01, max_grasps=args.max_grasps)
        detector = ReferenceDetector.from_checkpoint(args.checkpoint, demo)
        result, kind = detector.detect(points), detector.kind
    else:
        pipeline = detect_pipeline(args)
        result, kind = pipeline.process(points, "camera"), pipeline.detector.name
        seg = result.segmentation
        if seg is not None:
            summary = (f"; segmentation: {seg.counts.get('objects', 0)} object(s), {int(seg.mask.sum())} points "
                       f"on them" if seg.plane is not None else f"; segmentation: {seg.reason}")
    timing = ", ".join(f"{k} {v * 1000:.0f}" for k, v in result.timings.items())  # seconds -> ms
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    npy = out.with_suffix(".npy")
    tmp = npy.with_name(npy.stem + ".tmp.npy")
    np.save(tmp, result.grasps.array)
    tmp.replace(npy)
    png = out.with_suffix(".png")
    top = result.grasps[:args.top]
    finite = np.isfinite(points).all(axis=1)
    plot(result.cloud if colours is None else points[finite], colours[finite] if colours is not None else None,
         top, png, f"{kind}: top {len(top)} of {len(result.grasps)} grasps")
    drawn = [png]
    if args.rgb and args.depth:
        drawn.append(overlay(args, top, out.with_name(out.name + "_image.png"),
                             f"{kind}: top {len(top)} of {len(result.grasps)}"))
    print(f"{kind}: {len(result.grasps)} grasps -> {npy}, top {len(top)} drawn in "
          f"{', '.join(map(str, drawn))} (ms: {timing}){summary}")
    return 0


def overlay(args: argparse.Namespace, grasps, path: Path, caption: str) -> Path:
    """Grasps (camera frame of --depth, which --rgb is registered to) drawn on the colour image."""
    import cv2

    from ..cameras.base import CameraIntrinsics
    from ..viz.image_overlay import draw_grasps, write_png

    rgb = cv2.imread(args.rgb, cv2.IMREAD_COLOR)[..., ::-1]
    K = np.load(args.camK, allow_pickle=False)
    intr = CameraIntrinsics(rgb.shape[1], rgb.shape[0], K[0, 0], K[1, 1], K[0, 2], K[1, 2])
    return write_png(path, draw_grasps(rgb, grasps, intr, max_grasps=len(grasps), caption=caption))


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("detect", help=__doc__.split(":", 1)[1].strip())
    p.add_argument("--cloud", help="point cloud in the camera frame, metres (.ply, .pcd or (M,3)/(M,6) .npy)")
    p.add_argument("--depth", help="depth PNG (uint16, units of --depth-scale per metre)")
    p.add_argument("--camK", help="3x3 camera matrix .npy for --depth")
    p.add_argument("--rgb", help="colour PNG registered to --depth (colours the picture; grasps are also "
                        "drawn on it as <out>_image.png)")
    p.add_argument("--depth-scale", type=float, default=1000.0, help="depth units per metre (1000 = mm)")
    p.add_argument("--view", action="append", metavar="DEPTH.png:POSE.npy",
                   help="one of several views fused into one cloud before detection (repeat; needs --camK): "
                        "POSE.npy = the camera pose T_ref<-camera (4x4, m) in a frame all views share, or with "
                        "--calibration the flange pose T_base<-flange at that capture; grasps come out in the "
                        "first view's camera frame")
    p.add_argument("--views", metavar="FOLDER",
                   help="fuse a folder of views, GraspNet layout: depth/*.png, camera_poses.npy "
                        "(T_cam0<-cam_k), camK.npy; grasps in the first view's camera frame")
    p.add_argument("--num-views", type=int, help="with --views: use the first n views (default: all)")
    p.add_argument("--calibration", help="with --view: an eye-in-hand calibration file (T_flange<-camera); the "
                        "POSE.npy files are then flange poses")
    p.add_argument("--icp", action="store_true",
                   help="with --view/--views: refine each view's pose by ICP against the views before it")
    p.add_argument("--checkpoint", help="trained network (.pt); default: the model-free baseline detector")
    p.add_argument("--out", default="output/detect/grasps", help="output path stem (.npy and .png are added)")
    p.add_argument("--top", type=int, default=20, help="grasps drawn in the PNG")
    p.add_argument("--max-grasps", type=int, help="keep at most this many grasps in the .npy")
    p.add_argument("--config", help="detector node config (default: config/grasp_detector_node.yaml): workspace, "
                        "voxel, segmentation, NMS, as the node")
    p.add_argument("--voxel", type=float, help="voxel downsampling (m), 0 = off (default: the config's, 0.005)")
    p.add_argument("--min-depth", type=float, help="nearest z kept (m; default: the config's workspace)")
    p.add_argument("--max-depth", type=float, help="farthest z kept (m; default: the config's workspace)")
    p.add_argument("--no-segmentation", action="store_true",
                   help="grasps anywhere in the workspace, not only on what stands on the support plane")
    p.add_argument("--no-gaf", action="store_true", help="rank by score only (no GAF re-ranking)")
    p.add_argument("--no-collision", action="store_true", help="skip collision filtering")
    p.add_argument("--threads", type=int, help="torch threads")
    p.add_argument("--preset", choices=("package", "reference"), default="package",
                   help="reference: a graspnet-baseline checkpoint in its demo's pipeline (20,000 raw points, "
                        "its decode, collision detector and NMS; --config, --voxel, --min/max-depth, "
                        "--no-segmentation and --no-gaf do not apply)")
    p.set_defaults(func=run)
