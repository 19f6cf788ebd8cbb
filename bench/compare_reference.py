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
computed with Open3D's signed distance on the grid dex-net's SDFGen makes
(a cube of ``--sdf-dim`` cells, cell = largest bounding-box side /
(dim - 2 * ``--sdf-padding``), centred on the box; dex-net's defaults 100
and 5, which is also the SDF cell this package's evaluator assumes for its
reference-style contact normals); (2) evaluate every frame here;
(3) in the reference environment, run the reference's own per-frame
functions (``GraspNetEval.get_scene_models`` / ``get_model_poses``,
``voxel_sample_points``, ``eval_grasp``) on the same files, with the
width clipping, concatenation, sorting and Precision@k of its
``eval_scene``; (4) compare the evaluated grasp sets, per-grasp labels,
collision flags and AP, and time both; (5) with ``--diagnose K``, for up
to K grasps whose labels differ, ask the reference for its jaw contacts and
normals (dex-net ``close_fingers``) and print them against this package's
(contact distance, normal angles with face and SDF-style normals, the
antipodal angles, whether a jaw starts outside the SDF grid).

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


def reference_contacts(work: Path) -> None:
    """Reference environment: dex-net jaw contacts of the object-frame grasps in
    ``diagnose_in.npz`` (rows (N, 17), obj_ids (N,)) -> ``diagnose_out.npz``."""
    from graspnetAPI.utils.dexnet.grasping.grasp import ParallelJawPtGrasp3D
    from graspnetAPI.utils.dexnet.grasping.quality import PointGraspMetrics3D
    from graspnetAPI.utils.eval_utils import load_dexnet_model
    from graspnetAPI.utils.rotation import matrix_to_dexnet_params

    data = np.load(work / "diagnose_in.npz")
    rows, obj_ids = data["rows"], data["obj_ids"]
    n = len(rows)
    out = {"points": np.full((n, 2, 3), np.nan), "normals": np.full((n, 2, 3), np.nan),
           "found": np.zeros(n, bool), "label": np.full(n, -1.0), "outside": np.zeros((n, 2), bool)}
    models = {}
    for k, (row, obj) in enumerate(zip(rows, obj_ids)):
        if obj not in models:
            models[obj] = load_dexnet_model(str(work / "root" / "models" / f"{obj:03d}" / "textured"))
        model = models[obj]
        R, t, width, depth = row[4:13].reshape(3, 3), row[13:16], row[1], row[3]
        binormal, angle = matrix_to_dexnet_params(R)
        grasp = ParallelJawPtGrasp3D(ParallelJawPtGrasp3D.configuration_from_params(
            t + depth * R[:, 0], binormal, width, angle), depth)
        for j, end in enumerate(grasp.endpoints):
            grid = np.asarray(model.sdf.transform_pt_obj_to_grid(np.asarray(end, dtype=np.float64))).reshape(-1)
            out["outside"][k, j] = model.sdf.is_out_of_bounds(grid)
        found, contacts = grasp.close_fingers(model, check_approach=False)
        if not found:
            continue
        out["found"][k] = True
        for j, c in enumerate(contacts):
            out["points"][k, j] = c.point
            out["normals"][k, j] = c.normal / np.linalg.norm(c.normal)
        for mu in MUS:
            if PointGraspMetrics3D.force_closure(contacts[0], contacts[1], mu):
                out["label"][k] = mu
                break
    np.savez(work / "diagnose_out.npz", **out)


# -- this package's side ---------------------------------------------------------------

def write_sdf(mesh_path: Path, sdf_path: Path, dim: int = 100, padding: int = 5) -> float:
    """dex-net text SDF of a mesh on SDFGen's grid; returns its cell (m).

    SDFGen (dex-net's fork): a dim^3 cube of nodes, cell = largest side of
    the mesh's bounding box / (dim - 2 padding), centred on the box; file:
    'nx ny nz', origin, cell, then values x-fastest (6 significant digits,
    as SDFGen's stream output). Written atomically.
    """
    from graspnet_ros._native import import_open3d

    o3d = import_open3d()
    legacy = o3d.io.read_triangle_mesh(str(mesh_path))
    vertices = np.asarray(legacy.vertices)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    res = float((hi - lo).max()) / (dim - 2 * padding)
    origin = (lo + hi) / 2 - dim * res / 2
    i, j, k = np.meshgrid(*[np.arange(dim)] * 3, indexing="ij")
    pts = origin + res * np.stack([i, j, k], axis=-1).reshape(-1, 3)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(legacy))
    sd = scene.compute_signed_distance(o3d.core.Tensor(pts.astype(np.float32))).numpy().reshape(dim, dim, dim)
    values = np.transpose(sd, (2, 1, 0)).reshape(-1)  # x fastest, then y, then z
    tmp = sdf_path.with_suffix(".sdf.tmp")
    with open(tmp, "w") as f:
        f.write(f"{dim} {dim} {dim}\n{origin[0]:.9g} {origin[1]:.9g} {origin[2]:.9g}\n{res:.9g}\n")
        np.savetxt(f, values, fmt="%.6g")
    tmp.replace(sdf_path)
    return res


