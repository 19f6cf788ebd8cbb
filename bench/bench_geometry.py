"""Throughput of the grasp-geometry core on this machine.

Prints, each with a baseline measured in the same run:
  * force-closure labels/s for 1,000 grasps on a YCB-sized mesh (about 16k
    faces, 10 cm), batch vs one grasp per call (the reference's pattern);
  * collision checks/s for 1,000 grasps x 50k scene points, k-d tree pairs
    vs the dense reference inequalities (on a subset, extrapolated);
  * pose NMS time for 10,000 grasps vs the O(N^2) loop (on a subset).

Run: .venv/bin/python bench/bench_geometry.py
"""

from __future__ import annotations

import time

import numpy as np
import trimesh

from graspnet_ros.force_closure import MeshRaycaster, force_closure_labels
from graspnet_ros.grasp import GraspGroup
from graspnet_ros.gripper import check_collision, check_collision_naive, table_points
from graspnet_ros.nms import pose_nms, pose_nms_naive


def timed(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def ycb_sized_mesh() -> trimesh.Trimesh:
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=1.0)  # 20,480 faces
    mesh.apply_scale((0.035, 0.05, 0.09))  # a 7 x 10 x 18 cm bottle-like ellipsoid
    return mesh


def clutter_scene(rng) -> tuple[np.ndarray, np.ndarray]:
    """50k points of 10 boxes/cylinders/spheres on a 0.6 m table, and 1k surface points."""
    meshes = []
    for i in range(10):
        if i % 3 == 0:
            m = trimesh.creation.box(rng.uniform(0.04, 0.12, 3))
        elif i % 3 == 1:
            m = trimesh.creation.cylinder(rng.uniform(0.02, 0.05), rng.uniform(0.05, 0.15))
        else:
            m = trimesh.creation.icosphere(3, rng.uniform(0.03, 0.06))
        m.apply_translation((*rng.uniform(-0.25, 0.25, 2), m.extents[2] / 2))
        meshes.append(m)
    objects = trimesh.util.concatenate(meshes)
    table = table_points(0.6, 0.6, 0.0, 0.005)
    scene = np.concatenate([objects.sample(35_000), table[rng.choice(len(table), 15_000, replace=False)]])
    return scene, objects.sample(1000)


def random_grasps(n, spread, rng, frame_id="object"):
    return GraspGroup.from_approach(
        rng.normal(0, spread, (n, 3)), rng.normal(size=(n, 3)), rng.uniform(0, np.pi, n),
        rng.choice([0.01, 0.02, 0.03, 0.04], n), rng.uniform(0.02, 0.1, n),
        score=rng.uniform(0, 1, n), frame_id=frame_id)


def main() -> None:
    rng = np.random.default_rng(0)
    mesh = ycb_sized_mesh()
    rc = MeshRaycaster.from_trimesh(mesh)
    print(f"mesh: {len(mesh.faces)} faces, extents {np.round(mesh.extents, 3)} m")

    g = random_grasps(1000, 0.02, rng)
    t_batch, labels = timed(lambda: force_closure_labels(g, rc))
    single = g[:100]
    t_single, _ = timed(lambda: [force_closure_labels(single[i], rc) for i in range(len(single))], 1)
    rate_b, rate_s = len(g) / t_batch, len(single) / t_single
    big = random_grasps(100_000, 0.02, rng)
    t_big, _ = timed(lambda: force_closure_labels(big, rc), 1)
    print(f"force closure: batch {rate_b:,.0f} labels/s (1k grasps), {len(big) / t_big:,.0f} labels/s "
          f"(100k grasps); one-per-call baseline {rate_s:,.0f} labels/s; ratio {rate_b / rate_s:.0f}x; "
          f"reference SDF march ~16 labels/s/core; {np.mean(labels > 0):.0%} force-closure")

    scene, grasp_points = clutter_scene(rng)
    n = 1000
    gs = GraspGroup.from_approach(grasp_points[:n], rng.normal(size=(n, 3)) - (0, 0, 2),
                                  rng.uniform(0, np.pi, n), rng.choice([0.01, 0.02, 0.03, 0.04], n),
                                  rng.uniform(0.02, 0.1, n), frame_id="table")
    t_fast, res = timed(lambda: check_collision(gs, scene))
    sub = gs[:50]
    t_naive, ref = timed(lambda: check_collision_naive(sub, scene), 1)
    assert np.array_equal(res.collision[:50], ref.collision) and np.array_equal(res.inner_count[:50], ref.inner_count)
    print(f"collision: {len(gs) / t_fast:,.0f} checks/s (1k grasps x {len(scene) // 1000}k points, "
          f"10 objects on a 0.6 m table); dense baseline {len(sub) / t_naive:,.0f} checks/s; "
          f"ratio {(len(gs) / t_fast) / (len(sub) / t_naive):.1f}x; "
          f"{res.collision.mean():.0%} colliding, {res.empty.mean():.0%} empty")

    gn = random_grasps(10_000, 0.1, rng, "camera")
    t_nms, kept = timed(lambda: pose_nms(gn))
    gsmall = gn[:1000]
    t_nms_naive, _ = timed(lambda: pose_nms_naive(gsmall), 1)
    t_nms_small, _ = timed(lambda: pose_nms(gsmall))
    print(f"pose NMS: {t_nms * 1e3:.1f} ms for 10k grasps ({len(kept)} kept); on 1k grasps "
          f"{t_nms_small * 1e3:.1f} ms vs naive loop {t_nms_naive * 1e3:.0f} ms, "
          f"ratio {t_nms_naive / t_nms_small:.0f}x")


if __name__ == "__main__":
    main()
