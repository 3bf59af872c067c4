"""Issue 15: accuracy away from the phantoms' single operating point.

A small vessel (8 mm proximal, 14 mm occlusion, 8 mm distal) under scanner blur 0.35..0.6 mm (Gaussian
sigma), white noise 20..40 HU, epicardial fat at -100..-40 HU, and free in fat (curved) or with the
occluded wall touching the myocardium (wrap, no gap). The cases cover every pair of levels of blur, fat
and contact, and the worst corner (0.35 mm, 40 HU, -40 HU fat, contact). The centerline comes from two
seeds (ostium, distal end), the landmarks are the true ones, truth is analytic (phantom.py).
Targets: occlusion length +/-0.5 mm; plaque volume +/-5%, or a warning that the wall contour is
uncertain and then +/-15%; S/E vessel areas within 15%, or the reference-wall warning.
"""

import pytest
from conftest import (COLLAPSE_WARNING, KERNEL_WARNING, MISREGISTRATION_WARNING, analyze_from_two_seeds,
                      generated_phantom)

from CTOPlaqueLib.phantom import PhantomSpec

CASES = [  # blur sigma mm, noise SD HU, fat HU, wall touching the myocardium
    (0.35, 20, -100, False), (0.35, 40, -70, True), (0.35, 30, -40, False), (0.35, 40, -40, True),
    (0.5, 30, -100, True), (0.5, 20, -70, False), (0.5, 40, -40, True),
    (0.6, 40, -100, False), (0.6, 30, -70, True), (0.6, 20, -40, False),
]
WALL_WARNINGS = ("has a fat edge", "no fat around it", COLLAPSE_WARNING)


def _spec(blur_mm, noise_hu, fat_hu, contact, seed) -> PhantomSpec:
    geometry = dict(shape="wrap", bend_radius_mm=18.0, myocardium_gap_mm=0.0) if contact else dict(shape="curved")
    return PhantomSpec(proximal_mm=8.0, occlusion_length_mm=14.0, distal_mm=8.0, blur_sigma_mm=blur_mm,
                       noise_sd_hu=noise_hu, fat_hu=fat_hu, seed=seed, **geometry)


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"blur{c[0]}-noise{c[1]}-fat{c[2]}-contact{int(c[3])}")
def measured(request):
    phantom = generated_phantom(_spec(*request.param, seed=CASES.index(request.param) + 21))
    return phantom, analyze_from_two_seeds(phantom)[1]


def test_occlusion_length_within_half_a_millimetre(measured):
    phantom, result = measured
    assert result.occlusion_length_mm == pytest.approx(phantom.truth["occlusion_length_mm"], abs=0.5)


def test_plaque_volume_within_5_percent_or_flagged(measured):
    phantom, result = measured
    error = result.total_plaque_volume_mm3 / phantom.truth["total_plaque_volume_mm3"] - 1.0
    flagged = any(key in warning for warning in result.warnings for key in WALL_WARNINGS)
    assert abs(error) <= (0.15 if flagged else 0.05), f"{100 * error:+.1f}%, warnings {result.warnings}"


def test_reference_vessel_areas_within_15_percent_or_flagged(measured):
    phantom, result = measured
    for label in ("S", "E"):
        ratio = result.reference[label]["vessel_area_mm2"] / phantom.truth["reference"][label]["vessel_area_mm2"]
        if result.quality["reference_wall_resolved"][label]:
            assert ratio == pytest.approx(1.0, abs=0.15), label
        else:
            assert any("wall at" in w and label in w.split(" is ")[0] for w in result.warnings)
            assert 0.65 <= ratio <= 1.25, label


def test_fat_level_is_measured_within_15_hu(measured):
    """The outer-wall test is relative to the fat measured around the vessel (contours.fat_level_hu)."""
    phantom, result = measured
    assert result.quality["fat_hu"] == pytest.approx(phantom.spec.fat_hu, abs=15.0)


def test_pav_equals_the_image_classified_in_the_true_wall(measured):
    """PAV within 3 percentage points of the written image's HU classes inside the true wall, 5 where the
    wall contour is flagged (a wall found out in -40 HU fat counts blurred fat as necrotic core). The
    tissue itself (phantom truth ``composition_tissue``) is not what HU classes measure: blur spills
    intensity across the bins (docs/accuracy.md, "What PAV measures")."""
    phantom, result = measured
    flagged = any(key in warning for warning in result.warnings for key in WALL_WARNINGS)
    truth = phantom.truth["composition_written_image"]["pav_percent"]
    for name, value in truth.items():
        assert result.pav_percent[name] == pytest.approx(value, abs=5.0 if flagged else 3.0), name


def test_no_sharp_kernel_warning_on_a_smooth_kernel(measured):
    _, result = measured
    assert not [w for w in result.warnings if KERNEL_WARNING in w]


def test_no_misregistration_step_in_one_heartbeat(measured):
    _, result = measured
    assert not [w for w in result.warnings if MISREGISTRATION_WARNING in w]
