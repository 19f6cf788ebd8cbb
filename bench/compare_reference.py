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

On the package's own dataset (``--root``; by default the ``tiny`` preset,
generated there with ``graspnet-ros data generate --preset tiny`` when
missing, about a minute): its test scenes (100, 130, 160), the first
``--frames`` annotated frames of each, RealSense. Steps:

1. every model without a ``textured.sdf`` gets one, written from
   :func:`graspnet_ros.sdf.build_sdf` (dex-net's SDFGen: 100 nodes a side,
   padding 5) in dex-net's text format, or with ``--sdfgen BIN`` by SDFGen
   itself (and compared with ``build_sdf``, bit for bit), so both evaluators
   read the same SDF file (the real dataset ships these files); with
   ``--build-sdfs`` this package's evaluator ignores the files and builds
   its own;
2. three prediction dumps per frame: ``baseline`` (the model-free detector),
   ``network`` (the shipped checkpoint), ``perturbed`` (ground-truth label
   grasps of the frame, up to 1500, with 1 mm / 3 degree / 2 mm-width noise
   and random scores);
3. this package's evaluator on every frame, timed warm (ground truth loaded)
   and with loading (fresh model cache: meshes, model points, SDFs read from
   the cache), with the reference method (``contact_normals="dexnet"``) and,
   for comparison, the earlier mesh imitation (``"sdf"``);
4. in the reference environment, the reference's own per-frame functions
   (``GraspNetEval.get_scene_models`` / ``get_model_poses``,
   ``voxel_sample_points``, ``eval_grasp``, with the width clipping, sorting
   and Precision@k of its ``eval_scene``), timed with and without loading the
   scene's models;
5. per dump: evaluated grasp sets, per-grasp labels (all, and those neither
   colliding nor empty), collision flags, AP / AP0.8 / AP0.4 of both and the
   speed ratio; with ``--diagnose K`` the reference's contacts and normals
   for up to K grasps whose labels differ, against this package's;
6. with ``--stress N``: N random object-frame grasps per model (closing
   roughly along the surface normal, random depths and widths), labelled by both on identical
   inputs (every grasp reaches the contact march, unlike the benchmark's
   top 50 per frame).

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
DUMPS = ("baseline", "network", "perturbed")


# -- the reference side (runs in the reference environment: numpy + graspnetAPI only) --

def run_reference(work: Path, dump_name: str) -> None:
    from graspnetAPI import GraspNetEval
    from graspnetAPI.grasp import GraspGroup as RefGroup
    from graspnetAPI.utils.config import get_config
    from graspnetAPI.utils.eval_utils import create_table_points, eval_grasp, transform_points, voxel_sample_points

    plan = json.loads((work / "plan.json").read_text())
    root, camera, dump = plan["root"], plan["camera"], work / "dump" / dump_name
    ge = GraspNetEval.__new__(GraspNetEval)  # skip GraspNet.__init__ (it indexes all 90 test scenes)
    ge.root, ge.camera = root, camera  # all that get_scene_models / get_model_poses use
    table = create_table_points(1.0, 1.0, 0.05, dx=-0.5, dy=-0.5, dz=-0.05, grid_size=0.008)
    out, seconds, load_seconds = {}, [], []
    for scene, anns in plan["frames"].items():
        scene = int(scene)
        t0 = time.perf_counter()
        models, dexmodels, _ = ge.get_scene_models(scene, ann_id=anns[0])
        sampled = [voxel_sample_points(m, 0.008) for m in models]
        load_seconds.append(time.perf_counter() - t0)
        for ann in anns:
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
            print(f"reference {dump_name} scene {scene} frame {ann}: {seconds[-1]:.1f} s, "
                  f"AP {100 * acc.mean():.2f}", flush=True)
    np.savez(work / f"reference_{dump_name}.npz", seconds=np.array(seconds),
             load_seconds=np.array(load_seconds), **out)


