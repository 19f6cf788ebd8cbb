"""Force-closure labels on analytic shapes."""

import numpy as np
import pytest
import trimesh

from graspnet_ros.force_closure import (ANNOTATION_MUS, BENCHMARK_MUS, MeshRaycaster,
                                        antipodal_angle, find_contacts, force_closure_labels,
                                        force_closure_naive, grasp_contacts, labels_from_angles,
                                        read_sdf_resolution, sdf_cell_size, sdf_surface_normal_naive,
                                        sdf_surface_normals)
from graspnet_ros.grasp import GraspGroup

# A wide box: x faces at +-0.03, y faces at +-0.08, top at z = +0.05.
BOX = MeshRaycaster.from_trimesh(trimesh.creation.box((0.06, 0.16, 0.10)))


def top_grasp(theta=0.0, width=0.1, depth=0.02, point=(0.0, 0.0, 0.05)):
    """Approach from above (-z), jaws closing along x turned by theta about the approach,
    so the closing line makes the angle theta with the x faces' normals."""
    x, y = np.array([0, 0, -1.0]), np.array([np.cos(theta), np.sin(theta), 0.0])
    R = np.stack([x, y, np.cross(x, y)], axis=1)
    return GraspGroup.from_components(R[None], [point], width, depth)


def test_square_grasp_is_force_closure_at_smallest_mu():
    assert force_closure_labels(top_grasp(), BOX)[0] == pytest.approx(0.1)
    assert force_closure_labels(top_grasp(), BOX, BENCHMARK_MUS)[0] == pytest.approx(0.2)


@pytest.mark.parametrize("deg", [3, 8, 12, 17, 22, 27, 31, 36, 41, 44])
def test_tilted_grasp_passes_exactly_from_tan_theta(deg):
    theta = np.deg2rad(deg)
    label = force_closure_labels(top_grasp(theta), BOX)[0]
    expected = ANNOTATION_MUS[np.searchsorted(ANNOTATION_MUS, np.tan(theta))]
    assert label == pytest.approx(expected)
    # and the per-mu decision matches the textbook test at every grid value
    contacts = find_contacts(BOX, np.array([[0, 0, 0.03]]), top_grasp(theta).closing_axes, [0.1])
    for mu in ANNOTATION_MUS:
        naive = force_closure_naive(*contacts.points[0], *contacts.normals[0], mu)
        assert naive == (mu >= label)


def test_steeper_than_largest_mu_is_not_force_closure():
    assert force_closure_labels(top_grasp(np.deg2rad(47)), BOX)[0] == -1


def test_contacts_lie_on_the_faces():
    contacts = find_contacts(BOX, np.array([[0, 0, 0.03]]), np.array([[1.0, 0, 0]]), [0.1])
    np.testing.assert_allclose(contacts.points[0], [[-0.03, 0, 0.03], [0.03, 0, 0.03]], atol=1e-6)
    np.testing.assert_allclose(np.abs(contacts.normals[0]), [[1, 0, 0], [1, 0, 0]], atol=1e-6)


def test_no_contact_cases_are_minus_one():
    # fingers too narrow to reach around the box: jaws start inside it
    assert force_closure_labels(top_grasp(width=0.04), BOX)[0] == -1
    # grasp in empty air beside the box
    assert force_closure_labels(top_grasp(point=(0.3, 0, 0.05)), BOX)[0] == -1


def test_labels_from_angles_grid_edges():
    mus = np.array([0.2, 0.4])
    angles = np.array([0.0, np.arctan(0.2), np.arctan(0.2) + 1e-9, np.arctan(0.4), 1.0, np.nan])
    np.testing.assert_array_equal(labels_from_angles(angles, mus), [0.2, 0.2, 0.4, 0.4, -1, -1])


def test_batch_equals_single_on_a_sphere():
    mesh = MeshRaycaster.from_trimesh(trimesh.creation.icosphere(subdivisions=4, radius=0.04))
    rng = np.random.default_rng(0)
    n = 200
    g = GraspGroup.from_approach(rng.normal(0, 0.01, (n, 3)), rng.normal(size=(n, 3)),
                                 rng.uniform(0, np.pi, n), 0.0, 0.1)
    batch = force_closure_labels(g, mesh)
    single = np.array([force_closure_labels(g[i], mesh)[0] for i in range(n)])
    np.testing.assert_array_equal(batch, single)
    # a sphere grasped through (near) its centre is nearly antipodal
    assert (batch[np.linalg.norm(g.translations, axis=1) < 0.003] <= 0.2).all()
    contacts = find_contacts(mesh, g.translations, g.closing_axes, g.widths)
    angle = antipodal_angle(contacts)
    assert contacts.found.sum() > n // 2
    assert np.isfinite(angle[contacts.found]).all() and np.isnan(angle[~contacts.found]).all()
    assert (batch[~contacts.found] == -1).all()


