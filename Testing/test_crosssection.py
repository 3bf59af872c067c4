"""Polar cross-section sampling (crosssection.py) where the truth is exact: trilinear interpolation of a field linear
in RAS reproduces it at every sample, on an oblique, anisotropic voxel grid."""

import numpy as np
import pytest
from scipy import ndimage

from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.crosssection import OUTSIDE_VOLUME_HU, PolarGrid, interpolate_kji, sample_sections_orders
from CTOPlaqueLib.volume_io import Volume

GRADIENT_HU_PER_MM = np.array([3.0, -2.0, 5.0])


def _oblique_ramp() -> Volume:
    """40 x 44 x 48 voxels of 0.4 x 0.45 x 0.6 mm, the axes rotated by 30 degrees about S and tilted, holding
    100 + GRADIENT_HU_PER_MM . RAS at every voxel centre."""
    angle = np.radians(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    tilt = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(0.2), -np.sin(0.2)], [0.0, np.sin(0.2), np.cos(0.2)]])
    ijk_to_ras = np.eye(4)
    ijk_to_ras[:3, :3] = tilt @ rotation @ np.diag([0.4, 0.45, 0.6])
    ijk_to_ras[:3, 3] = [-5.0, 3.0, 7.0]
    k, j, i = np.meshgrid(np.arange(48), np.arange(44), np.arange(40), indexing="ij")
    ras = np.stack([i, j, k], axis=-1) @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3]
    return Volume((100.0 + ras @ GRADIENT_HU_PER_MM).astype(np.float32), ijk_to_ras)


def test_samples_of_a_linear_field_are_its_values_at_the_polar_positions():
    """Every sample of the sections of an oblique course equals the field at c + r (cos(theta) U + sin(theta) V),
    to float32 rounding; samples beyond the volume read OUTSIDE_VOLUME_HU."""
    volume = _oblique_ramp()
    centre = volume.ijk_to_ras[:3, :3] @ np.array([20.0, 22.0, 24.0]) + volume.ijk_to_ras[:3, 3]
    course = sample_centerline(centre + np.outer(np.linspace(-4.0, 4.0, 5), [0.3, 0.5, 0.8]), 0.5)
    grid = PolarGrid.make(max_radius_mm=3.0, radial_step_mm=0.25, angle_count=12)
    samples, = sample_sections_orders(volume, course, grid, (1,))
    directions = (np.cos(grid.angles_rad)[None, :, None] * course.normals_u[:, None, :]
                  + np.sin(grid.angles_rad)[None, :, None] * course.normals_v[:, None, :])
    positions = course.points_ras[:, None, None, :] + directions[:, :, None, :] * grid.radii_mm[None, None, :, None]
    np.testing.assert_allclose(samples, 100.0 + positions @ GRADIENT_HU_PER_MM, atol=1e-3)
    far = sample_centerline(np.array([[200.0, 0.0, 0.0], [201.0, 0.0, 0.0]]), 0.5)
    assert np.all(sample_sections_orders(volume, far, grid, (1, 0))[1] == OUTSIDE_VOLUME_HU)


def _positions_at_the_edges(shape, rng) -> np.ndarray:
    """(3, N) voxel indices k, j, i over and beyond a grid of ``shape``: random ones from 1.5 voxels before the first
    centre to 1.5 after the last, and on each axis exactly on the first and last centres, half-way between centres
    (the nearest voxel's ties), a hair inside and outside the first and last centres, and between the last centre
    and the grid's edge (n - 1 < x <= n - 0.5, outside for map_coordinates' mode "constant")."""
    count = 3000
    positions = np.stack([rng.uniform(-1.5, n + 0.5, count) for n in shape])
    for axis, n in enumerate(shape):
        special = np.array([0.0, n - 1.0, 0.5, n - 1.5, 1e-12, -1e-12, n - 1 - 1e-12, n - 1 + 1e-12, n - 0.75,
                            n - 0.5, -0.5, -0.25])
        chosen = rng.random(count) < 0.4
        positions[axis, chosen] = rng.choice(special, int(chosen.sum()))
    return positions


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
@pytest.mark.parametrize("shape", [(6, 7, 8), (4, 1, 5)])
def test_interpolation_equals_scipy_map_coordinates(dtype, shape):
    """interpolate_kji gives scipy.ndimage.map_coordinates' values (mode "constant", no prefilter, float32 out), the
    independent implementation it replaces, at every position: inside, on the first and last voxel centres, at the
    nearest voxel's ties, outside, and between the last centre and the grid's edge (outside): the nearest voxel's
    value (order 0) and the trilinear value (order 1) bit for bit, on int16 and float32 volumes, a strided view and
    an axis of one voxel."""
    rng = np.random.default_rng(7)
    array = rng.normal(40.0, 400.0, shape).astype(dtype)
    positions = _positions_at_the_edges(shape, rng)
    for order, sampled in ((0, array), (1, array), (1, array[:, ::-1])):  # and a strided view
        expected = ndimage.map_coordinates(sampled, positions, order=order, mode="constant", cval=OUTSIDE_VOLUME_HU,
                                           prefilter=False, output=np.float32)
        np.testing.assert_array_equal(interpolate_kji(sampled, positions, order, OUTSIDE_VOLUME_HU), expected)
    assert np.count_nonzero(expected == OUTSIDE_VOLUME_HU) > 500 and np.count_nonzero(expected != OUTSIDE_VOLUME_HU)
