"""Issue 22: the outer-wall edge of a wall of any HU under a clinical blur (contours.py).

Truth: blurred steps written analytically along every ray, F + (W - F) Phi((R - r) / sigma), the model a
Gaussian point-spread function gives across a straight edge; the same profiles with white noise; and a
phantom's measured outer wall moved out by a known distance.
"""

import numpy as np
import pytest
from conftest import generated_phantom
from scipy import special, stats

from CTOPlaqueLib.analysis import _contours, analyze_lesion
from CTOPlaqueLib.contours import (ContourParameters, WallContour, _edge_wall_hu, _fat_beyond,
                                   _layered_bright_wall_sections, _probe_bands_hu, _profile_and_strength,
                                   blur_corrected_mm, blur_tail_fraction, central_lumen_hu, detect_vessel_wall,
                                   fitted_step_radii_mm)
from CTOPlaqueLib.crosssection import PolarGrid, sample_sections
from CTOPlaqueLib.phantom import PhantomSpec
from CTOPlaqueLib.quality import quality_warnings, wall_outward_measures
from CTOPlaqueLib.volume_io import Volume

FAT_HU, EDGE_MM = -100.0, 2.625  # the edge on a sample of the 0.05 mm polar grid
GRID = PolarGrid.make(4.5, 0.05, 72)
PARAMS = ContourParameters()


def _steps(wall_hu, blur_mm, sections=4, outside_hu=FAT_HU, noise_hu=0.0, seed=0):
    """(sections, 72, R) profiles of a step from wall_hu to outside_hu at EDGE_MM, blurred by blur_mm."""
    profile = outside_hu + (wall_hu - outside_hu) * special.ndtr((EDGE_MM - GRID.radii_mm) / blur_mm)
    samples = np.broadcast_to(profile, (sections, len(GRID.angles_rad), len(profile))).copy()
    return samples + np.random.default_rng(seed).normal(0.0, noise_hu, samples.shape) if noise_hu else samples


def _fat_test(smooth, tail):
    return _fat_beyond(_probe_bands_hu(smooth, GRID, PARAMS), FAT_HU, tail, PARAMS)


def _passes_at_edge(wall_hu, blur_mm, tail_blur_mm, outside_hu=FAT_HU):
    smooth, _ = _profile_and_strength(_steps(wall_hu, blur_mm, outside_hu=outside_hu), GRID, PARAMS)
    tail = blur_tail_fraction(tail_blur_mm, GRID, PARAMS)
    edge = int(round((EDGE_MM - GRID.radii_mm[0]) / GRID.radial_step_mm))
    return bool(_fat_test(smooth, tail)[..., edge].all())


def test_blur_tail_fraction_is_the_mean_tail_over_the_probe():
    """m at sigma s: the mean of Phi(-x / sqrt(s^2 + 0.1^2)) over x = 0.30, 0.35, .. 0.70 mm, written out."""
    offsets_mm = np.arange(6, 15) * 0.05
    for blur_mm in (0.0, 0.35, 0.5, 0.7):
        expected = np.mean(special.ndtr(-offsets_mm / np.hypot(blur_mm, 0.1)))
        assert blur_tail_fraction(blur_mm, GRID, PARAMS) == pytest.approx(expected, rel=1e-9)
    assert blur_tail_fraction(0.5, GRID, PARAMS) == pytest.approx(0.171, abs=0.001)


@pytest.mark.parametrize("wall_hu", [150.0, 200.0, 300.0, 600.0, 1000.0])
@pytest.mark.parametrize("blur_mm", [0.35, 0.5, 0.6, 0.7])
def test_the_true_edge_of_a_bright_wall_qualifies_under_blur(wall_hu, blur_mm):
    assert _passes_at_edge(wall_hu, blur_mm, blur_mm)


@pytest.mark.parametrize("wall_hu, blur_mm", [(300.0, 0.6), (250.0, 0.7), (1000.0, 0.35)])
def test_the_plain_probe_rejects_the_true_edge_of_a_bright_wall(wall_hu, blur_mm):
    """The mechanism of the issue: the probe's mean at the true edge is F + (W - F) m, above the -30 HU cut here
    (-16 HU for 300 HU under 0.6 mm); at 0.5 mm a 300 HU wall reads -31.6 HU, 1.6 HU inside the cut, which noise
    crosses on about half the rays. Allowing the tail of the wall's contrast above the reference tissue accepts
    all of them."""
    assert not _passes_at_edge(wall_hu, blur_mm, 0.0)
    assert _passes_at_edge(wall_hu, blur_mm, blur_mm)