def reference_contacts(work: Path) -> None:
    """Reference environment: dex-net jaw contacts and label of camera-frame grasps
    ``diagnose_in.npz`` (rows (N, 17), poses (N, 4, 4) T_camera<-object, obj_ids (N,)),
    built as ``eval_grasp`` builds them -> ``diagnose_out.npz``."""
    from graspnetAPI.utils.config import get_config
    from graspnetAPI.utils.dexnet.grasping.grasp import ParallelJawPtGrasp3D
    from graspnetAPI.utils.dexnet.grasping.grasp_quality_config import GraspQualityConfigFactory
    from graspnetAPI.utils.eval_utils import get_grasp_score, load_dexnet_model, transform_points
    from graspnetAPI.utils.rotation import matrix_to_dexnet_params

    plan = json.loads((work / "plan.json").read_text())
    data = np.load(work / "diagnose_in.npz")
    rows, poses, obj_ids = data["rows"], data["poses"], data["obj_ids"]
    n = len(rows)
    out = {"points": np.full((n, 2, 3), np.nan), "normals": np.full((n, 2, 3), np.nan),
           "found": np.zeros(n, bool), "label": np.full(n, -1.0)}
    config, fc_list = get_config(), np.array([1.2, 1.0, 0.8, 0.6, 0.4, 0.2])
    quality = {}
    for mu in fc_list:
        config["metrics"]["force_closure"]["friction_coef"] = round(mu, 2)
        quality[round(mu, 2)] = GraspQualityConfigFactory.create_config(config["metrics"]["force_closure"])
    models = {}
    for k, (row, pose, obj) in enumerate(zip(rows, poses, obj_ids)):
        if obj not in models:
            models[obj] = load_dexnet_model(str(Path(plan["root"]) / "models" / f"{obj:03d}" / "textured"))
        R, width, depth = row[4:13].reshape(3, 3), row[1], row[3]
        center = (np.dot(R, np.array([depth, 0, 0]).reshape([3, 1])).reshape([3]) + row[13:16]).reshape([1, 3])
        center = transform_points(center, np.linalg.inv(pose)).reshape([3])
        binormal, angle = matrix_to_dexnet_params(np.dot(pose[:3, :3].T, R))
        grasp = ParallelJawPtGrasp3D(ParallelJawPtGrasp3D.configuration_from_params(
            center, binormal, width, angle), depth)
        found, contacts = grasp.close_fingers(models[obj], check_approach=False)
        out["found"][k] = found
        out["label"][k] = get_grasp_score(grasp, models[obj], fc_list, quality)
        for j, c in enumerate(contacts or []):
            if c is not None and c.point is not None:
                out["points"][k, j] = c.point
                if c.normal is not None:
                    out["normals"][k, j] = c.normal / np.linalg.norm(c.normal)
    np.savez(work / "diagnose_out.npz", **out)


def reference_stress(work: Path) -> None:
    """Reference environment: labels of object-frame grasps ``stress_in.npz``
    (centers (N, 3), axes (N, 3), widths (N,), obj_ids (N,)) -> ``stress_out.npz``."""
    from graspnetAPI.utils.config import get_config
    from graspnetAPI.utils.dexnet.grasping.grasp import ParallelJawPtGrasp3D
    from graspnetAPI.utils.dexnet.grasping.grasp_quality_config import GraspQualityConfigFactory
    from graspnetAPI.utils.eval_utils import get_grasp_score, load_dexnet_model

    plan = json.loads((work / "plan.json").read_text())
    data = np.load(work / "stress_in.npz")
    config, fc_list = get_config(), np.array([1.2, 1.0, 0.8, 0.6, 0.4, 0.2])
    quality = {}
    for mu in fc_list:
        config["metrics"]["force_closure"]["friction_coef"] = round(mu, 2)
        quality[round(mu, 2)] = GraspQualityConfigFactory.create_config(config["metrics"]["force_closure"])
    models, labels = {}, []
    t0 = time.perf_counter()
    for c, y, w, obj in zip(data["centers"], data["axes"], data["widths"], data["obj_ids"]):
        if obj not in models:
            models[obj] = load_dexnet_model(str(Path(plan["root"]) / "models" / f"{obj:03d}" / "textured"))
        grasp = ParallelJawPtGrasp3D(ParallelJawPtGrasp3D.configuration_from_params(c, y, w, 0.0), 0.0)
        labels.append(get_grasp_score(grasp, models[obj], fc_list, quality))
    np.savez(work / "stress_out.npz", labels=np.array(labels), seconds=time.perf_counter() - t0)


