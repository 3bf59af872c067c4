"""The shortcuts taken for speed give what the plain computation gives: the closed contour path against a dynamic
programme with back pointers, the contours found together against those found one by one, the profiles across a
contour against each ray's interpolation, the voxels left out of the k-d lookups against the distances of every
voxel, and the sharp-kernel measure on the analysis's own samples against its own sampling. (The contour segments
against the voxel-by-voxel definition: test_contours.test_segments_equal_every_voxel_labelled_by_its_nearest_section.)
"""

import numpy as np
import pytest
from conftest import analyze_on_true_centerline, phantom_for
from scipy.spatial import cKDTree

from CTOPlaqueLib.contours import (ContourParameters, bridged_from_fat_edges_mm, detect_contours, detect_lumen,
                                   detect_vessel_wall, fat_level_hu, optimal_closed_path, profiles_across_contour)
from CTOPlaqueLib.crosssection import PolarGrid, sample_sections
from CTOPlaqueLib.labelmap import box_voxels_near
from CTOPlaqueLib.reconstruction_kernel import lumen_edge_undershoot_hu
from CTOPlaqueLib.volume_io import Volume


def _closed_path_with_back_pointers(score: np.ndarray, max_jump: int, jump_penalty: float) -> np.ndarray:
    """optimal_closed_path's documented programme, one section at a time in plain loops: three turns, a back
    pointer per step and radius (the first best shift, i.e. the predecessor nearest the centre), the middle turn."""
    sections, angles, radii = score.shape
    paths = np.empty((sections, angles), int)
    for section in range(sections):
        steps = np.tile(score[section], (3, 1))
        total = steps[0].astype(float)
        pointers = []
        for step in range(1, 3 * angles):
            best, pointer = np.full(radii, -np.inf), np.zeros(radii, int)
            for radius in range(radii):
                for shift in range(-max_jump, max_jump + 1):
                    previous = radius + shift
                    if 0 <= previous < radii and total[previous] - jump_penalty * abs(shift) > best[radius]:
                        best[radius], pointer[radius] = total[previous] - jump_penalty * abs(shift), previous
            total = best + steps[step]
            pointers.append(pointer)
        path = [int(np.argmax(total))]
        for pointer in reversed(pointers):
            path.append(int(pointer[path[-1]]))
        paths[section] = path[::-1][angles:2 * angles]
    return paths


@pytest.mark.parametrize("seed", [0, 1])
def test_the_closed_path_is_the_dynamic_programme_with_back_pointers(seed):
    """Whole-number scores, many of them tied, and a penalty of 0.25 (exact in binary): ties decide most steps."""
    rng = np.random.default_rng(seed)
    score = rng.integers(0, 3, (5, 12, 9)).astype(float)
    assert np.array_equal(optimal_closed_path(score, 2, 0.25), _closed_path_with_back_pointers(score, 2, 0.25))


def test_the_voxels_left_out_of_the_lookup_are_farther_than_the_distance():
    """An oblique anisotropic grid and a curve through its box: every voxel within 1.5 mm of a curve point is kept
    (distances of every voxel centre by a k-d tree without bound), and most of the box is left out."""
    angle = np.radians(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    ijk_to_ras = np.eye(4)
    ijk_to_ras[:3, :3] = rotation @ np.diag([0.4, 0.45, 0.7])
    ijk_to_ras[:3, 3] = [5.0, -3.0, 2.0]
    low, high = np.array([3, 2, 1]), np.array([60, 47, 30])
    t = np.linspace(0.0, 1.0, 200)[:, None]
    curve_ijk = low + (high - low) * np.hstack([t, 0.5 + 0.3 * np.sin(6 * t), t ** 2])
    tree = cKDTree(curve_ijk @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3])
    near = box_voxels_near(ijk_to_ras, low, high, tree, 1.5)
    k, j, i = np.indices(near.shape).reshape(3, -1)
    voxels_ras = (np.stack([i, j, k], axis=1) + low) @ ijk_to_ras[:3, :3].T + ijk_to_ras[:3, 3]
    within = (tree.query(voxels_ras)[0] <= 1.5).reshape(near.shape)
    assert near.shape == tuple(high - low + 1)[::-1]
    assert within.any() and np.all(near[within])
    assert np.mean(near) < 0.5