def prepare_and_run_ours(work: Path, scenes: list[int], frames: int, objects: int, grasps: int,
                         camera: str, sdf_dim: int = 100, sdf_padding: int = 5, normals: str = "sdf") -> dict:
    from graspnet_ros.dataset.layout import Layout
    from graspnet_ros.evaluation import EvalConfig, evaluate_frame, load_predictions
    from graspnet_ros.evaluation.ground_truth import FrameGroundTruth, ModelCache, SceneCamera
    from graspnet_ros.evaluation.scene import prediction_path
    from graspnet_ros.evaluation.toy import write_toy_dump, write_toy_root
    from graspnet_ros.force_closure import read_sdf_resolution

    root = write_toy_root(work / "root", scenes, frames, objects, camera)
    dump = write_toy_dump(root, work / "dump", scenes, frames, objects, camera, num_grasps=grasps)
    layout = Layout(root)
    cache, out, seconds = ModelCache(root), {}, []
    config, cells = EvalConfig(contact_normals=normals), {}
    for obj in sorted(int(p.name) for p in (root / "models").iterdir()):
        sdf = layout.model_dir(obj) / "textured.sdf"
        if not sdf.exists():
            write_sdf(layout.model_obj(obj), sdf, sdf_dim, sdf_padding)
        # the evaluator's SDF cell for reference-style normals vs the file's
        cells[obj] = (cache.get(obj).raycaster.sdf_cell, read_sdf_resolution(sdf))
    mismatch = max(abs(a / b - 1) for a, b in cells.values())
    print(f"SDF cells: evaluator default vs textured.sdf differ by at most {100 * mismatch:.3f}%")
    for scene in scenes:
        cams = SceneCamera.load(layout, scene, camera)
        for ann in range(frames):
            gg = load_predictions(prediction_path(dump, scene, camera, ann))
            gt = FrameGroundTruth.from_root(root, scene, camera, ann, cache, cams)
            evaluate_frame(gg, gt, config)  # warm-up: BVH builds, caches
            t0 = time.perf_counter()
            r = evaluate_frame(gg, gt, config)
            seconds.append(time.perf_counter() - t0)
            key = f"{scene}_{ann}"
            out[f"grasps_{key}"], out[f"labels_{key}"] = r.grasps.array, r.labels
            out[f"collision_{key}"], out[f"accuracy_{key}"] = r.collision | r.empty, r.accuracy
            out[f"object_{key}"] = r.object_index
            out[f"posed_{key}"] = _object_frame_rows(r.grasps.array, r.object_index, np.asarray(gt.poses))
            out[f"objid_{key}"] = r.object_ids
    out["seconds"] = np.array(seconds)
    out["root"] = root
    return out


def _object_frame_rows(rows: np.ndarray, owner: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """Grasp rows (N, 17) taken from the camera into their owning object's frame (NaN if none)."""
    out = np.full_like(rows, np.nan)
    ok = owner >= 0
    R_obj, p_obj = poses[owner[ok], :3, :3], poses[owner[ok], :3, 3]
    out[ok] = rows[ok]
    out[ok, 4:13] = np.einsum("mji,mjk->mik", R_obj, rows[ok, 4:13].reshape(-1, 3, 3)).reshape(-1, 9)
    out[ok, 13:16] = np.einsum("mji,mj->mi", R_obj, rows[ok, 13:16] - p_obj)
    return out


def _row_keys(grasps: np.ndarray) -> dict:
    """Row index of each grasp keyed by its score and translation."""
    return {(round(float(g[0]), 6), *np.round(g[13:16], 5)): i for i, g in enumerate(grasps)}


def compare(ours: dict, ref, scenes: list[int], frames: int) -> dict:
    matched = agree = coll_agree = only_ours = only_ref = 0
    ap_ours, ap_ref, confusion, differ = [], [], {}, []
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
                    differ.append((key, k1[c], float(a), float(b)))
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
        "differ": differ,
    }


