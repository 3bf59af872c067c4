"""The shortcuts taken for speed give what the plain computation gives: the closed contour path against a dynamic
programme with back pointers, the voxels left out of the k-d lookups against the distances of every voxel, and the
sharp-kernel measure on the analysis's own samples against its own sampling. (The contour segments against the
voxel-by-voxel definition: test_contours.test_segments_equal_every_voxel_labelled_by_its_nearest_section.)"""

import numpy as np
import pytest
from conftest import analyze_on_true_centerline, phantom_for
from scipy.spatial import cKDTree

from CTOPlaqueLib.contours import optimal_closed_path
from CTOPlaqueLib.crosssection import sample_sections
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
