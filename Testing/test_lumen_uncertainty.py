"""Issue 26: how uncertain the lumen area next to the caps is under the image's noise
(quality.lumen_area_uncertainty_measures), and its warning.

A narrow lumen (1 mm beside a 60% stenosis) only 100-150 HU brighter than its plaque lining has an edge that noise
moves by noise / slope; 0.05 mm of its radius is 10% of its area. The phantoms of test_lumen_beside_plaque.py are
analysed on the true centerline and landmarks, and one of them again with its noise doubled.
"""

from dataclasses import replace

import numpy as np
import pytest
from conftest import analyze_on_true_centerline, generated_phantom
from test_lumen_beside_plaque import CASES
from test_section_view import CLEAN_QUALITY

from CTOPlaqueLib.crosssection import OUTSIDE_VOLUME_HU, PolarGrid
from CTOPlaqueLib.export import lesion_document, results_rows
from CTOPlaqueLib.quality import (MAX_LUMEN_AREA_UNCERTAINTY, MAX_LUMEN_AREA_UNCERTAINTY_FRACTION, image_noise_sd_hu,
                                  is_reviewed, lumen_area_uncertainty_measures, quality_warnings, warning_kinds)

NOISE_SD_HU = 20.0
# White noise per voxel, sampled trilinearly at positions spread over the voxels, keeps E[sum of the 8 weights^2] =
# (2/3)^3 of its variance: 0.544 of its standard deviation (on each axis the weights t and 1 - t, E[t^2 + (1-t)^2] =
# 2/3 for t uniform).
INTERPOLATED_NOISE_FRACTION = (2.0 / 3.0) ** 1.5
SIDES = (("proximal", "before P"), ("distal", "after D"))


def _quality(spec):
    return analyze_on_true_centerline(generated_phantom(spec)).quality


def test_image_noise_is_the_interpolated_white_noise():
    """The noise read off the fat's dark flank is the phantom's 20 HU white noise as the polar samples carry it."""
    spec = CASES["stenosis-60-blunt"]
    assert spec.noise_sd_hu == NOISE_SD_HU and spec.noise_texture == "white"
    assert _quality(spec)["lumen_noise_sd_hu"] == pytest.approx(INTERPOLATED_NOISE_FRACTION * NOISE_SD_HU, rel=0.12)