def test_the_kernel_measure_on_the_analysis_samples_is_the_same():
    """The lumen-edge undershoot of the curved phantom from the analysis's samples (its radii not sampled again)
    equals the one sampled afresh, to the bit, and so does the one analyze_lesion computed from the samples it
    passed (review6: the test gave the measure fresh samples only)."""
    phantom = phantom_for("curved")
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    analysis = analyze_on_true_centerline(phantom)
    grid = analysis.grid
    samples_hu = sample_sections(volume, analysis.centerline, grid)
    arguments = (volume, analysis.centerline, analysis.lumen_radii_mm, grid.radial_step_mm, len(grid.angles_rad))
    fresh = lumen_edge_undershoot_hu(*arguments)
    assert fresh is not None
    assert lumen_edge_undershoot_hu(*arguments, sampled=(samples_hu, grid)) == fresh
    assert analysis.quality["lumen_edge_undershoot_hu"] == fresh  # what analyze_lesion passed it gives the same


def test_the_contours_found_together_are_those_found_one_by_one():
    """detect_contours smooths the profiles and measures the fat level once for both contours, and the wall search
    derives its probe bands and peaks once: on the curved phantom's sections, the lumen and wall equal detect_lumen
    and detect_vessel_wall called on their own (each measuring everything afresh), to the bit; and the fat level
    passed in is the one they measure."""
    phantom = phantom_for("curved")
    analysis = analyze_on_true_centerline(phantom)
    grid, step_mm = analysis.grid, analysis.settings.step_mm
    samples_hu = sample_sections(Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras), analysis.centerline, grid)
    has_lumen = analysis.detection.contrast & ~analysis.occluded_sections()
    lumen, wall = detect_contours(samples_hu, grid, has_lumen, step_mm)
    alone = detect_vessel_wall(samples_hu, grid, detect_lumen(samples_hu, grid, has_lumen, step_mm), step_mm)
    assert np.array_equal(lumen, detect_lumen(samples_hu, grid, has_lumen, step_mm))
    assert np.any(lumen > 0) and np.any(alone.fat_edge)
    assert np.array_equal(wall.fat_edge, alone.fat_edge) and np.array_equal(wall.resolved, alone.resolved)
    assert (wall.blur_sigma_mm, wall.fat_hu) == (alone.blur_sigma_mm, fat_level_hu(samples_hu, grid))
    bridged_mm = np.maximum(bridged_from_fat_edges_mm(alone.radii_mm, alone.fat_edge, step_mm),
                            lumen + ContourParameters().min_wall_mm)
    assert np.array_equal(wall.radii_mm, bridged_mm)


def test_the_profiles_across_a_contour_are_the_linear_interpolation_of_each_ray():
    """profiles_across_contour reads only the samples either side of each offset: against np.interp along each
    chosen ray's whole profile, on random samples, radii and rays, with the rays whose offsets leave the grid left
    out."""
    rng = np.random.default_rng(5)
    grid = PolarGrid.make(2.0, 0.05, 8)
    samples_hu = rng.normal(0.0, 100.0, (6, 8, len(grid.radii_mm))).astype(np.float32)
    radii_mm, rays = rng.uniform(0.1, 1.95, (6, 8)), rng.random((6, 8)) < 0.6
    offsets_mm = np.linspace(-0.4, 0.4, 17)
    expected = [np.interp(radius_mm + offsets_mm, grid.radii_mm, profile)
                for radius_mm, profile in zip(radii_mm[rays], samples_hu[rays])
                if grid.radii_mm[0] <= radius_mm - 0.4 and radius_mm + 0.4 <= grid.radii_mm[-1]]
    profiles = profiles_across_contour(samples_hu, grid, radii_mm, rays, offsets_mm)
    assert 0 < len(expected) < np.count_nonzero(rays)
    assert profiles.shape == (len(expected), len(offsets_mm))
    assert np.allclose(profiles, expected, rtol=0.0, atol=1e-9)


def test_a_closed_path_needs_a_radius_change_of_a_sample_at_least():
    with pytest.raises(ValueError, match="at least 1 sample"):
        optimal_closed_path(np.ones((1, 4, 3)), 0, 0.1)