# -- this package's side ---------------------------------------------------------------

def ensure_root(root: Path) -> None:
    if (root / "scenes").is_dir() and (root / "models").is_dir():
        return
    print(f"generating the tiny preset in {root} (about a minute)", flush=True)
    subprocess.run([sys.executable, "-m", "graspnet_ros", "data", "generate", "--root", str(root), "--preset", "tiny"],
                   check=True)


def write_model_sdfs(root: Path, sdfgen: Path | None = None) -> dict:
    """textured.sdf of every model lacking one: built by :func:`graspnet_ros.sdf.build_sdf`,
    or by the SDFGen binary ``sdfgen`` (dex-net's fork, ``SDFGen file.obj 100 5``) on an
    OBJ of the mesh's vertices and faces, then checked against ``build_sdf``; seconds per model."""
    import tempfile

    from graspnet_ros._native import import_open3d
    from graspnet_ros.dataset.layout import Layout
    from graspnet_ros.sdf import build_sdf, read_sdf_text, write_sdf_text

    o3d = import_open3d()
    layout, built = Layout(root), {}
    for d in sorted((root / "models").iterdir()):
        obj = int(d.name)
        target = layout.model_dir(obj) / "textured.sdf"
        if target.exists():
            continue
        mesh_path = layout.model_obj(obj) if layout.model_obj(obj).is_file() else layout.model_ply(obj)
        mesh = o3d.io.read_triangle_mesh(str(mesh_path))
        vertices, faces = np.asarray(mesh.vertices, dtype=np.float32), np.asarray(mesh.triangles)
        t0 = time.perf_counter()
        sdf = build_sdf(vertices, faces)
        built[obj] = time.perf_counter() - t0
        if sdfgen is None:
            write_sdf_text(sdf, target)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            clean = Path(tmp) / "mesh.obj"
            with open(clean, "w") as f:
                f.writelines(f"v {x:.9g} {y:.9g} {z:.9g}\n" for x, y, z in vertices)
                f.writelines(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)
            subprocess.run([str(sdfgen), str(clean), "100", "5"], check=True, capture_output=True)
            theirs = read_sdf_text(clean.with_suffix(".sdf"))
            clean.with_suffix(".sdf").replace(target)
        same = np.array_equal(theirs.data, sdf.data) and np.array_equal(theirs.origin, sdf.origin) \
            and theirs.resolution == sdf.resolution
        print(f"  model {obj:03d}: SDFGen's textured.sdf {'==' if same else '!='} build_sdf "
              f"(values equal: {np.mean(theirs.data == sdf.data):.6f})", flush=True)
    return built