@pytest.mark.parametrize("wall_hu", [25.0, 60.0, 95.0])
def test_walls_up_to_the_reference_tissue_keep_the_plain_test(wall_hu):
    smooth, _ = _profile_and_strength(_steps(wall_hu, 0.5), GRID, PARAMS)
    tail = blur_tail_fraction(0.5, GRID, PARAMS)
    assert np.array_equal(_fat_test(smooth, tail), _fat_test(smooth, 0.0))


@pytest.mark.parametrize("inner_hu, outer_hu", [(1000.0, 25.0), (1000.0, 100.0), (300.0, 60.0), (450.0, 60.0)])
def test_an_edge_onto_tissue_is_not_taken_for_fat(inner_hu, outer_hu):
    """Calcium onto necrotic core or a fibrofatty rim, bright plaque onto a normal wall, contrast onto a wall."""
    assert not _passes_at_edge(inner_hu, 0.5, 0.5, outside_hu=outer_hu)


@pytest.mark.parametrize("start_mm", [-0.25, -0.1, 0.0, 0.15, 0.25])
def test_the_fitted_step_lands_on_the_edge_wherever_the_path_took_the_ray(start_mm):
    smooth, _ = _profile_and_strength(_steps(300.0, 0.5), GRID, PARAMS)
    index = np.full(smooth.shape[:2], int(round((EDGE_MM + start_mm - GRID.radii_mm[0]) / GRID.radial_step_mm)))
    radii = fitted_step_radii_mm(smooth, GRID, index, 0.5, PARAMS)
    assert np.abs(radii - EDGE_MM).max() < 0.005


def test_the_fitted_step_is_unbiased_under_noise():
    """White noise of 20 HU on a 200 HU wall, path taken 0.15 mm inside or outside: the mean radius within 0.01 mm
    of the edge, the spread of single rays within 0.1 mm (the steepest slope of the same rays spreads further)."""
    samples = _steps(200.0, 0.5, sections=20, noise_hu=20.0, seed=3)
    smooth, strength = _profile_and_strength(samples, GRID, PARAMS)
    for start_mm in (-0.15, 0.15):
        index = np.full(smooth.shape[:2], int(round((EDGE_MM + start_mm - GRID.radii_mm[0]) / GRID.radial_step_mm)))
        radii = fitted_step_radii_mm(smooth, GRID, index, 0.5, PARAMS)
        assert radii.mean() == pytest.approx(EDGE_MM, abs=0.01)
        assert radii.std() < 0.1


def _blurred_discs(layers, blur_mm):
    """(2, 72, R) profiles of concentric discs under a 2-D Gaussian blur of sigma blur_mm, exactly: a disc of radius
    R reads, at a distance r from its centre, the probability that a Gaussian of sigma s about r falls inside it,
    the Rice distribution's CDF at R / s with b = r / s. layers: (outer radius mm, HU) from the centre out; fat
    beyond the last one."""
    profile = np.full(len(GRID.radii_mm), FAT_HU)
    outside_hu = FAT_HU
    for radius_mm, hu in reversed(layers):
        profile += (hu - outside_hu) * stats.rice.cdf(radius_mm / blur_mm, GRID.radii_mm / blur_mm)
        outside_hu = hu
    return np.broadcast_to(profile, (2, len(GRID.angles_rad), len(profile))).copy()


FIBROUS_LAYER = [(1.45, 25.0), (EDGE_MM - 0.6, 100.0), (EDGE_MM, 230.0)]  # the sweep's 0.6 mm layer over plaque


def _edge_errors_mm(layers, blur_mm):
    """The blur-corrected radius minus the true edge, from the symmetric and from the outer-weighted step fit, both
    started at the steepest slope within 0.6 mm of the edge."""
    smooth, strength = _profile_and_strength(_blurred_discs(layers, blur_mm), GRID, PARAMS)
    index = np.argmax(np.where(GRID.radii_mm > EDGE_MM - 0.6, strength, 0.0), axis=-1)
    windows = (None, (PARAMS.bright_wall_step_fit_inside_mm, PARAMS.bright_wall_step_fit_outside_mm))
    return [float(blur_corrected_mm(fitted_step_radii_mm(smooth, GRID, index, blur_mm, PARAMS, window), blur_mm)
                  .mean()) - EDGE_MM for window in windows]


def test_a_thin_bright_layer_is_fitted_from_outside():
    """A 0.6 mm, 230 HU layer over 100 HU plaque and a 25 HU core under a 0.45 mm blur (the fibrous-layer case):
    the layer's inner rise adds to the outer fall and the symmetric fit lies 0.12 mm out; the outer-weighted window
    halves that (0.05 mm)."""
    symmetric_mm, outer_mm = _edge_errors_mm(FIBROUS_LAYER, 0.45)
    assert symmetric_mm > 0.1
    assert 0.0 < outer_mm < 0.06


