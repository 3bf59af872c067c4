"""Issue 22: the outer wall of occlusions built differently from the presets, from two seeds.

Bright tissue at the outer edge (homogeneous fibrous occlusions of 150..300 HU, a fibrous or calcified outer
layer), blur sigma 0.35..0.6 mm, white noise 20..55 HU or CT-textured noise of 55 HU with fat at -110 HU, and
positive remodelling (negative remodelling to a 1 mm vessel, whose vein lies against the normal wall, is
test_vein_against_the_wall.py's). The vessel is the sweep's small one (8 mm proximal, 14 mm occlusion, 8 mm
distal), the centerline comes from two seeds, the landmarks are the true ones, truth is analytic (phantom.py).
Targets: plaque volume +/-5%; each PAV within 3 percentage points of the written image classified in the true
wall; S/E vessel areas within 15%. Each case is within them with no lesion warning, or outside them with a
warning naming the cause; the proximal cap's shape (the phantom's default 2 mm taper) is the truth. False alarms
count as failures: no case may say the centerline runs through contrast, that the kernel is sharp, that the slices
are misregistered or that the cap's shape is not measured.
"""

import pytest
from conftest import (CAP_SHAPE_WARNING, COLLAPSE_WARNING, KERNEL_WARNING, MISREGISTRATION_WARNING,
                      analyze_from_two_seeds, generated_phantom)

from CTOPlaqueLib.phantom import PhantomSpec

SMALL = dict(proximal_mm=8.0, occlusion_length_mm=14.0, distal_mm=8.0)
CASES = {  # name: phantom options
    "homogeneous-150-blur0.5": dict(edge_tissue_hu=150.0, blur_sigma_mm=0.5),
    "homogeneous-200-blur0.6-noise30": dict(edge_tissue_hu=200.0, blur_sigma_mm=0.6, noise_sd_hu=30.0),
    "homogeneous-300-blur0.5": dict(edge_tissue_hu=300.0, blur_sigma_mm=0.5),
    "homogeneous-250-noise55": dict(edge_tissue_hu=250.0, noise_sd_hu=55.0),
    "fibrous-layer-0.6mm-blur0.45-noise40": dict(edge_tissue_hu=230.0, edge_tissue_mm=0.6, blur_sigma_mm=0.45,
                                                 noise_sd_hu=40.0),
    "calcified-shell-0.5mm-blur0.5": dict(edge_tissue_hu=1000.0, edge_tissue_mm=0.5, blur_sigma_mm=0.5),
    "positive-remodelling-3.6mm-200": dict(occlusion_radius_mm=3.6, edge_tissue_hu=200.0, blur_sigma_mm=0.5),
    "ct-noise55-fat-110": dict(noise_texture="ct", noise_sd_hu=55.0, fat_hu=-110.0),
}
WALL_WARNINGS = ("has a fat edge", "no fat around it", COLLAPSE_WARNING)
FALSE_ALARMS = ("through contrast", KERNEL_WARNING, MISREGISTRATION_WARNING, CAP_SHAPE_WARNING)


@pytest.fixture(scope="module", params=sorted(CASES))
def measured(request):
    phantom = generated_phantom(PhantomSpec(**SMALL, seed=40 + sorted(CASES).index(request.param),
                                           **CASES[request.param]))
    return phantom, analyze_from_two_seeds(phantom)[1]


def _flagged(result) -> bool:
    return any(key in warning for warning in result.warnings for key in WALL_WARNINGS)


def test_plaque_volume_within_5_percent_or_flagged(measured):
    """The fibrous outer layer read +5.1% unflagged with the symmetric step fit (+5.1 to +5.8% over noise seeds 42, 1,
    2, 3); its outer-weighted fit (contours._layered_bright_wall_sections) reads +1.7 to +2.9% (docs/accuracy.md)."""
    phantom, result = measured
    error = result.total_plaque_volume_mm3 / phantom.truth["total_plaque_volume_mm3"] - 1.0
    assert _flagged(result) or abs(error) <= 0.05, f"{100 * error:+.1f}% unflagged"


def test_pav_within_3_points_of_the_image_in_the_true_wall_or_flagged(measured):
    phantom, result = measured
    truth = phantom.truth["composition_written_image"]["pav_percent"]
    errors = {name: result.pav_percent[name] - value for name, value in truth.items()}
    assert _flagged(result) or max(map(abs, errors.values())) <= 3.0, errors


def test_reference_vessel_areas_within_15_percent_or_flagged(measured):
    phantom, result = measured
    for label in ("S", "E"):
        ratio = result.reference[label]["vessel_area_mm2"] / phantom.truth["reference"][label]["vessel_area_mm2"]
        unresolved = not result.quality["reference_wall_resolved"][label]
        assert unresolved or ratio == pytest.approx(1.0, abs=0.15), label


def test_no_false_alarm(measured):
    _, result = measured
    assert not [w for w in result.warnings if any(key in w for key in FALSE_ALARMS)]


def test_proximal_cap_shape_is_the_truth(measured):
    """The default taper's lumen is lost 0.75-0.8 mm before P, where the blur no longer resolves it; the shape is
    measured all the same (morphology.proximal_cap_slope_per_mm) and reads tapered (before: not measured, with the
    cap-shape warning, on fibrous-layer-0.6mm-blur0.45-noise40 and ct-noise55-fat-110)."""
    phantom, result = measured
    assert result.morphology["proximal_cap"] == phantom.truth["morphology"]["proximal_cap"]


def test_the_truth_weights_voxels_by_their_fraction_inside_the_wall(measured):
    """The written image's classified volumes add up to the analytic vessel volume (partial voxels weighted by the
    fraction of them inside the wall, as the analysis weights its samples)."""
    phantom, _ = measured
    composition = phantom.truth["composition_written_image"]
    assert composition["total_mm3"] == pytest.approx(phantom.truth["total_plaque_volume_mm3"], rel=0.005)