def perturbed_truth(root: Path, scene: int, camera: str, ann: int, rng: np.random.Generator,
                    count: int = 1500) -> np.ndarray:
    """Ground-truth label grasps of a frame (camera frame) with noise: (N, 17)."""
    from scipy.spatial.transform import Rotation

    from graspnet_ros.dataset.annotations_xml import read_annotations
    from graspnet_ros.dataset.grasp_labels import load_grasp_labels, project_grasp_labels
    from graspnet_ros.dataset.layout import Layout

    layout = Layout(root)
    objects = read_annotations(layout.frame_file(scene, camera, "annotations", ann))
    parts = [project_grasp_labels(load_grasp_labels(layout.grasp_label(o.obj_id)), o.pose, o.obj_id,
                                  max_grasps=count // len(objects), seed=int(rng.integers(1 << 30))).array
             for o in objects]
    arr = np.concatenate(parts)
    n = len(arr)
    noise = Rotation.from_rotvec(rng.normal(scale=np.radians(3.0) / np.sqrt(3), size=(n, 3))).as_matrix()
    arr[:, 4:13] = (arr[:, 4:13].reshape(-1, 3, 3) @ noise).reshape(-1, 9)
    arr[:, 13:16] += rng.normal(scale=0.001, size=(n, 3))
    arr[:, 1] = np.clip(arr[:, 1] + rng.normal(scale=0.002, size=n), 0.005, 0.12)
    arr[:, 0] = rng.uniform(0, 1, n)
    return arr


def write_dumps(root: Path, frames: dict, camera: str, work: Path, names: list[str]) -> None:
    from graspnet_ros.dataset.cloud import frame_point_cloud
    from graspnet_ros.dataset.reader import GraspNetDataset
    from graspnet_ros.evaluation.scene import prediction_path
    from graspnet_ros.model.checkpoint import load_model, shipped_checkpoint
    from graspnet_ros.model.detector import DetectorConfig, GraspDetector

    dets = {}
    if "baseline" in names:
        dets["baseline"] = GraspDetector(None, DetectorConfig(seed=0))
    if "network" in names:
        dets["network"] = GraspDetector(load_model(shipped_checkpoint()), DetectorConfig(seed=0))
    ds, rng = GraspNetDataset(root, camera), np.random.default_rng(0)
    for scene, anns in frames.items():
        for ann in anns:
            cloud = None
            for name in names:
                path = prediction_path(work / "dump" / name, scene, camera, ann)
                if path.exists():
                    continue
                if name == "perturbed":
                    rows = perturbed_truth(root, scene, camera, ann, rng)
                else:
                    if cloud is None:
                        cloud = frame_point_cloud(ds.frame(scene, ann), workspace="objects")
                        cloud = cloud[np.isfinite(cloud).all(axis=1)]
                    rows = dets[name].detect(cloud).grasps.array
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, rows.astype(np.float32))
        print(f"  scene {scene}: predictions written", flush=True)


def run_ours(root: Path, frames: dict, camera: str, work: Path, dump_name: str, method: str,
             build_sdfs: bool = False) -> dict:
    from graspnet_ros.dataset.layout import Layout
    from graspnet_ros.evaluation import EvalConfig, evaluate_frame, load_predictions
    from graspnet_ros.evaluation.ground_truth import FrameGroundTruth, ModelCache, SceneCamera
    from graspnet_ros.evaluation.scene import prediction_path

    layout, config = Layout(root), EvalConfig(contact_normals=method)
    out, warm, cold, load = {}, [], [], []
    for scene, anns in frames.items():
        t0 = time.perf_counter()
        cache, cams = ModelCache(root), SceneCamera.load(layout, scene, camera)
        gt0 = FrameGroundTruth.from_root(root, scene, camera, anns[0], cache, cams)
        for m in gt0.models:
            if build_sdfs:
                m.sdf_file = None  # build from the mesh, ignoring the dataset's textured.sdf
            m.tree  # noqa: B018  the loading the first evaluation would do
            if method == "dexnet":
                m.sdf  # noqa: B018
        load.append(time.perf_counter() - t0)
        for ann in anns:
            t0 = time.perf_counter()
            gg = load_predictions(prediction_path(work / "dump" / dump_name, scene, camera, ann))
            gt = FrameGroundTruth.from_root(root, scene, camera, ann, cache, cams)
            r = evaluate_frame(gg, gt, config)
            cold.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            r = evaluate_frame(gg, gt, config)
            warm.append(time.perf_counter() - t0)
            key = f"{scene}_{ann}"
            out[f"grasps_{key}"], out[f"labels_{key}"] = r.grasps.array, r.labels
            out[f"collision_{key}"], out[f"accuracy_{key}"] = r.collision | r.empty, r.accuracy
            out[f"posed_{key}"] = _object_frame_rows(r.grasps.array, r.object_index, np.asarray(gt.poses))
            out[f"objid_{key}"] = r.object_ids
            out[f"pose_{key}"] = np.asarray(gt.poses)[np.maximum(r.object_index, 0)]
    out["warm"], out["cold"], out["load"] = np.array(warm), np.array(cold), np.array(load)
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


