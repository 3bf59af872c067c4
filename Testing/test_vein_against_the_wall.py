"""Issue 22 item 4: a vein against the vessel's normal wall, joined to the lumen by the blur.

The phantom's vein runs 1 mm of fat from the occluded wall; around a negatively remodelled occlusion (1.0 mm
vessel) it lies against the 2.7 mm normal vessel's wall before P and after D. Blurred and smoothed, that 1.1 mm
wall stays above the 150 HU contrast cut between the lumen and the vein: the vein counted as the seeds' own
lumen, the first-pass path ran in it past the occlusion, no bridge was built, and the centerline stayed 3.5 mm
off (volume +131% with the vein above the vessel, +154% beside it). The 1.0 mm vessel's 230 HU caps, which read as
contrast, are plaque by their HU. Truth: cylinders drawn here, analytic; the phantom's from phantom.py.
"""

import numpy as np
import pytest
from conftest import analyze_from_two_seeds, distances_inside_occlusion_mm, generated_phantom
from scipy import ndimage

from CTOPlaqueLib.centerline_extraction import ExtractionParameters, SeedContrast
from CTOPlaqueLib.phantom import PhantomSpec, lumen_radius_mm, vessel_radius_mm
from CTOPlaqueLib.quality import MAX_CAP_LUMEN_VESSEL_AREA_RATIO

SPACING_MM = 0.4
SHAPE_KJI = (40, 30, 100)  # the vessel runs along i (40 mm), through k = j = 15
AXIS_KJ = (15, 15)
LUMEN_MM, NORMAL_MM, OCCLUDED_MM, VEIN_MM = 1.6, 2.7, 1.0, 1.5
OCCLUSION_I = (40, 60)  # 16..24 mm
SEEDS_KJI = np.array([[15, 15, 2], [15, 15, 97]])


def _vessel_beside_a_vein(vein_axis_mm: float) -> tuple[np.ndarray, int]:
    """HU (k, j, i) of a vessel along i: lumen 450 HU before the occlusion and 240 HU after it (1.6 mm, in a
    60 HU wall to 2.7 mm), a 100 HU occluded segment of 1.0 mm radius between, in -100 HU fat; a 380 HU vein of
    1.5 mm radius along its whole length, ``vein_axis_mm`` above the vessel's axis (+k), the vessel drawn over it
    (as in phantom.py); blurred by a 0.35 mm Gaussian. Also the vein axis's k index."""
    k, j, i = np.indices(SHAPE_KJI)
    z_mm, y_mm = (k - AXIS_KJ[0]) * SPACING_MM, (j - AXIS_KJ[1]) * SPACING_MM
    radius_mm = np.hypot(z_mm, y_mm)
    occluded = (i >= OCCLUSION_I[0]) & (i < OCCLUSION_I[1])
    hu = np.full(SHAPE_KJI, -100.0)
    hu[np.hypot(z_mm - vein_axis_mm, y_mm) < VEIN_MM] = 380.0
    hu[~occluded & (radius_mm < NORMAL_MM)] = 60.0
    hu[~occluded & (radius_mm < LUMEN_MM)] = np.where(i < OCCLUSION_I[0], 450.0, 240.0)[
        ~occluded & (radius_mm < LUMEN_MM)]
    hu[occluded & (radius_mm < OCCLUDED_MM)] = 100.0
    return ndimage.gaussian_filter(hu, 0.35 / SPACING_MM), int(round(AXIS_KJ[0] + vein_axis_mm / SPACING_MM))


def _contrast(hu_kji):
    spacing_kji = np.full(3, SPACING_MM)
    return SeedContrast.around(hu_kji, SEEDS_KJI, spacing_kji, ExtractionParameters())


def test_vein_against_the_wall_is_parted_from_the_lumen():
    """With the vein 1 mm of fat from the occluded wall (its axis 3.5 mm from the vessel's), it lies against the
    normal wall over a 2.2 mm wide band and the contrast cut joins it to the proximal lumen (not foreign); parted
    at the saddle, it is a structure of its own along its whole length (its axis), the lumen's axis on both sides
    of the occlusion is not."""
    hu, vein_k = _vessel_beside_a_vein(OCCLUDED_MM + 1.0 + VEIN_MM)
    contrast = _contrast(hu)
    lumen_i = np.r_[0:OCCLUSION_I[0], OCCLUSION_I[1]:SHAPE_KJI[2]]
    assert not np.any(contrast.foreign()[vein_k, AXIS_KJ[1], 10:90])
    joined = contrast.joined_to_lumen(ExtractionParameters())
    assert np.all(joined[vein_k, AXIS_KJ[1], 2:98])
    assert not np.any(joined[AXIS_KJ[0], AXIS_KJ[1], lumen_i])