def test_mesh_errors():
    with pytest.raises(ValueError, match="no vertices or no faces"):
        MeshRaycaster(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        MeshRaycaster(np.full((3, 3), np.nan), np.array([[0, 1, 2]]))


# -- reference-style (SDF) contact normals -------------------------------------------------

def _angle_deg(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.abs(np.sum(a * b, axis=-1)), 0, 1)))


def _pattern_normal_of_plane(normal, offset=0.0, radius=1.5):
    """The reference's pattern fit on an ideal plane (distances analytic, cell = 1)."""
    steps = np.array([-radius, 0.0, radius])
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), -1).reshape(-1, 3)
    norm = np.linalg.norm(grid, axis=1, keepdims=True)
    grid = np.where(norm > 0, radius * grid / np.where(norm > 0, norm, 1), 0)
    sel = grid[np.abs(grid @ normal + offset) < np.sqrt(2) / 2]
    return np.linalg.svd((sel - sel.mean(0)).T)[0][:, 2]


def test_sdf_cell_defaults_to_sdfgen_grid():
    # dex-net SDFGen, dim 100, padding 5: largest bounding-box side / 90
    assert BOX.sdf_cell == pytest.approx(0.16 / 90)
    assert sdf_cell_size(BOX.vertices, dim=50, padding=5) == pytest.approx(0.16 / 40)
    mesh = MeshRaycaster.from_trimesh(trimesh.creation.box((0.06, 0.16, 0.10)), sdf_cell=0.002)
    assert mesh.sdf_cell == 0.002
    with pytest.raises(ValueError, match="positive length"):
        MeshRaycaster(BOX.vertices, BOX.faces, sdf_cell=0.0)
    with pytest.raises(ValueError, match="exceed twice the padding"):
        sdf_cell_size(BOX.vertices, dim=10, padding=5)
    with pytest.raises(ValueError, match="normals must be one of"):
        force_closure_labels(top_grasp(), BOX, normals="smooth")


def test_read_sdf_resolution(tmp_path):
    path = tmp_path / "textured.sdf"
    path.write_text("100 100 100\n-0.1 -0.1 -0.1\n0.00125\n0.5\n")
    assert read_sdf_resolution(path) == pytest.approx(0.00125)
    path.write_text("100 100 100\n-0.1 -0.1 -0.1\n")
    with pytest.raises(ValueError, match="not a dex-net SDF"):
        read_sdf_resolution(path)


def test_sdf_normals_exact_on_grid_aligned_faces_away_from_edges():
    # face centres of the box: the pattern's selection is symmetric, the fit exact
    pts = np.array([[0.03, 0, 0], [-0.03, 0.02, 0.01], [0, 0.08, 0], [0.01, 0, 0.05], [0, -0.03, -0.05]])
    normals = sdf_surface_normals(BOX, pts)
    np.testing.assert_allclose(np.abs(normals), [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]],
                               atol=1e-9)


@pytest.mark.parametrize("tilt_deg", [0, 10, 20, 30, 45])
def test_sdf_normals_on_a_tilted_face_follow_the_reference_pattern(tilt_deg):
    # a big box turned about y: its top face's normal is tilted by tilt_deg from z
    t = np.radians(tilt_deg)
    R = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    box = trimesh.creation.box((0.2, 0.2, 0.2))
    box.apply_transform(np.block([[R, np.zeros((3, 1))], [np.zeros((1, 3)), 1]]))
    cell = 0.002
    mesh = MeshRaycaster.from_trimesh(box, sdf_cell=cell)
    n_true = R[:, 2]
    point = 0.1 * n_true  # top face centre
    got = sdf_surface_normals(mesh, point[None])[0]
    expected = _pattern_normal_of_plane(n_true)
    assert _angle_deg(got, expected) < 0.05
    # the quantisation the reference has: exact along the axes and their 45-degree diagonals only
    error = _angle_deg(got, n_true)
    if tilt_deg in (0, 45):
        assert error < 0.05
    else:
        assert 0.2 < error < 8.0


