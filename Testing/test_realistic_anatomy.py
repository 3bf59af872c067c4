"""Issue 11: two seeds (ostium, distal end) on phantoms with the difficulties of real anatomy.

Truth is analytic (phantom.py): the true centerline, the landmarks, the vessel volume between P and D,
the composition of the written image classified inside the true wall, and the true S/E areas.
Targets: centerline inside the occlusion mean <= 0.3 mm, max <= 1.0 mm; length +/-0.5 mm; volume
+/-5%; PAV +/-3 percentage points; S/E vessel areas within 15%. Where a condition cannot meet a
target, the quality flag for it must fire.
"""

import numpy as np
import pytest
from conftest import (CENTERLINE_WARNINGS, COLLAPSE_WARNING, KERNEL_WARNING, MISREGISTRATION_WARNING,
                      analyze_from_two_seeds, distances_inside_occlusion_mm, preset_phantom)

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.phantom import PRESETS
from CTOPlaqueLib.quality import MAX_CAP_LUMEN_VESSEL_AREA_RATIO
from CTOPlaqueLib.volume_io import Volume

REALISTIC = sorted(set(PRESETS) - {"straight", "curved", "bend"})


@pytest.fixture(scope="module", params=REALISTIC)
def measured(request):
    phantom = preset_phantom(request.param)
    return (phantom, *analyze_from_two_seeds(phantom))


def test_two_seeds_find_the_occluded_artery(measured):
    phantom, points, _ = measured
    distances = distances_inside_occlusion_mm(phantom, points)
    assert distances.mean() <= 0.3
    assert distances.max() <= 1.0


def test_occlusion_length(measured):
    phantom, _, result = measured
    assert result.occlusion_length_mm == pytest.approx(phantom.truth["occlusion_length_mm"], abs=0.5)


def test_plaque_volume_or_flag(measured):
    """Within 5% of the analytic volume, or the wall is half bridged and the warning says so."""
    phantom, _, result = measured
    error = result.total_plaque_volume_mm3 / phantom.truth["total_plaque_volume_mm3"] - 1.0
    if abs(error) > 0.05:
        assert any("half bridged" in warning for warning in result.warnings), f"{100 * error:+.1f}% unflagged"
    assert abs(error) <= 0.08


def test_pav_against_written_image_in_true_wall(measured):
    phantom, _, result = measured
    truth = phantom.truth["composition_written_image"]["pav_percent"]
    for name in COMPONENTS:
        assert result.pav_percent[name] == pytest.approx(truth[name], abs=3.0), name


def test_reference_vessel_areas_or_flag(measured):
    """S and E vessel areas within 15% of the true circle, unless the wall there is flagged unresolved."""
    phantom, _, result = measured
    for label in ("S", "E"):
        ratio = result.reference[label]["vessel_area_mm2"] / phantom.truth["reference"][label]["vessel_area_mm2"]
        if not result.quality["reference_wall_resolved"][label]:
            assert any("wall at" in w and label in w.split(" is ")[0] for w in result.warnings)
            assert 0.75 <= ratio <= 1.25, label
        else:
            assert ratio == pytest.approx(1.0, abs=0.15), label


def test_reference_lumen_areas_or_flag(measured):
    """S and E lumen areas within 8% of the true circle; where the wall there is flagged unresolved (the lumen
    edge is then pulled by the wall's outer step), within 22%, and the warning says the lumen area may be off."""
    phantom, _, result = measured
    for label in ("S", "E"):
        ratio = result.reference[label]["lumen_area_mm2"] / phantom.truth["reference"][label]["lumen_area_mm2"]
        if not result.quality["reference_wall_resolved"][label]:
            assert any("off by up to 20%" in w and label in w.split(" is ")[0] for w in result.warnings)
            assert ratio == pytest.approx(1.0, abs=0.22), label
        else:
            assert ratio == pytest.approx(1.0, abs=0.08), label


def test_no_centerline_warning_on_a_correct_extraction(measured):
    _, _, result = measured
    assert not [w for w in result.warnings if any(key in w for key in CENTERLINE_WARNINGS)]
    assert result.quality["lumen_proximal"] and result.quality["lumen_distal"]


def test_thin_normal_wall_falls_back_to_lumen_plus_normal_wall():
    """0.4 mm walls (below the blur): the outer wall is the lumen + 0.4 mm in most normal sections, flagged."""
    phantom = preset_phantom("thin-wall")
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    result = analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras)
    assert result.quality["normal_wall_unresolved_fraction"] > 0.5
    assert result.quality["reference_wall_resolved"] == {"S": False, "E": False}
    arc, caps = result.profile.arc_mm, result.landmarks_mm
    # the phantom's wall is 0.4 mm except within 2 mm of the caps, where it is remodelled toward the occlusion
    normal = (result.lumen_radii_mm.max(axis=1) > 0) & ((arc < caps["P"] - 2.0) | (arc > caps["D"] + 2.0))
    thickness = (result.vessel_radii_mm - result.lumen_radii_mm)[normal]
    assert np.median(thickness) == pytest.approx(0.4, abs=0.1)
    assert np.percentile(thickness, 99) < 1.0  # never wandering out into the fat


def test_no_image_artefact_is_reported_on_a_clean_scan(measured):
    """Neither a sharp kernel, nor a contour closing in on calcium (measured: area ratio 0.93 and up), nor a
    misregistration step (one heartbeat: no jump stands out, side branches and veins included)."""
    _, _, result = measured
    assert not [w for w in result.warnings if any(key in w for key in (KERNEL_WARNING, COLLAPSE_WARNING,
                                                                        MISREGISTRATION_WARNING))]


def test_no_lumen_on_wall_warning_on_a_clean_scan(measured):
    """The lumen next to the caps lies inside its wall on every preset (cap_lumen_vessel_area_ratio 0.38..0.52 on the
    true centerline, up to 0.58 from two seeds, below the cut of 0.60), so the lumen-on-wall warning never fires."""
    _, _, result = measured
    assert result.quality["cap_lumen_vessel_area_ratio"] <= MAX_CAP_LUMEN_VESSEL_AREA_RATIO
    assert not [w for w in result.warnings if "lumen contour lies on" in w]


def test_proximal_cap_shape_matches_truth(measured):
    """Issue 22 item 7: the cap shape read from seeds is the phantom's (every preset has a tapered stump; on
    "heart" a branch leaving at the cap and calcium blooming beside it used to make it read blunt)."""
    phantom, _, result = measured
    assert result.morphology["proximal_cap"] == phantom.truth["morphology"]["proximal_cap"]