def diagnose(ours: dict, differ: list, work: Path, ref_python: str, limit: int) -> None:
    """Print reference vs our contacts for up to ``limit`` grasps whose labels differ."""
    from graspnet_ros.evaluation.ground_truth import ModelCache
    from graspnet_ros.force_closure import (BENCHMARK_MUS, Contacts, antipodal_angle, find_contacts,
                                            labels_from_angles)

    differ = differ[:limit]
    if not differ:
        print("diagnose: no label differs")
        return
    rows = np.array([ours[f"posed_{key}"][i] for key, i, _, _ in differ])
    obj_ids = np.array([int(ours[f"objid_{key}"][i]) for key, i, _, _ in differ])
    np.savez(work / "diagnose_in.npz", rows=rows, obj_ids=obj_ids)
    subprocess.run([ref_python, __file__, "--reference-contacts", "--work", str(work)], check=True, cwd="/tmp")
    ref = dict(np.load(work / "diagnose_out.npz"))
    cache = ModelCache(ours["root"])

    def degrees(a, b):
        return np.degrees(np.arccos(np.clip(np.abs(np.einsum("...i,...i", a, b)), 0, 1)))

    print("diagnose: per grasp, ours vs reference (dp: contact distance mm per jaw; dn: normal angle deg per jaw,"
          " face / sdf normals vs the reference's; ang: antipodal angle deg; out: jaw starts outside the SDF grid)")
    for k, ((key, _, a, b), row, obj) in enumerate(zip(differ, rows, obj_ids)):
        mesh = cache.get(int(obj)).raycaster
        R, t, width, depth = row[4:13].reshape(3, 3), row[13:16], row[1], row[3]
        args = (mesh, (t + depth * R[:, 0])[None], R[:, 1][None], [width])
        face, sdf = find_contacts(*args, normals="face"), find_contacts(*args, normals="sdf")
        rc = Contacts(ref["found"][k:k + 1], ref["points"][k:k + 1], ref["normals"][k:k + 1])
        dp = 1e3 * np.linalg.norm(sdf.points[0] - rc.points[0], axis=1)
        dn_face, dn_sdf = degrees(face.normals[0], rc.normals[0]), degrees(sdf.normals[0], rc.normals[0])
        ang = [np.degrees(antipodal_angle(c)[0]) for c in (face, sdf, rc)]
        relabel = labels_from_angles(np.radians(ang[2:]), BENCHMARK_MUS)[0]
        print(f"  frame {key} obj {obj:3d} labels ours {a:4.1f} ref {b:4.1f} (ref contacts -> {relabel:4.1f}) "
              f"found {bool(sdf.found[0])}/{bool(rc.found[0])} out {ref['outside'][k].astype(int).tolist()} "
              f"dp {dp[0]:5.2f},{dp[1]:5.2f}  dn face {dn_face[0]:4.1f},{dn_face[1]:4.1f} "
              f"sdf {dn_sdf[0]:4.1f},{dn_sdf[1]:4.1f}  ang face {ang[0]:4.1f} sdf {ang[1]:4.1f} ref {ang[2]:4.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref-python", default="/tmp/refenv/bin/python")
    ap.add_argument("--work", default="output/compare_reference")
    ap.add_argument("--scenes", type=int, nargs="+", default=[100, 101])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--objects", type=int, default=8)
    ap.add_argument("--grasps", type=int, default=1000)
    ap.add_argument("--camera", default="realsense")
    ap.add_argument("--sdf-dim", type=int, default=100, help="SDFGen grid cells per side (dex-net: 100)")
    ap.add_argument("--sdf-padding", type=int, default=5, help="SDFGen padding cells (dex-net: 5)")
    ap.add_argument("--normals", choices=["sdf", "face"], default="sdf",
                    help="contact normals of this package's evaluator (EvalConfig.contact_normals)")
    ap.add_argument("--diagnose", type=int, default=0, metavar="K",
                    help="print contacts and normals of up to K grasps whose labels differ")
    ap.add_argument("--reuse-reference", action="store_true",
                    help="compare with the reference.npz of an earlier run in --work (same options)")
    ap.add_argument("--reference-side", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--reference-contacts", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = Path(args.work).resolve()
    if args.reference_side:
        run_reference(work, args.scenes, args.frames, args.camera)
        return
    if args.reference_contacts:
        reference_contacts(work)
        return
    work.mkdir(parents=True, exist_ok=True)
    ours = prepare_and_run_ours(work, args.scenes, args.frames, args.objects, args.grasps, args.camera,
                                args.sdf_dim, args.sdf_padding, args.normals)
    cmd = [args.ref_python, __file__, "--reference-side", "--work", str(work), "--frames", str(args.frames),
           "--camera", args.camera, "--scenes", *map(str, args.scenes)]
    if not (args.reuse_reference and (work / "reference.npz").exists()):
        subprocess.run(cmd, check=True, cwd="/tmp")  # cwd outside the repo: no graspnet_ros on its path
    with np.load(work / "reference.npz") as ref:
        report = compare(ours, ref, args.scenes, args.frames)
        ref_s = float(ref["seconds"].mean())
    differ = report.pop("differ")
    report["ms_per_frame"] = {"ours": 1000 * float(ours["seconds"].mean()), "reference": 1000 * ref_s}
    report["speedup"] = ref_s / float(ours["seconds"].mean())
    print(json.dumps(report, indent=1))
    (work / "comparison.json").write_text(json.dumps(report, indent=1) + "\n")
    if args.diagnose:
        diagnose(ours, differ, work, args.ref_python, args.diagnose)


if __name__ == "__main__":
    sys.exit(main())
