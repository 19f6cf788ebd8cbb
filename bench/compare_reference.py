"""Agreement and speed against the reference evaluator (graspnetAPI 1.2.11).

The reference runs in its own Python environment (it needs numpy < 1.24),
for example::

    python3.11 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install numpy==1.23.5 cython setuptools wheel
    /tmp/refenv/bin/pip install -c <(echo numpy==1.23.5) "scipy<1.12" transforms3d==0.3.1 \\
        open3d-cpu==0.20.0 trimesh autolab_core "scikit-image<0.22" "scikit-learn<1.4" \\
        ipython matplotlib tqdm Pillow cvxopt
    /tmp/refenv/bin/pip install --no-build-isolation grasp_nms==1.0.2
    /tmp/refenv/bin/pip install --no-deps graspnetapi==1.2.11

Then::

    .venv/bin/python bench/compare_reference.py --ref-python /tmp/refenv/bin/python

Steps: (1) write a generated dataset root (primitives on a table), a
prediction dump and, per model, a dex-net text SDF (``textured.sdf``:
dims, origin, resolution, then values x-fastest, metres, negative inside)
computed with Open3D's signed distance; (2) evaluate every frame here;
(3) in the reference environment, run the reference's own per-frame
functions (``GraspNetEval.get_scene_models`` / ``get_model_poses``,
``voxel_sample_points``, ``eval_grasp``) on the same files, with the
width clipping, concatenation, sorting and Precision@k of its
``eval_scene``; (4) compare the evaluated grasp sets, per-grasp labels,
collision flags and AP, and time both.

Nothing of the reference is stored in this repository; this script only
calls the installed package.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

MUS = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2]


# -- the reference side (runs in the reference environment: numpy + graspnetAPI only) --

def run_reference(work: Path, scenes: list[int], frames: int, camera: str) -> None:
    from graspnetAPI import GraspNetEval
    from graspnetAPI.grasp import GraspGroup as RefGroup
    from graspnetAPI.utils.config import get_config
    from graspnetAPI.utils.eval_utils import (create_table_points, eval_grasp, transform_points,
                                              voxel_sample_points)

    root, dump = str(work / "root"), work / "dump"
    ge = GraspNetEval.__new__(GraspNetEval)  # skip GraspNet.__init__ (it indexes all 90 test scenes)
    ge.root, ge.camera = root, camera  # all that get_scene_models / get_model_poses use
    table = create_table_points(1.0, 1.0, 0.05, dx=-0.5, dy=-0.5, dz=-0.05, grid_size=0.008)
    out, seconds = {}, []
    for scene in scenes:
        models, dexmodels, _ = ge.get_scene_models(scene, ann_id=0)
        sampled = [voxel_sample_points(m, 0.008) for m in models]
        for ann in range(frames):
            t0 = time.perf_counter()
            gg = RefGroup().from_npy(str(dump / f"scene_{scene:04d}" / camera / f"{ann:04d}.npy"))
            _, poses, cam_pose, align = ge.get_model_poses(scene, ann)
            table_cam = transform_points(table, np.linalg.inv(align @ cam_pose))
            arr = gg.grasp_group_array
            arr[:, 1] = np.clip(arr[:, 1], 0.0, 0.1)
            gg.grasp_group_array = arr
            grasps, labels, collisions = eval_grasp(gg, sampled, dexmodels, poses, get_config(),
                                                    table=table_cam, voxel_size=0.008, TOP_K=50)
            keep = [i for i, g in enumerate(grasps) if len(g)]
            grasps = np.concatenate([grasps[i] for i in keep]) if keep else np.zeros((0, 17))
            labels = np.concatenate([labels[i] for i in keep]) if keep else np.zeros(0)
            collisions = np.concatenate([collisions[i] for i in keep]) if keep else np.zeros(0, bool)
            order = np.argsort(-grasps[:, 0])
            grasps, labels, collisions = grasps[order], labels[order], collisions[order]
            acc = np.zeros((50, len(MUS)))
            for j, mu in enumerate(MUS):
                good = (labels > 0) & (labels <= mu)
                for k in range(50):
                    acc[k, j] = good[:k + 1].sum() / (k + 1)
            seconds.append(time.perf_counter() - t0)
            key = f"{scene}_{ann}"
            out[f"grasps_{key}"], out[f"labels_{key}"] = grasps, labels
            out[f"collision_{key}"], out[f"accuracy_{key}"] = collisions, acc
            print(f"reference scene {scene} frame {ann}: {seconds[-1]:.1f} s, AP {100 * acc.mean():.2f}",
                  flush=True)
    np.savez(work / "reference.npz", seconds=np.array(seconds), **out)


# -- this package's side ---------------------------------------------------------------

def write_sdf(mesh_path: Path, sdf_path: Path, cells: int = 100, pad: int = 40) -> None:
    """dex-net text SDF of a mesh: 'nx ny nz', 'ox oy oz', 'resolution', values x-fastest."""
    from graspnet_ros._native import import_open3d

    o3d = import_open3d()
    mesh = o3d.t.io.read_triangle_mesh(str(mesh_path))
    lo, hi = mesh.vertex.positions.numpy().min(axis=0), mesh.vertex.positions.numpy().max(axis=0)
    res = float((hi - lo).max()) / (cells - 2 * pad)
    dims = np.ceil((hi - lo) / res).astype(int) + 2 * pad + 1
    origin = lo - pad * res
    i, j, k = np.meshgrid(*[np.arange(n) for n in dims], indexing="ij")
    pts = origin + res * np.stack([i, j, k], axis=-1).reshape(-1, 3)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(o3d.io.read_triangle_mesh(str(mesh_path))))
    sd = scene.compute_signed_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy().reshape(dims)
    values = np.transpose(sd, (2, 1, 0)).reshape(-1)  # x fastest, then y, then z
    with open(sdf_path, "w") as f:
        f.write(f"{dims[0]} {dims[1]} {dims[2]}\n")
        f.write(f"{origin[0]:.8f} {origin[1]:.8f} {origin[2]:.8f}\n{res:.8f}\n")
        np.savetxt(f, values, fmt="%.7f")


def prepare_and_run_ours(work: Path, scenes: list[int], frames: int, objects: int, grasps: int,
                         camera: str) -> dict:
    from graspnet_ros.dataset.layout import Layout
    from graspnet_ros.evaluation import evaluate_frame, load_predictions
    from graspnet_ros.evaluation.ground_truth import FrameGroundTruth, ModelCache, SceneCamera
    from graspnet_ros.evaluation.scene import prediction_path
    from graspnet_ros.evaluation.toy import write_toy_dump, write_toy_root

    root = write_toy_root(work / "root", scenes, frames, objects, camera)
    dump = write_toy_dump(root, work / "dump", scenes, frames, objects, camera, num_grasps=grasps)
    layout = Layout(root)
    for obj in sorted(int(p.name) for p in (root / "models").iterdir()):
        sdf = layout.model_dir(obj) / "textured.sdf"
        if not sdf.exists():
            write_sdf(layout.model_obj(obj), sdf)
    cache, out, seconds = ModelCache(root), {}, []
    for scene in scenes:
        cams = SceneCamera.load(layout, scene, camera)
        for ann in range(frames):
            gg = load_predictions(prediction_path(dump, scene, camera, ann))
            gt = FrameGroundTruth.from_root(root, scene, camera, ann, cache, cams)
            evaluate_frame(gg, gt)  # warm-up: BVH builds, caches
            t0 = time.perf_counter()
            r = evaluate_frame(gg, gt)
            seconds.append(time.perf_counter() - t0)
            key = f"{scene}_{ann}"
            out[f"grasps_{key}"], out[f"labels_{key}"] = r.grasps.array, r.labels
            out[f"collision_{key}"], out[f"accuracy_{key}"] = r.collision | r.empty, r.accuracy
    out["seconds"] = np.array(seconds)
    return out


def _row_keys(grasps: np.ndarray) -> dict:
    """Row index of each grasp keyed by its score and translation."""
    return {(round(float(g[0]), 6), *np.round(g[13:16], 5)): i for i, g in enumerate(grasps)}


def compare(ours: dict, ref, scenes: list[int], frames: int) -> dict:
    matched = agree = coll_agree = only_ours = only_ref = 0
    ap_ours, ap_ref, confusion = [], [], {}
    for scene in scenes:
        for ann in range(frames):
            key = f"{scene}_{ann}"
            g1, g2 = ours[f"grasps_{key}"], ref[f"grasps_{key}"]
            # match rows by score + translation (float32 predictions: exact in both)
            k1, k2 = _row_keys(g1), _row_keys(g2)
            common = k1.keys() & k2.keys()
            only_ours += len(k1) - len(common)
            only_ref += len(k2) - len(common)
            for c in common:
                a, b = ours[f"labels_{key}"][k1[c]], ref[f"labels_{key}"][k2[c]]
                matched += 1
                agree += bool(np.isclose(a, b))
                coll_agree += bool(ours[f"collision_{key}"][k1[c]] == ref[f"collision_{key}"][k2[c]])
                if not np.isclose(a, b):
                    pair = f"ours {a:g} / ref {b:g}"
                    confusion[pair] = confusion.get(pair, 0) + 1
            ap_ours.append(ours[f"accuracy_{key}"])
            ap_ref.append(ref[f"accuracy_{key}"])
    acc1, acc2 = np.array(ap_ours), np.array(ap_ref)
    return {
        "frames": len(ap_ours), "grasps_matched": matched, "only_ours": only_ours, "only_reference": only_ref,
        "label_agreement": agree / max(matched, 1), "collision_empty_agreement": coll_agree / max(matched, 1),
        "disagreements": dict(sorted(confusion.items(), key=lambda kv: -kv[1])),
        "AP": [100 * acc1.mean(), 100 * acc2.mean()],
        "AP0.8": [100 * acc1[..., 3].mean(), 100 * acc2[..., 3].mean()],
        "AP0.4": [100 * acc1[..., 1].mean(), 100 * acc2[..., 1].mean()],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref-python", default="/tmp/refenv/bin/python")
    ap.add_argument("--work", default="output/compare_reference")
    ap.add_argument("--scenes", type=int, nargs="+", default=[100, 101])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--grasps", type=int, default=1000)
    ap.add_argument("--camera", default="realsense")
    ap.add_argument("--reference-side", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work).resolve()
    if args.reference_side:
        run_reference(work, args.scenes, args.frames, args.camera)
        return
    work.mkdir(parents=True, exist_ok=True)
    ours = prepare_and_run_ours(work, args.scenes, args.frames, args.objects, args.grasps, args.camera)
    cmd = [args.ref_python, __file__, "--reference-side", "--work", str(work), "--frames", str(args.frames),
           "--camera", args.camera, "--scenes", *map(str, args.scenes)]
    subprocess.run(cmd, check=True, cwd="/tmp")  # cwd outside the repo: no graspnet_ros on its path
    with np.load(work / "reference.npz") as ref:
        report = compare(ours, ref, args.scenes, args.frames)
        ref_s = float(ref["seconds"].mean())
    report["ms_per_frame"] = {"ours": 1000 * float(ours["seconds"].mean()), "reference": 1000 * ref_s}
    report["speedup"] = ref_s / float(ours["seconds"].mean())
    print(json.dumps(report, indent=1))
    (work / "comparison.json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
