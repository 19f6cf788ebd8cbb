"""Force-closure labels on analytic shapes."""

import numpy as np
import pytest
import trimesh

from graspnet_ros.force_closure import (ANNOTATION_MUS, BENCHMARK_MUS, MeshRaycaster,
                                        antipodal_angle, find_contacts, force_closure_labels,
                                        force_closure_naive, labels_from_angles)
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
