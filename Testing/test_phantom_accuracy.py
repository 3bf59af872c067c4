"""End-to-end accuracy of the lesion analysis against the phantoms' truth (see phantom.py)."""

import numpy as np
import pytest
from conftest import PHANTOM_CASES, analyze_on_true_centerline, generated_phantom, phantom_for

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.phantom import _path_local, _vessel_transform, lumen_hu
from CTOPlaqueLib.volume_io import Volume


def _analyze(name):
    phantom = phantom_for(name)
    return phantom, analyze_on_true_centerline(phantom)


@pytest.fixture(scope="module", params=sorted(PHANTOM_CASES))
def analyzed(request):
    return _analyze(request.param)


def test_occlusion_length_on_a_hand_placed_curve_is_the_true_length(analyzed):
    """The centerline a user clicks: points of the true path 4 mm apart, interpolated by the spline. The length
    P..D along it is measured against the phantom's analytic occlusion length (not against the arc of the true
    centerline the landmarks were placed on)."""
    phantom, _ = analyzed
    spec = phantom.spec
    rotation, offset = _vessel_transform(spec)
    clicked = _path_local(spec, np.linspace(0.0, spec.length_mm, int(round(spec.length_mm / 4.0)) + 1))
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    result = analyze_lesion(volume, clicked @ rotation.T + offset, phantom.landmarks_ras)
    assert result.occlusion_length_mm == pytest.approx(spec.occlusion_length_mm, abs=0.05)


def test_landmark_positions_match_truth(analyzed):
    phantom, result = analyzed
    for label, truth_mm in phantom.truth["landmarks_mm"].items():
        assert result.landmarks_mm[label] == pytest.approx(truth_mm, abs=0.05)


def test_total_plaque_volume_against_analytic_vessel_volume(analyzed):
    """Truth: integral of pi r_V(s)^2 over P..D (no lumen inside the occlusion). Issue tolerance 10%;
    the method measures -2..-3% here (inward bias at the myocardium and calcium), so 5% is asserted."""
    phantom, result = analyzed
    truth = phantom.truth["total_plaque_volume_mm3"]
    assert result.total_plaque_volume_mm3 == pytest.approx(truth, rel=0.05)
    assert result.vessel_volume_mm3 == pytest.approx(truth, rel=0.05)


def test_pav_against_written_image_classified_in_true_wall(analyzed):
    """Truth: voxels of the written (noisy) image inside the true wall, classified by the same HU bins.
    That is what a perfect contour gives; noise near a bin edge moves voxels legitimately, which is why
    the noise-free classification is not the reference here (it is recorded in truth.json)."""
    phantom, result = analyzed
    truth = phantom.truth["composition_written_image"]["pav_percent"]
    for name in COMPONENTS:
        assert result.pav_percent[name] == pytest.approx(truth[name], abs=5.0), name


def test_pav_close_to_noise_free_composition_too(analyzed):
    phantom, result = analyzed
    truth = phantom.truth["composition_noise_free"]["pav_percent"]
    for name in COMPONENTS:
        assert result.pav_percent[name] == pytest.approx(truth[name], abs=5.0), name


def test_component_volumes_against_the_written_image_in_the_true_wall(analyzed):
    """Each component's volume (mm3), and the unclassified wall, against the written image's voxels inside the
    true wall (truth composition_written_image): within 3% of the total plaque volume each (measured: within
    1.2%), and the non-calcified volume likewise."""
    phantom, result = analyzed
    truth = phantom.truth["composition_written_image"]
    tolerance = 0.03 * truth["total_mm3"]
    for name in COMPONENTS:
        assert result.volumes_mm3[name] == pytest.approx(truth["volumes_mm3"][name], abs=tolerance), name
    assert result.unclassified_volume_mm3 == pytest.approx(truth["unclassified_volume_mm3"], abs=tolerance)
    noncalcified = truth["total_mm3"] - truth["volumes_mm3"]["dense_calcium"] - truth["unclassified_volume_mm3"]
    assert result.noncalcified_volume_mm3 == pytest.approx(noncalcified, abs=tolerance)


def test_reference_sections_match_true_areas(analyzed):
    """S and E lie in normal segments: lumen area within 12%, vessel area within 15% of the true circles."""
    phantom, result = analyzed
    for label in ("S", "E"):
        truth = phantom.truth["reference"][label]
        measured = result.reference[label]
        assert measured["lumen_area_mm2"] == pytest.approx(truth["lumen_area_mm2"], rel=0.12), label
        assert measured["vessel_area_mm2"] == pytest.approx(truth["vessel_area_mm2"], rel=0.15), label
        true_diameter = 2 * np.sqrt(truth["lumen_area_mm2"] / np.pi)
        assert measured["mean_lumen_diameter_mm"] == pytest.approx(true_diameter, rel=0.08), label


def test_reference_lumen_attenuation_is_the_contrast_written_there(analyzed):
    """The phantom writes its contrast along the lumen (phantom.lumen_hu: fading from the ostium to P, retrograde
    filling after D); at S and E the lumen attenuation reads it within 3% (measured: within 1.4%). The blur
    takes little from a 0.5 mm core of a 1.6 mm lumen; the core holds about 50 voxels over the 5 mm of vessel
    read, so 20 HU noise leaves the median about 3.5 HU uncertain, 3% of 250 HU is two of that."""
    phantom, result = analyzed
    spec = phantom.spec
    for label, arc_mm in (("S", spec.p_mm - 5.0), ("E", spec.d_mm + 5.0)):
        written_hu = float(lumen_hu(spec, np.array([arc_mm]))[0])
        assert result.reference[label]["lumen_hu"] == pytest.approx(written_hu, rel=0.03), label


def test_sharp_kernel_option_undershoots_below_every_material_and_keeps_the_mean():
    """A Gaussian blur is a weighted mean, so without noise no voxel lies below the darkest material (fat); the
    unsharp mask of ``kernel_boost`` makes the fat beside edges undershoot, and keeps the image's mean (G
    conserves the integral; only the volume's border, with mode "nearest", changes it slightly)."""
    from CTOPlaqueLib.phantom import FAT_HU, PhantomSpec

    plain, sharp = (generated_phantom(PhantomSpec(noise_sd_hu=0.0, kernel_boost=boost)) for boost in (0.0, 1.5))
    assert plain.hu.min() >= FAT_HU - 0.5
    assert sharp.hu.min() < FAT_HU - 40
    assert sharp.hu.mean() == pytest.approx(plain.hu.mean(), abs=0.5)
