"""The reference evaluator's SDF (dex-net's SDFGen grid, its trilinear reads,
contact march and 27-point normals) against hand-checked values and the
literal one-point-at-a-time twins."""

import numpy as np
import pytest
import trimesh

from graspnet_ros import sdf as S

MUS = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2]


@pytest.fixture(scope="module")
def sphere():
    m = trimesh.creation.icosphere(subdivisions=4, radius=0.03)
    return m, S.build_sdf(m.vertices, m.faces)


@pytest.fixture(scope="module")
def box():
    m = trimesh.creation.box((0.09, 0.045, 0.03))
    m.apply_translation([0.01, -0.02, 0.005])
    return m, S.build_sdf(m.vertices, m.faces)


def _angle_deg(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.abs(np.sum(a * b, axis=-1)), 0, 1)))


def _plane_sdf(res=2.0 ** -10, offset=50.25, dims=(100, 100, 100)):
    """Signed distance to the plane x = (offset * res) on a grid at the origin:
    every value, weight and interpolation exact in binary."""
    i = np.arange(dims[0], dtype=np.float64)[:, None, None]
    data = np.broadcast_to((i - offset) * res, dims).copy()
    return S.GridSdf(data, np.zeros(3), res)


def test_grid_size_origin_and_spacing(box):
    mesh, sdf = box
    assert tuple(sdf.dims) == (100, 100, 100)
    # cell = largest side / (100 - 2 * 5), 6 significant digits as SDFGen prints it
    assert sdf.resolution == float(f"{np.float32(0.09) / np.float32(90):.6g}")
    assert sdf.resolution == pytest.approx(0.001, rel=1e-5)
    centre = (mesh.bounds[0] + mesh.bounds[1]) / 2
    np.testing.assert_allclose(sdf.origin, centre - 50 * 0.001, atol=1e-7)
    # nodes: negative inside, positive outside; near the surface |value| = distance to the nearest face
    node = np.round(sdf.to_grid(centre[None])[0]).astype(int)
    assert sdf.data[tuple(node)] == pytest.approx(-0.015, abs=1e-6)  # the sweep finds the nearest face here
    assert sdf.data[tuple(node + [0, 0, 13])] == pytest.approx(-0.002, abs=1e-6)
    assert sdf.data[tuple(node + [0, 0, 16])] == pytest.approx(0.001, abs=1e-6)
    assert sdf.data[0, 0, 0] > 0 and sdf.data[99, 99, 99] > 0
    assert (sdf.data < 0).sum() == pytest.approx(90 * 45 * 30, rel=0.1)


def test_round_significant_matches_text_round_trip():
    x = np.random.default_rng(0).normal(size=2000) * 10.0 ** np.random.default_rng(1).integers(-9, 6, 2000)
    expected = np.array([float(f"{v:.6g}") for v in x])
    assert np.array_equal(S.round_significant(x), expected)


