"""Centerline sampling, frames and projection against analytic curves."""

import numpy as np
import pytest

from CTOPlaqueLib.centerline import project_onto_centerline, sample_centerline
from CTOPlaqueLib.errors import CTOPlaqueInputError


def _circle_points(radius_mm, angle_rad, count):
    t = np.linspace(0.0, angle_rad, count)
    return np.stack([radius_mm * np.cos(t), radius_mm * np.sin(t), np.zeros_like(t)], axis=1)


def test_arc_length_and_uniform_step_on_a_circle():
    radius, angle = 20.0, np.pi / 2
    centerline = sample_centerline(_circle_points(radius, angle, 40), step_mm=0.25)
    assert centerline.length_mm == pytest.approx(radius * angle, abs=2e-3)
    steps = np.linalg.norm(np.diff(centerline.points_ras, axis=0), axis=1)
    assert steps.max() <= 0.25 + 1e-9
    assert np.ptp(steps) < 1e-3


def test_curvature_vector_points_to_centre_with_magnitude_one_over_radius():
    radius = 8.0
    centerline = sample_centerline(_circle_points(radius, np.pi, 60), step_mm=0.2)
    inner = slice(10, -10)  # natural spline ends have zero curvature by construction
    magnitude = np.linalg.norm(centerline.curvature_vectors[inner], axis=1)
    assert magnitude == pytest.approx(np.full_like(magnitude, 1 / radius), rel=0.01)
    to_centre = -centerline.points_ras[inner] / radius
    cosine = np.sum(to_centre * centerline.curvature_vectors[inner], axis=1) / magnitude
    assert cosine.min() > 0.9999


def test_rotation_minimizing_frame_does_not_twist_on_a_planar_curve():
    """On a planar curve the rotation-minimizing frame keeps one axis along the plane normal."""
    centerline = sample_centerline(_circle_points(10.0, 1.5 * np.pi, 80), step_mm=0.25)
    frame = np.stack([centerline.tangents, centerline.normals_u, centerline.normals_v], axis=1)
    gram = frame @ frame.transpose(0, 2, 1)
    assert np.abs(gram - np.eye(3)).max() < 1e-9
    normal_component = np.abs(centerline.normals_u[:, 2])
    start = normal_component[0]
    assert np.abs(normal_component - start).max() < 1e-6


def test_rotation_minimizing_frame_on_a_helix_has_minimal_twist():
    """Along a helix, an RMF's angular velocity about the tangent is zero: dU/ds . V = 0."""
    t = np.linspace(0, 4 * np.pi, 200)
    helix = np.stack([5 * np.cos(t), 5 * np.sin(t), 2 * t], axis=1)
    centerline = sample_centerline(helix, step_mm=0.1)
    derivative_u = np.gradient(centerline.normals_u, centerline.arc_mm, axis=0)
    twist = np.sum(derivative_u * centerline.normals_v, axis=1)
    assert np.abs(twist[5:-5]).max() < 2e-3


def test_projection_of_a_point_beside_a_straight_line():
    centerline = sample_centerline([[0, 0, 0], [0, 0, 40]], step_mm=0.25)
    arc_mm, distance_mm = project_onto_centerline(centerline, [3.0, 4.0, 12.34])
    assert arc_mm == pytest.approx(12.34, abs=1e-9)
    assert distance_mm == pytest.approx(5.0, abs=1e-9)


@pytest.mark.parametrize("points, message", [
    ([[0, 0, 0]], "at least two points"),
    ([[0, 0, 0], [0, 0, 0], [1, 0, 0]], "same position"),
])
def test_invalid_centerlines_are_rejected(points, message):
    with pytest.raises(CTOPlaqueInputError, match=message):
        sample_centerline(points)
