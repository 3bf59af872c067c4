"""HU classification, wall areas and the tube volume element against hand calculation and Pappus."""

import numpy as np
import pytest

from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.composition import (COMPONENTS, HuThresholds, class_sums, tube_jacobian,
                                      wall_sample_areas_mm2)
from CTOPlaqueLib.contours import contour_area_mm2, mean_diameter_mm
from CTOPlaqueLib.crosssection import PolarGrid
from CTOPlaqueLib.errors import CTOPlaqueInputError


@pytest.mark.parametrize("hu, expected", [
    (-31, "unclassified"), (-30, "necrotic_core"), (75, "necrotic_core"), (75.5, "necrotic_core"),
    (76, "fibrofatty"), (130, "fibrofatty"), (131, "fibrous"), (350, "fibrous"), (351, "dense_calcium"),
    (2000, "dense_calcium"),
])
def test_seed_paper_hu_bins(hu, expected):
    names = ("unclassified",) + COMPONENTS
    assert names[HuThresholds().classify(np.array([hu]))[0]] == expected


def test_thresholds_ranges_and_parsing():
    thresholds = HuThresholds.parse("-30,76,131,351")
    assert thresholds.ranges_hu() == {"necrotic_core": [-30, 75], "fibrofatty": [76, 130],
                                      "fibrous": [131, 350], "dense_calcium": [351, None]}
    with pytest.raises(CTOPlaqueInputError):
        HuThresholds.parse("-30,76,abc,351")
    with pytest.raises(CTOPlaqueInputError):
        HuThresholds((-30, 131, 76, 351))


def test_wall_areas_of_concentric_circles_sum_to_annulus():
    grid = PolarGrid.make(4.5, 0.05, 72)
    lumen = np.full((1, 72), 1.234)
    vessel = np.full((1, 72), 2.617)
    areas = wall_sample_areas_mm2(grid, lumen, vessel)
    assert areas.sum() == pytest.approx(np.pi * (2.617 ** 2 - 1.234 ** 2), rel=1e-3)
    assert contour_area_mm2(vessel)[0] == pytest.approx(np.pi * 2.617 ** 2, rel=1e-12)
    assert mean_diameter_mm(vessel)[0] == pytest.approx(2 * 2.617)


def test_class_sums_counts_each_class():
    classes = np.array([[[0, 1], [4, 4]], [[2, 3], [3, 3]]], np.uint8)
    weights = np.array([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])
    assert class_sums(classes, weights).tolist() == [[1, 2, 0, 0, 7], [0, 0, 5, 21, 0]]


@pytest.mark.parametrize("facing", ["inner", "outer"])
def test_tube_jacobian_gives_pappus_volume_of_a_half_disc_swept_round_a_bend(facing):
    """A half disc (radius a) swept along a circular centerline (radius R, angle phi) has volume
    A * phi * (R -/+ 4a/(3 pi)) by Pappus: the centroid runs inside or outside the bend."""
    bend_radius, sweep, disc_radius = 8.0, np.pi / 2, 2.5
    t = np.linspace(0, sweep, 60)
    centerline = sample_centerline(np.stack([bend_radius * np.cos(t), bend_radius * np.sin(t), 0 * t], 1), 0.1)
    grid = PolarGrid.make(4.5, 0.01, 360)
    index = np.arange(len(centerline.arc_mm))
    jacobian = tube_jacobian(grid, centerline, index)
    # angle of the bend's centre direction (the curvature vector) in each section's frame
    kappa = centerline.curvature_vectors
    centre_angle = np.arctan2(np.sum(kappa * centerline.normals_v, 1), np.sum(kappa * centerline.normals_u, 1))
    towards_centre = np.cos(grid.angles_rad[None, :] - centre_angle[:, None]) > 0
    keep = towards_centre if facing == "inner" else ~towards_centre
    vessel = np.where(keep, disc_radius, 0.0)
    areas = wall_sample_areas_mm2(grid, np.zeros_like(vessel), vessel)
    slabs = np.full(len(index), centerline.step_mm)
    slabs[[0, -1]] *= 0.5
    volume = np.sum(np.sum(areas * jacobian, axis=(1, 2)) * slabs)
    centroid_offset = 4 * disc_radius / (3 * np.pi) * (-1 if facing == "inner" else 1)
    pappus = 0.5 * np.pi * disc_radius ** 2 * centerline.length_mm / bend_radius * (bend_radius + centroid_offset)
    assert volume == pytest.approx(pappus, rel=0.01)


def test_text_cells_that_spreadsheets_would_run_are_neutralized():
    from CTOPlaqueLib.export import spreadsheet_safe

    assert [spreadsheet_safe(v) for v in ("=SUM(A1)", "+1", "-2", "@x", "LAD-1", -3.5)] == [
        "'=SUM(A1)", "'+1", "'-2", "'@x", "LAD-1", -3.5]