def test_sdf_normals_on_a_cylinder_side():
    cyl = trimesh.creation.cylinder(radius=0.03, height=0.2, sections=512)
    mesh = MeshRaycaster.from_trimesh(cyl, sdf_cell=0.0005)
    az = np.radians(np.arange(0, 360, 7.5))
    radial = np.stack([np.cos(az), np.sin(az), np.zeros_like(az)], axis=1)
    got = sdf_surface_normals(mesh, 0.03 * radial)
    err = _angle_deg(got, radial)
    on_axes = np.isclose(np.mod(np.degrees(az), 45), 0)  # the pattern's symmetric directions
    assert err[on_axes].max() < 0.5
    # elsewhere the tangent-plane quantisation of the reference (see the tilted-face test)
    expected = np.array([_pattern_normal_of_plane(n) for n in radial])
    assert np.median(_angle_deg(got, expected)) < 1.0
    assert err.max() < 16.0 and 1.0 < err.mean() < 8.0


def test_sdf_normals_smooth_a_box_edge():
    cell = BOX.sdf_cell
    # top face (z = 0.05) next to the +x edge: the pattern reaches over the edge
    near = np.array([[0.03 - 0.3 * cell, 0.0, 0.05]])
    n = sdf_surface_normals(BOX, near)[0]
    tilt = _angle_deg(n, np.array([0, 0, 1.0]))
    assert 5.0 < tilt < 45.0  # tilted towards the side face, not past the bisector
    assert abs(n[1]) < 1e-9  # within the plane of the two face normals
    assert n[0] * n[2] > 0  # towards +x
    # 3 cells in from the edge the fit sees only the top face
    far = np.array([[0.03 - 3 * cell, 0.0, 0.05]])
    assert _angle_deg(sdf_surface_normals(BOX, far)[0], np.array([0, 0, 1.0])) < 1e-6


def test_sdf_normals_batch_equals_naive():
    rng = np.random.default_rng(1)
    box = trimesh.creation.box((0.05, 0.07, 0.04))
    box.apply_transform(trimesh.transformations.random_rotation_matrix(rng.random(3)))
    shapes = [box, trimesh.creation.icosphere(subdivisions=4, radius=0.03)]
    for shape in shapes:
        mesh = MeshRaycaster.from_trimesh(shape)
        pts, _ = trimesh.sample.sample_surface(shape, 40, seed=3)
        batch = sdf_surface_normals(mesh, pts)
        naive = np.array([sdf_surface_normal_naive(mesh, p) for p in pts])
        np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-9)
        assert _angle_deg(batch, naive).max() < 1e-4


def test_sdf_normal_labels_batch_equals_single_and_point_outward():
    rng = np.random.default_rng(2)
    box = trimesh.creation.box((0.05, 0.07, 0.04))
    box.apply_transform(trimesh.transformations.random_rotation_matrix(rng.random(3)))
    mesh = MeshRaycaster.from_trimesh(box)
    n = 120
    g = GraspGroup.from_approach(rng.normal(0, 0.01, (n, 3)), rng.normal(size=(n, 3)),
                                 rng.uniform(0, np.pi, n), 0.0, 0.1)
    batch = force_closure_labels(g, mesh, BENCHMARK_MUS, normals="sdf")
    single = np.array([force_closure_labels(g[i], mesh, BENCHMARK_MUS, normals="sdf")[0] for i in range(n)])
    np.testing.assert_array_equal(batch, single)
    contacts = grasp_contacts(g, mesh, normals="sdf")
    face = grasp_contacts(g, mesh)
    np.testing.assert_array_equal(contacts.found, face.found)
    np.testing.assert_array_equal(contacts.points, face.points)
    # outward: against each jaw's motion (jaw 1 moves +y, jaw 2 -y)
    ok = contacts.found
    y = g.closing_axes[ok]
    assert (np.einsum("ij,ij->i", contacts.normals[ok, 0], y) <= 0).all()
    assert (np.einsum("ij,ij->i", contacts.normals[ok, 1], -y) <= 0).all()
    # labels from the SDF normals differ from the exact ones by the reference's quantisation only
    exact = force_closure_labels(g, mesh, BENCHMARK_MUS)
    assert ((batch > 0) == (exact > 0)).mean() > 0.8


def test_sdf_normal_labels_equal_face_labels_on_grid_aligned_faces():
    for deg in (3, 12, 22, 31, 41):
        g = top_grasp(np.deg2rad(deg))
        assert force_closure_labels(g, BOX, normals="sdf")[0] == force_closure_labels(g, BOX)[0]