def compare(ours: dict, ref, frames: dict) -> dict:
    matched = agree = coll_agree = only_ours = only_ref = free = free_agree = 0
    ap_ours, ap_ref, confusion, differ = [], [], {}, []
    for scene, anns in frames.items():
        for ann in anns:
            key = f"{scene}_{ann}"
            g1, g2 = ours[f"grasps_{key}"], ref[f"grasps_{key}"]
            k1, k2 = _row_keys(g1), _row_keys(g2)  # float32 predictions: exact in both
            common = k1.keys() & k2.keys()
            only_ours += len(k1) - len(common)
            only_ref += len(k2) - len(common)
            for c in common:
                a, b = ours[f"labels_{key}"][k1[c]], ref[f"labels_{key}"][k2[c]]
                c1, c2 = bool(ours[f"collision_{key}"][k1[c]]), bool(ref[f"collision_{key}"][k2[c]])
                same = bool(np.isclose(a, b))
                matched += 1
                agree += same
                coll_agree += c1 == c2
                if not c1 and not c2:
                    free += 1
                    free_agree += same
                if not same:
                    pair = f"ours {a:g} / ref {b:g}"
                    confusion[pair] = confusion.get(pair, 0) + 1
                    differ.append((key, k1[c], float(a), float(b)))
            ap_ours.append(ours[f"accuracy_{key}"])
            ap_ref.append(ref[f"accuracy_{key}"])
    acc1, acc2 = np.array(ap_ours), np.array(ap_ref)
    ap = {name: [100 * a, 100 * b, 100 * (a - b)] for name, a, b in (
        ("AP", acc1.mean(), acc2.mean()), ("AP0.8", acc1[..., 3].mean(), acc2[..., 3].mean()),
        ("AP0.4", acc1[..., 1].mean(), acc2[..., 1].mean()))}
    return {
        "frames": len(ap_ours), "grasps_matched": matched, "only_ours": only_ours, "only_reference": only_ref,
        "label_agreement": agree / max(matched, 1), "non_colliding": free,
        "label_agreement_non_colliding": free_agree / max(free, 1),
        "collision_empty_agreement": coll_agree / max(matched, 1),
        "disagreements": dict(sorted(confusion.items(), key=lambda kv: -kv[1])),
        **{f"{k} (ours, ref, delta)": [round(x, 3) for x in v] for k, v in ap.items()},
        "differ": differ,
    }


def diagnose(ours: dict, differ: list, work: Path, ref_python: str, limit: int) -> None:
    """Print reference vs our contacts for up to ``limit`` grasps whose labels differ."""
    from graspnet_ros.evaluation.ground_truth import ModelCache
    from graspnet_ros.sdf import close_jaws

    differ = differ[:limit]
    if not differ:
        print("diagnose: no label differs")
        return
    rows = np.array([ours[f"grasps_{key}"][i] for key, i, _, _ in differ])
    poses = np.array([ours[f"pose_{key}"][i] for key, i, _, _ in differ])
    obj_ids = np.array([int(ours[f"objid_{key}"][i]) for key, i, _, _ in differ])
    np.savez(work / "diagnose_in.npz", rows=rows, poses=poses, obj_ids=obj_ids)
    subprocess.run([ref_python, __file__, "--reference-contacts", "--work", str(work)], check=True, cwd="/tmp")
    ref = dict(np.load(work / "diagnose_out.npz"))
    cache = ModelCache(json.loads((work / "plan.json").read_text())["root"])
    print("diagnose: ours vs reference (dp: contact distance mm per jaw; dn: normal angle deg per jaw)")
    for k, ((key, i, a, b), obj) in enumerate(zip(differ, obj_ids)):
        row = ours[f"posed_{key}"][i]
        R, t, width, depth = row[4:13].reshape(3, 3), row[13:16], row[1], row[3]
        mine = close_jaws(cache.get(int(obj)).sdf, (t + depth * R[:, 0])[None], R[:, 1][None], [width])
        dp = 1e3 * np.linalg.norm(mine.points[0] - ref["points"][k], axis=1)
        dn = np.degrees(np.arccos(np.clip(np.abs(np.sum(mine.normals[0] * ref["normals"][k], axis=1)), 0, 1)))
        print(f"  frame {key} obj {obj:3d} labels ours {a:4.1f} ref {b:4.1f} (ref again {ref['label'][k]:4.1f}) "
              f"found {bool(mine.found[0])}/{bool(ref['found'][k])} dp {dp[0]:6.3f},{dp[1]:6.3f} "
              f"dn {dn[0]:5.2f},{dn[1]:5.2f}")