def test_vein_with_fat_between_is_foreign_and_nothing_is_parted():
    """With 1 mm of fat between the normal wall and the vein, the vein is foreign contrast as it was, and nothing
    is parted: the cost of the first pass is what it was before the parting existed."""
    hu, vein_k = _vessel_beside_a_vein(NORMAL_MM + 1.0 + VEIN_MM)
    contrast = _contrast(hu)
    assert np.all(contrast.foreign()[vein_k, AXIS_KJ[1], 2:98])
    assert not np.any(contrast.joined_to_lumen(ExtractionParameters()))


@pytest.fixture(scope="module", params=["above", "beside"])
def negatively_remodelled(request):
    """The sweep's small vessel (8 mm, 14 mm occlusion, 8 mm) remodelled to 1.0 mm in the occlusion, the vein above
    or beside it; the centerline from two seeds and the analysis with the true landmarks."""
    phantom = generated_phantom(PhantomSpec(proximal_mm=8.0, occlusion_length_mm=14.0, distal_mm=8.0,
                                            occlusion_radius_mm=1.0, vein_side=request.param, seed=7))
    return (phantom, *analyze_from_two_seeds(phantom))


def test_negatively_remodelled_occlusion_from_two_seeds(negatively_remodelled):
    """Inside the occlusion the centerline stays within 0.3 mm (mean) and 0.5 mm (max) of the truth; the length
    reads within 0.5 mm and the plaque volume within 5% of the analytic truth (44 mm3), or within 10% with the warning
    that the outer wall lies outside the image's wall/fat edge: on a 1 mm vessel the blur-curvature correction puts
    the fat-edge rays 0.05 mm out (10% of area, as the warning says), and the rays bridged beside the vein, placed at
    their mean (contours.bridged_from_fat_edges_mm), follow them (vein above: +6.4%, +2.6% without that step)."""
    phantom, points, result = negatively_remodelled
    distances = distances_inside_occlusion_mm(phantom, points)
    assert distances.mean() <= 0.3 and distances.max() <= 0.5
    assert result.occlusion_length_mm == pytest.approx(phantom.truth["occlusion_length_mm"], abs=0.5)
    error = result.total_plaque_volume_mm3 / phantom.truth["total_plaque_volume_mm3"] - 1.0
    outward = [w for w in result.warnings if "mm outside the image's wall/fat edge" in w]
    assert abs(error) <= 0.05 or (outward and abs(error) <= 0.10), f"{100 * error:+.1f}%"


def test_negatively_remodelled_caps_are_not_contrast(negatively_remodelled):
    """The 230 HU caps (3 mm at each end) of the 1.0 mm occluded vessel fall to the fat within the lumen test's ring
    sized to the 1.6 mm lumens, as a vein would: they read as contrast along 39% of the occlusion, a false "through
    contrast" warning. At 0.48-0.62 of the vessel's contrast over the fat they are plaque (the cut is 0.8)."""
    _, _, result = negatively_remodelled
    assert result.quality["occlusion_contrast_fraction"] <= 0.1
    assert not [w for w in result.warnings if "through contrast" in w]


def test_lumen_on_the_wall_after_d_is_the_phantoms_own(negatively_remodelled):
    """Issue 26: the lumen-on-wall warning just after D (63-65%) is not a lumen contour taken to a lining. The
    phantom's distal lumen (1.45 mm) starts at full width at D, where the outer wall is remodelled to 1.0 mm and
    returns to 2.7 mm over 2 mm: over the first 0.7 mm after D the lumen is painted straight into the fat, its true
    lumen / vessel area 1.0 (a vessel no wider than its lumen). The contour there reads the lumen small (4.3-5.0 mm2
    against 6.6 mm2: the lumen's abrupt end at D blurred along the vessel), not large as on a lining."""
    phantom, _, result = negatively_remodelled
    at_mm = result.quality["cap_lumen_vessel_area_at_mm"]
    assert result.quality["cap_lumen_vessel_area_ratio"] > MAX_CAP_LUMEN_VESSEL_AREA_RATIO and 0.0 < at_mm <= 0.5
    true_arc = phantom.spec.d_mm + at_mm
    lumen_mm = lumen_radius_mm(phantom.spec, true_arc)
    assert (lumen_mm / max(vessel_radius_mm(phantom.spec, true_arc), lumen_mm)) ** 2 == pytest.approx(1.0)
    site = np.argmin(np.abs(result.profile.arc_mm - result.landmarks_mm["D"] - at_mm))
    assert result.profile.lumen_area_mm2[site] < np.pi * lumen_mm ** 2