def test_trilinear_matches_direct_evaluation_and_naive_twin(sphere):
    _, sdf = sphere
    rng = np.random.default_rng(2)
    coords = np.concatenate([rng.uniform(0, 99, (300, 3)), [[0, 0, 0], [99, 99, 99], [99.0, 3.5, 98.9999]]])
    fast = sdf.values(coords)
    naive = np.array([sdf.value_naive(c) for c in coords])
    np.testing.assert_array_equal(fast, naive)  # same corners, weights and summation order
    # a linear field is reproduced exactly by trilinear interpolation
    plane = _plane_sdf()
    np.testing.assert_allclose(plane.values(coords), (coords[:, 0] - 50.25) * plane.resolution, atol=1e-15)
    # near the sphere's surface the interpolated value is the distance to within a fraction of a cell
    d = rng.normal(size=(200, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pts = d * rng.uniform(0.028, 0.032, (200, 1))
    np.testing.assert_allclose(sdf.values(sdf.to_grid(pts)), np.linalg.norm(pts, axis=1) - 0.03,
                               atol=0.1 * sdf.resolution)
    # outside the grid: far (the reference estimates it, always above the surface threshold)
    assert np.isinf(sdf.values(np.array([[-0.5, 50, 50], [50, 100.0, 50]]))).all()


def test_zero_crossing_rejects_flat_faces():
    x1, x2, x3 = (np.array([[10.0 + s, 20.0, 30.0]]) for s in (0.0, 0.5, 1.0))
    line = S._zero_crossings(x1, np.array([0.001]), x2, np.array([0.0005]), x3, np.array([0.0]))
    assert np.isnan(line).all()  # exactly linear: quadratic coefficient 0 -> no contact
    y = lambda t: 1e-4 * (t - 0.3) * (t + 2.0)  # noqa: E731  a curved profile crossing at t = 0.3
    got = S._zero_crossings(x1, np.array([y(0.0)]), x2, np.array([y(0.5)]), x3, np.array([y(1.0)]))
    np.testing.assert_allclose(got[0], [10.3, 20.0, 30.0], atol=1e-12)
    assert np.allclose(got[0], S._zero_crossing_naive(x1[0], y(0.0), x2[0], y(0.5), x3[0], y(1.0)))
    # a crossing more than one unit beyond the first sample is rejected
    far = lambda t: 1e-4 * (t - 1.5) * (t + 2.0)  # noqa: E731
    assert np.isnan(S._zero_crossings(x1, np.array([far(0.0)]), x2, np.array([far(0.5)]), x3,
                                      np.array([far(1.0)]))).all()


def test_flat_face_has_no_contact_curved_face_has(sphere):
    plane = _plane_sdf()
    centre = plane.to_object(np.array([[40.0, 50.0, 50.0]]))
    found = S.close_jaws(plane, centre, [[1.0, 0, 0]], [0.02]).found
    assert not found.any()  # linear SDF along the jaw: every zero-crossing fit is rejected
    assert not S.close_jaws_naive(plane, centre[0], [1.0, 0, 0], 0.02)[0]
    # the same march crosses the sphere's curved surface
    sdf = sphere[1]
    contacts = S.close_jaws(sdf, np.zeros((1, 3)), [[1.0, 0, 0]], [0.1])
    assert contacts.found[0]
    np.testing.assert_allclose(np.abs(contacts.points[0, :, 0]), 0.03, atol=2e-4)


def test_normals_on_sphere_and_box(sphere, box):
    _, sdf = sphere
    rng = np.random.default_rng(3)
    d = rng.normal(size=(300, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    normals = sdf.surface_normals(sdf.to_grid(0.03 * d))
    assert not np.isnan(normals).any()
    angle = _angle_deg(normals, d)
    # the 27-point pattern is coarse and axis-aligned: a few degrees off the radial direction
    assert angle.max() < 15 and angle.mean() < 8
    assert _angle_deg(sdf.surface_normals(sdf.to_grid([[0.03, 0, 0]]))[0], np.array([1.0, 0, 0])) < 1e-6
    # an axis-aligned box face: exactly the face normal
    mesh, bsdf = box
    centre = (mesh.bounds[0] + mesh.bounds[1]) / 2
    top = centre + [0.004, -0.003, 0.015]
    assert _angle_deg(bsdf.surface_normals(bsdf.to_grid(top[None]))[0], np.array([0, 0, 1.0])) < 1e-6
    # off the surface: no normal
    assert np.isnan(sdf.surface_normals(sdf.to_grid([[0.0, 0, 0]]))).all()


def test_batched_normals_and_contacts_equal_naive_twins(sphere, box):
    rng = np.random.default_rng(4)
    for mesh, sdf in (sphere, box):
        pts = trimesh.sample.sample_surface(mesh, 60, seed=5)[0]
        batch = sdf.surface_normals(sdf.to_grid(pts))
        naive = np.array([sdf.surface_normal_naive(g) for g in sdf.to_grid(pts)])
        np.testing.assert_allclose(np.abs(np.sum(batch * naive, axis=1)), 1.0, atol=1e-9)
        n = 60
        centres = mesh.centroid + rng.normal(size=(n, 3)) * 0.01
        axes = rng.normal(size=(n, 3))
        widths = rng.uniform(0.02, 0.1, n)
        got = S.close_jaws(sdf, centres, axes, widths)
        for i in range(n):
            found, points, normals = S.close_jaws_naive(sdf, centres[i], axes[i], widths[i])
            assert found == got.found[i]
            if found:
                np.testing.assert_array_equal(points, got.points[i])
                np.testing.assert_allclose(np.abs(np.sum(normals * got.normals[i], axis=1)), 1.0, atol=1e-9)
        labels = S.friction_labels(got, MUS)
        assert set(np.unique(labels)) <= {-1.0, *MUS}
        assert (labels[~got.found] == -1).all()


def test_antipodal_labels_by_hand():
    points = np.array([[[0.0, 0, 0], [0.05, 0, 0]]] * 3)
    tilt = np.radians([5.0, 30.0, 60.0])
    n = np.stack([np.cos(tilt), np.sin(tilt), np.zeros(3)], axis=1)
    contacts = S.JawContacts(np.ones(3, bool), points, np.stack([n, np.tile([1.0, 0, 0], (3, 1))], axis=1))
    # arctan(mu) >= angle: 5 deg -> 0.2, 30 deg -> 0.6, 60 deg -> none (arctan 1.2 = 50.2 deg)
    np.testing.assert_array_equal(S.friction_labels(contacts, MUS), [0.2, 0.6, -1.0])


def test_text_file_round_trip_and_disk_cache(box, tmp_path):
    mesh, sdf = box
    path = tmp_path / "textured.sdf"
    S.write_sdf_text(sdf, path)
    back = S.read_sdf_text(path)
    np.testing.assert_array_equal(back.data, sdf.data)
    np.testing.assert_array_equal(back.origin, sdf.origin)
    assert back.resolution == sdf.resolution
    cache = tmp_path / "cache"
    built = S.load_or_build_sdf(mesh.vertices, mesh.faces, None, cache=cache)
    assert len(list(cache.glob("*.npz"))) == 1
    again = S.load_or_build_sdf(mesh.vertices, mesh.faces, None, cache=cache)
    np.testing.assert_array_equal(again.data, built.data)
    np.testing.assert_array_equal(built.data, sdf.data)
    # a dataset's own textured.sdf wins over building from the mesh
    S.write_sdf_text(_plane_sdf(dims=(4, 5, 6)), path)
    from_file = S.load_or_build_sdf(mesh.vertices, mesh.faces, path, cache=cache)
    assert tuple(from_file.dims) == (4, 5, 6)


def test_evaluator_keeps_float32_clipped_widths(tmp_path):
    from graspnet_ros.evaluation import EvalConfig, load_predictions
    from graspnet_ros.evaluation.frame import clip_widths

    row = np.zeros(17)
    row[1], row[2], row[3] = 0.3, 0.02, 0.02
    row[4:13] = np.eye(3).reshape(-1)
    np.save(tmp_path / "f32.npy", row[None].astype(np.float32))
    np.save(tmp_path / "f64.npy", row[None])
    # the reference clips in the dump's dtype: float32(0.1) for float32 dumps, 0.1 for float64 ones
    w32 = clip_widths(load_predictions(tmp_path / "f32.npy")).widths[0]
    w64 = clip_widths(load_predictions(tmp_path / "f64.npy")).widths[0]
    assert w32 == float(np.float32(0.1)) and w64 == 0.1
    assert EvalConfig().contact_normals == "dexnet"
    with pytest.raises(ValueError):
        EvalConfig(contact_normals="ray")


def test_sdfgen_distances_equal_loop_twin():
    # SDFGen's band and sweeps, compiled, against the literal loops on small grids (a sphere; a box whose
    # faces lie on grid lines), bit for bit
    for mesh in (trimesh.creation.icosphere(subdivisions=1, radius=0.03), trimesh.creation.box((0.04, 0.02, 0.02))):
        origin, dx = S.sdfgen_grid(mesh.vertices, dim=10, padding=2)
        fast = S._sdfgen_distances(mesh.vertices.astype(np.float32), mesh.faces.astype(np.int64), origin, dx,
                                   10, 10, 10, 1)
        naive = S.sdfgen_distances_naive(mesh.vertices, mesh.faces, origin, dx, (10, 10, 10))
        np.testing.assert_array_equal(fast, naive)
        assert fast.min() >= 0 and fast.max() > 2 * dx


def test_inside_parity_equals_sdfgen_loop_twin():
    # a sphere, and a box whose faces and edges lie exactly on grid lines (SDFGen's tie rules decide)
    boxm = trimesh.creation.box((0.04, 0.02, 0.02))
    for mesh in (trimesh.creation.icosphere(subdivisions=2, radius=0.03), boxm):
        origin, dx = S.sdfgen_grid(mesh.vertices, dim=24, padding=2)
        fast = S.crossing_parity(mesh.vertices, mesh.faces, origin, dx, (24, 24, 24))
        naive = S.crossing_parity_naive(mesh.vertices, mesh.faces, origin, dx, (24, 24, 24))
        np.testing.assert_array_equal(fast, naive)
        assert 0 < fast.sum() < fast.size
    origin = np.float32(-0.01) * np.ones(3, np.float32)
    fast = S.crossing_parity(boxm.vertices, boxm.faces, origin, np.float32(0.002), (12, 12, 12))
    np.testing.assert_array_equal(fast, S.crossing_parity_naive(boxm.vertices, boxm.faces, origin,
                                                                np.float32(0.002), (12, 12, 12)))