def stress(root: Path, work: Path, ref_python: str, per_object: int, seed: int = 0) -> dict:
    """Labels of ``per_object`` random object-frame grasps per model (closing
    roughly along the normal at a surface sample, centred up to 2 cm inside,
    widths 2-10 cm) from both
    implementations on identical inputs: many more grasps than the benchmark's
    top 50 per frame, and every one reaches the contact march."""
    import trimesh

    from graspnet_ros.evaluation.ground_truth import ModelCache
    from graspnet_ros.sdf import close_jaws, friction_labels

    cache, rng = ModelCache(root), np.random.default_rng(seed)
    centers, axes, widths, obj_ids = [], [], [], []
    for d in sorted((root / "models").iterdir()):
        obj = int(d.name)
        mesh = cache.get(obj).raycaster
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
        pts, face = trimesh.sample.sample_surface(tm, per_object, seed=int(rng.integers(1 << 30)))
        normal = tm.face_normals[face]
        # closing roughly along the surface normal, centred up to 2 cm inside: mostly antipodal grasps
        centers.append(pts - normal * rng.uniform(0.0, 0.02, (per_object, 1))
                       + rng.normal(scale=0.002, size=pts.shape))
        y = normal + rng.normal(scale=0.3, size=(per_object, 3))
        axes.append(y / np.linalg.norm(y, axis=1, keepdims=True))
        widths.append(rng.uniform(0.02, 0.1, per_object))
        obj_ids.append(np.full(per_object, obj))
    centers, axes, widths, obj_ids = map(np.concatenate, (centers, axes, widths, obj_ids))
    np.savez(work / "stress_in.npz", centers=centers, axes=axes, widths=widths, obj_ids=obj_ids)
    ours = np.full(len(centers), -1.0)
    t0 = time.perf_counter()
    for obj in np.unique(obj_ids):
        sel = obj_ids == obj
        ours[sel] = friction_labels(close_jaws(cache.get(int(obj)).sdf, centers[sel], axes[sel], widths[sel]), MUS)
    ours_s = time.perf_counter() - t0
    subprocess.run([ref_python, __file__, "--reference-stress", "--work", str(work)], check=True, cwd="/tmp")
    with np.load(work / "stress_out.npz") as z:
        ref, ref_s = z["labels"], float(z["seconds"])
    same = np.isclose(ours, ref)
    confusion: dict[str, int] = {}
    for a, b in zip(ours[~same], ref[~same]):
        confusion[f"ours {a:g} / ref {b:g}"] = confusion.get(f"ours {a:g} / ref {b:g}", 0) + 1
    return {"grasps": len(ours), "with_contacts_ref": int((ref > 0).sum() + 0),
            "label_agreement": float(same.mean()),
            "label_agreement_where_ref_has_label": float(same[ref > 0].mean()) if (ref > 0).any() else None,
            "disagreements": confusion, "ours_ms_per_grasp": 1e3 * ours_s / len(ours),
            "reference_ms_per_grasp": 1e3 * ref_s / len(ours)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref-python", default="/tmp/refenv/bin/python")
    ap.add_argument("--root", type=Path, default=Path("/tmp/graspnet_tiny"),
                    help="GraspNet-layout root (generated with the tiny preset when missing)")
    ap.add_argument("--work", type=Path, default=Path("output/compare_reference"))
    ap.add_argument("--scenes", type=int, nargs="+", default=[100, 130, 160])
    ap.add_argument("--frames", type=int, default=4, help="first N annotated frames per scene")
    ap.add_argument("--camera", default="realsense")
    ap.add_argument("--dumps", nargs="+", choices=DUMPS, default=list(DUMPS))
    ap.add_argument("--diagnose", type=int, default=0, metavar="K",
                    help="print contacts and normals of up to K grasps whose labels differ")
    ap.add_argument("--reuse-reference", action="store_true",
                    help="compare with the reference_*.npz of an earlier run in --work (same options)")
    ap.add_argument("--reference-side", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--sdfgen", type=Path, default=None,
                    help="SDFGen binary (dex-net's fork) to write missing textured.sdf files with, checked "
                         "against graspnet_ros.sdf.build_sdf")
    ap.add_argument("--build-sdfs", action="store_true",
                    help="this package's evaluator builds its SDFs from the meshes instead of reading textured.sdf "
                         "(to compare against textured.sdf files made by another tool, e.g. SDFGen itself)")
    ap.add_argument("--stress", type=int, default=0, metavar="N",
                    help="also compare labels of N random object-frame grasps per model")
    ap.add_argument("--reference-contacts", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--reference-stress", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    work = args.work.resolve()
    if args.reference_side:
        run_reference(work, args.reference_side)
        return
    if args.reference_contacts:
        reference_contacts(work)
        return
    if args.reference_stress:
        reference_stress(work)
        return
    from graspnet_ros.evaluation.scene import frame_ids

    root = args.root.resolve()
    ensure_root(root)
    work.mkdir(parents=True, exist_ok=True)
    frames = {s: frame_ids(root, s, args.camera)[:args.frames] for s in args.scenes}
    (work / "plan.json").write_text(json.dumps({"root": str(root), "camera": args.camera,
                                                "frames": {str(k): v for k, v in frames.items()}}))
    built = write_model_sdfs(root, args.sdfgen)
    if built:
        print(f"textured.sdf written for {len(built)} models, {np.mean(list(built.values())):.1f} s each")
    write_dumps(root, frames, args.camera, work, args.dumps)
    ref_ok = Path(args.ref_python).exists()
    if not ref_ok:
        print(f"graspnetAPI environment {args.ref_python} not found: this package's numbers only "
              "(see the module docstring for the reference environment)")
    reports = {}
    for name in args.dumps:
        ours = run_ours(root, frames, args.camera, work, name, "dexnet", args.build_sdfs)
        old = run_ours(root, frames, args.camera, work, name, "sdf")
        report = {"ours_ms_per_frame": {"warm": 1e3 * float(np.median(ours["warm"])),
                                        "with_reading": 1e3 * float(np.median(ours["cold"])),
                                        "model_loading_per_scene": 1e3 * float(np.mean(ours["load"])),
                                        "mesh_imitation_warm": 1e3 * float(np.median(old["warm"]))}}
        if ref_ok:
            ref_file = work / f"reference_{name}.npz"
            if not (args.reuse_reference and ref_file.exists()):
                subprocess.run([args.ref_python, __file__, "--reference-side", name, "--work", str(work)],
                               check=True, cwd="/tmp")  # cwd outside the repo: no graspnet_ros on its path
            with np.load(ref_file) as ref:
                cmp_new = compare(ours, ref, frames)
                cmp_old = compare(old, ref, frames)
                ref_ms, ref_load = 1e3 * float(np.median(ref["seconds"])), 1e3 * float(np.mean(ref["load_seconds"]))
            differ = cmp_new.pop("differ")
            cmp_old.pop("differ")
            n = sum(len(v) for v in frames.values())
            ours_total = np.sum(ours["cold"]) + np.sum(ours["load"])
            ref_total = ref_ms * n / 1e3 + ref_load * len(frames) / 1e3
            report.update(cmp_new)
            report["reference_ms_per_frame"] = {"eval": ref_ms, "model_loading_per_scene": ref_load}
            report["speedup_warm"] = ref_ms / report["ours_ms_per_frame"]["warm"]
            report["speedup_with_loading"] = ref_total / ours_total
            report["mesh_imitation"] = {k: v for k, v in cmp_old.items()
                                        if k.startswith(("label", "AP", "disagree"))}
            if args.diagnose:
                diagnose(ours, differ, work, args.ref_python, args.diagnose)
        reports[name] = report
        print(f"== {name}\n{json.dumps(report, indent=1)}", flush=True)
    if args.stress and ref_ok:
        reports["stress"] = stress(root, work, args.ref_python, args.stress)
        print(f"== stress\n{json.dumps(reports['stress'], indent=1)}", flush=True)
    (work / "comparison.json").write_text(json.dumps(reports, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
