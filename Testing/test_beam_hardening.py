"""Beam hardening beside dense calcium, and the outer-wall contour closing in on a dark region in the plaque.

Truth: a hand-built wall contour with a known narrowing; the phantom's rim against its own definition
(depth x exp(-d / decay) beside calcium, nothing far away); the phantoms' analytic plaque volume and the
written image's composition in the true wall, with a rim (phantom.PhantomSpec.beam_hardening_hu).
"""

import dataclasses

import numpy as np
import pytest
from conftest import COLLAPSE_WARNING, analyze_from_two_seeds, generated_phantom
from warning_positions import assert_marks_are_the_warnings
from scipy import ndimage

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.contours import WallContour
from CTOPlaqueLib.export import lesion_document, results_rows
from CTOPlaqueLib.phantom import CALCIUM_HU, PRESETS, generate_phantom
from CTOPlaqueLib.quality import quality_measures
from CTOPlaqueLib.section_view import warning_marks
from CTOPlaqueLib.volume_io import Volume


def test_local_area_ratio_finds_a_known_narrowing():
    """A 2 mm vessel whose area falls to 70% over 1 mm, 8 mm after P: the ratio to the median of the 6 mm
    around it is 0.70, and its position 8.0 mm."""
    arc_mm = np.arange(0.0, 40.0 + 1e-9, 0.25)
    radii_mm = np.full((len(arc_mm), 72), 2.0)
    narrowed = (arc_mm >= 18.0) & (arc_mm < 19.0)
    radii_mm[narrowed] *= np.sqrt(0.7)
    occluded = (arc_mm >= 10.0) & (arc_mm <= 30.0)
    lumen_mm = np.where(occluded[:, None], 0.0, 1.2) * np.ones((1, 72))
    wall = WallContour(radii_mm, np.ones_like(radii_mm, bool), np.ones(len(arc_mm), bool), 0.35, -100.0)
    quality = quality_measures(arc_mm, {"S": 5.0, "P": 10.0, "D": 30.0, "E": 35.0}, {"P": 0.0}, ~occluded, lumen_mm,
                               wall, np.zeros(len(arc_mm)))
    assert quality["occlusion_min_local_area_ratio"] == pytest.approx(0.7, abs=1e-9)
    assert quality["occlusion_min_local_area_at_mm"] == pytest.approx(8.0)


def test_results_table_shows_the_ratio_and_no_made_up_value_for_an_earlier_export():
    phantom = generated_phantom(PRESETS["curved"])
    result = analyze_lesion(Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras), phantom.centerline_ras,
                            phantom.landmarks_ras)
    document = lesion_document(result, "L1", "P1", {})
    label = "Quality: narrowest occluded section against the vessel around it"
    rows = {row["Measurement"]: row["Value"] for row in results_rows(document)}
    assert rows[label] == pytest.approx(100 * result.quality["occlusion_min_local_area_ratio"])
    del document["quality"]["occlusion_min_local_area_ratio"]
    assert label not in {row["Measurement"] for row in results_rows(document)}


def test_phantom_rim_is_its_depth_beside_calcium_and_fades_with_distance():
    """Noise-free, with and without a 200 HU rim decaying over 1 mm: the image loses at most the rim's depth, most
    of it within 1 mm of the calcium, less in each millimetre farther out, nothing beyond 6 mm."""
    plain = generated_phantom(dataclasses.replace(PRESETS["curved"], noise_sd_hu=0.0))  # as test_phantom_accuracy's
    rim = generated_phantom(dataclasses.replace(plain.spec, beam_hardening_hu=200.0, beam_hardening_mm=1.0))
    loss_hu = plain.hu.astype(float) - rim.hu.astype(float)
    spacing_kji = np.asarray(plain.spec.spacing_mm, float)[::-1]
    distance_mm = ndimage.distance_transform_edt(plain.hu < 0.5 * CALCIUM_HU, sampling=spacing_kji)
    shells = [loss_hu[(distance_mm > d) & (distance_mm <= d + 1.0)].mean() for d in range(4)]
    assert 0.3 * 200.0 < loss_hu.max() <= 200.0 + 1.0  # integer HU
    assert shells[0] > 40.0 and all(near > far for near, far in zip(shells, shells[1:]))
    assert np.abs(loss_hu[distance_mm > 6.0]).max() <= 1.0


def _from_two_seeds(name, depth_hu, decay_mm):
    phantom = generate_phantom(dataclasses.replace(PRESETS[name], beam_hardening_hu=depth_hu,
                                                   beam_hardening_mm=decay_mm))
    _, result = analyze_from_two_seeds(phantom)
    return phantom, result, result.total_plaque_volume_mm3 / phantom.truth["total_plaque_volume_mm3"] - 1.0


@pytest.mark.parametrize("name", ["curved", "thin-wall"])
def test_a_moderate_rim_is_measured_as_the_image_shows_it(name):
    """120 HU over 0.5 mm (the plaque beside the nodule reads tens of HU darker): volume within 5%, PAV within
    3 points of the written image (which holds the rim), no warning of a contour closing in."""
    phantom, result, error = _from_two_seeds(name, 120.0, 0.5)
    assert abs(error) <= 0.05
    truth = phantom.truth["composition_written_image"]["pav_percent"]
    for component in COMPONENTS:
        assert result.pav_percent[component] == pytest.approx(truth[component], abs=3.0), component
    assert not [w for w in result.warnings if COLLAPSE_WARNING in w]


@pytest.mark.parametrize("name", ["curved", "thin-wall"])
def test_a_strong_rim_is_measured_within_5_percent_or_flagged_where_it_is(name):
    """200 HU over 1 mm: the contour closes in on the nodule (thin-wall: 7% small), and the warning names where,
    or the volume stays within 5%; the panel's warning marks are the warnings' positions."""
    phantom, result, error = _from_two_seeds(name, 200.0, 1.0)
    flagged = [w for w in result.warnings if COLLAPSE_WARNING in w]
    assert flagged or abs(error) <= 0.05, f"{100 * error:+.1f}% unflagged"
    assert abs(error) <= 0.10
    nodule_after_p_mm = 0.4 * phantom.spec.occlusion_length_mm  # phantom._wall_hu
    if flagged:
        assert result.quality["occlusion_min_local_area_at_mm"] == pytest.approx(nodule_after_p_mm, abs=2.0)
    assert_marks_are_the_warnings(result.warnings, warning_marks(result.quality, result.landmarks_mm),
                                  result.landmarks_mm)