@pytest.mark.parametrize("wall_hu, blur_mm", [(230.0, 0.45), (300.0, 0.5)])
def test_both_windows_find_a_homogeneous_walls_edge(wall_hu, blur_mm):
    assert np.abs(_edge_errors_mm([(EDGE_MM, wall_hu)], blur_mm)).max() < 0.005


@pytest.mark.parametrize("layers, layered", [(FIBROUS_LAYER, True), ([(1.45, 25.0), (EDGE_MM, 100.0)], False),
                                             ([(1.45, 250.0), (EDGE_MM, 230.0)], False)])
def test_only_a_bright_edge_over_a_darker_core_counts_as_layered(layers, layered):
    """The fibrous layer is; the presets' 100 HU fibrofatty rim over a 25 HU core is not (under the 125 HU cut),
    nor a 230 HU wall over a brighter core."""
    smooth, strength = _profile_and_strength(_blurred_discs(layers, 0.45), GRID, PARAMS)
    index = np.argmax(np.where(GRID.radii_mm > EDGE_MM - 0.6, strength, 0.0), axis=-1)
    wall_hu = _edge_wall_hu(_probe_bands_hu(smooth, GRID, PARAMS), index, blur_tail_fraction(0.45, GRID, PARAMS))
    sections = _layered_bright_wall_sections(wall_hu, central_lumen_hu(smooth, GRID), np.ones(index.shape, bool),
                                             PARAMS)
    assert np.all(sections == layered)


def test_an_occluded_section_without_a_fat_edge_takes_its_neighbours_wall():
    """Twelve occluded sections of a 300 HU wall under a 0.5 mm blur, three of them (tissue at 100 HU all round, as
    between the myocardium and a vein) without a fat edge on any ray: those read the wall of the sections either side
    within 0.01 mm, and all within 0.1 mm of the edge (a straight blurred step: the disc's blur correction puts it
    0.06 mm out). Their path lies at the centre; the small-blur correction sigma^2 / (2 r) had put it 2.45 mm out (by
    chance near heart's 2.5 mm wall), the exact disc relation leaves it there (0.02 mm)."""
    samples = _steps(300.0, 0.5, sections=12)
    samples[5:8] = 100.0
    wall = detect_vessel_wall(samples, GRID, np.zeros(samples.shape[:2]), 0.25)
    assert not wall.fat_edge[5:8].any() and wall.fat_edge[[0, 11]].all()
    assert np.abs(wall.radii_mm[5:8] - wall.radii_mm[[4, 8]].mean()).max() < 0.01
    assert np.abs(wall.radii_mm - EDGE_MM).max() < 0.1


@pytest.fixture(scope="module")
def small_case():
    """A small default phantom (100 HU fibrofatty rim at the outer edge), analysed on its true centerline, with the
    polar samples the analysis measured and its outer wall."""
    phantom = generated_phantom(PhantomSpec(proximal_mm=8.0, occlusion_length_mm=14.0, distal_mm=8.0, seed=31))
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    result = analyze_lesion(volume, phantom.centerline_ras, phantom.landmarks_ras)
    samples_hu = sample_sections(volume, result.centerline, result.grid, order=1)
    _, _, wall = _contours(samples_hu, result.grid, result.occluded_sections(), result.settings)
    return result, samples_hu, wall


def test_a_wall_on_the_image_edge_reads_no_outward_offset(small_case):
    result, _, _ = small_case
    assert abs(result.quality["occlusion_wall_outward_mm"]) < 0.05
    assert not [w for w in result.warnings if "outside the image's wall/fat edge" in w]


def test_a_wall_pushed_out_is_caught_with_its_position(small_case):
    """The measured outer wall moved out by 0.2 mm between 4 and 6 mm after P: the measure reads the push there."""
    result, samples_hu, wall = small_case
    arc = result.centerline.arc_mm - result.landmarks_mm["P"]
    pushed = WallContour(np.where(((arc >= 4.0) & (arc < 6.0))[:, None], wall.radii_mm + 0.2, wall.radii_mm),
                         wall.fat_edge, wall.resolved, wall.blur_sigma_mm, wall.fat_hu)
    measures = wall_outward_measures(result.centerline.arc_mm, result.landmarks_mm, samples_hu, result.grid, pushed)
    assert measures["occlusion_wall_outward_mm"] == pytest.approx(0.2, abs=0.05)
    assert 3.5 <= measures["occlusion_wall_outward_at_mm"] <= 6.5
    warnings = quality_warnings({**result.quality, **measures})
    assert any("outside the image's wall/fat edge" in w and f"{measures['occlusion_wall_outward_at_mm']:.1f} mm after P"
               in w for w in warnings)