def test_the_noise_counts_no_sample_outside_the_volume():
    """Polar samples of fat at -100 HU under 10 HU white noise, a quarter of every ring a vein at 40 HU and a fifth of
    the sections outside the volume (OUTSIDE_VOLUME_HU, as the analysis samples a course that leaves it): the noise
    read off the fat's dark flank is the 10 HU (within 3%: about 70 000 samples below the fat level). Counted, the
    samples outside the volume read 20.5 HU."""
    grid = PolarGrid.make()
    fat_hu, sd_hu = -100.0, 10.0
    samples_hu = np.random.default_rng(3).normal(fat_hu, sd_hu, (100, len(grid.angles_rad), len(grid.radii_mm)))
    samples_hu[:, :len(grid.angles_rad) // 4] += 140.0
    samples_hu[:20] = OUTSIDE_VOLUME_HU
    assert image_noise_sd_hu(samples_hu.astype(np.float32), grid, fat_hu) == pytest.approx(sd_hu, rel=0.03)


def test_doubled_noise_doubles_the_uncertainty_and_warns_on_both_sides():
    """The same lesion under 40 HU noise: the lumen edge falls about as steeply (within 15%: the contour lies on the
    slope's peaks, which noise raises, +6..+11% here), the noise reads twice as much (within 10%), so each side's
    uncertainty doubles (within 20%) and rises above the cut; one warning names both sides, and the results table
    shows each side's figure."""
    spec = CASES["stenosis-60-blunt"]
    quiet, noisy = _quality(spec), _quality(replace(spec, noise_sd_hu=2.0 * NOISE_SD_HU))
    assert noisy["lumen_noise_sd_hu"] / quiet["lumen_noise_sd_hu"] == pytest.approx(2.0, rel=0.1)
    for side, _ in SIDES:
        slope_ratio = noisy[f"{side}_lumen_edge_slope_hu_per_mm"] / quiet[f"{side}_lumen_edge_slope_hu_per_mm"]
        assert slope_ratio == pytest.approx(1.0, rel=0.15)
        ratio = noisy[f"{side}_lumen_area_uncertainty_fraction"] / quiet[f"{side}_lumen_area_uncertainty_fraction"]
        assert ratio == pytest.approx(2.0, rel=0.2)
        assert noisy[f"{side}_lumen_area_uncertainty_fraction"] > MAX_LUMEN_AREA_UNCERTAINTY
    result = analyze_on_true_centerline(generated_phantom(replace(spec, noise_sd_hu=2.0 * NOISE_SD_HU)))
    uncertain = [warning for warning in result.warnings if "the lumen area is uncertain" in warning]
    assert len(uncertain) == 1 and all(words in uncertain[0] for _, words in SIDES)
    rows = {row["Measurement"]: row["Value"] for row in results_rows(lesion_document(result, "noisy", "noisy", {}))}
    for side, words in SIDES:
        shown = [value for label, value in rows.items() if label.startswith("Quality: lumen area uncertainty")
                 and words in label]
        assert shown == [pytest.approx(100 * noisy[f"{side}_lumen_area_uncertainty_fraction"])]


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_warning_where_the_lumen_holds_its_target(name):
    """The lining cases whose lumen area holds 10% (test_lumen_beside_plaque.py) are measured, below the cut, and
    not warned."""
    result = analyze_on_true_centerline(generated_phantom(CASES[name]))
    for side, _ in SIDES:
        assert 0.0 < result.quality[f"{side}_lumen_area_uncertainty_fraction"] <= MAX_LUMEN_AREA_UNCERTAINTY
    assert not [warning for warning in result.warnings if "the lumen area is uncertain" in warning]


def test_the_warning_is_reviewed_where_an_edit_covers_its_window():
    """The uncertainty is that of the mean lumen area 2-5 mm before P (P at 20 mm, sections 0.5 mm apart): an edit of
    the sections at 2 mm before P alone does not answer it, one over the whole window does."""
    landmarks_mm = {"S": 8.0, "P": 20.0, "D": 40.0, "E": 48.0}
    quality = dict(CLEAN_QUALITY, proximal_lumen_area_uncertainty_fraction=0.2, lumen_noise_sd_hu=10.0)
    raised = warning_kinds(quality)
    assert raised == ["lumen_area_uncertainty"]
    for edited_mm, reviewed in (([[17.75, 18.25]], False), ([[15.0, 18.0]], True)):
        warnings = quality_warnings(quality, landmarks_mm, edited_mm, 0.5, raised)
        assert [is_reviewed(warning) for warning in warnings] == [reviewed], edited_mm


def test_a_contour_with_no_fall_across_it_reads_the_largest_uncertainty():
    """A lumen contour across which the image does not fall (here a flat 300 HU plateau from the centre to 2 mm, fat
    with 10 HU white noise beyond) has no edge for noise to move: its uncertainty is MAX_LUMEN_AREA_UNCERTAINTY_FRACTION
    (1, the area's own size), not noise / 0 (review7: 1e7, shown as a billion percent). The same contour on a step at
    1 mm reads far less."""
    grid = PolarGrid.make()
    arc_mm = np.arange(0.0, 20.0, 0.5)
    landmarks_mm = {"S": 1.0, "P": 8.0, "D": 12.0, "E": 19.0}
    radii_mm = np.full((len(arc_mm), len(grid.angles_rad)), 1.0)
    rng = np.random.default_rng(3)
    fat_hu = -100.0
    for step_mm, expected in ((2.0, MAX_LUMEN_AREA_UNCERTAINTY_FRACTION), (1.0, None)):
        profile = np.where(grid.radii_mm < step_mm, 300.0, fat_hu)
        samples = profile + rng.normal(0.0, 10.0, (len(arc_mm), len(grid.angles_rad), len(grid.radii_mm)))
        samples[..., grid.radii_mm < step_mm] = 300.0
        measures = lumen_area_uncertainty_measures(arc_mm, landmarks_mm, samples, grid, radii_mm, fat_hu)
        for side, _ in SIDES:
            uncertainty = measures[f"{side}_lumen_area_uncertainty_fraction"]
            if expected is None:
                assert 0.0 < uncertainty < 0.1 * MAX_LUMEN_AREA_UNCERTAINTY_FRACTION
            else:
                assert uncertainty == expected
