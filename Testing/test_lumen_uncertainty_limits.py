"""Where the lumen-area uncertainty warning (quality.lumen_area_uncertainty_measures, issue 26) is wrong: cases it was
not calibrated on, each analysed on its true centerline and landmarks.

The vessel is lined for 7 mm before P and after D with 200 HU plaque against 400 HU contrast before P and 350 HU after
D (no stenosis: a 1.5 mm lumen), blur 0.35 mm, 20 HU white noise; each case changes one of these. The truth is the
phantom's lumen (phantom.lumen_radius_mm), compared as the warning reads it: the mean lumen area 2-5 mm before P and
after D. The target is the issue's 10%; the warning is meant to fire where that target is missed through noise, not
where it is met.
"""

import numpy as np
import pytest
from conftest import analyze_on_true_centerline, generated_phantom

from CTOPlaqueLib.phantom import PhantomSpec, lumen_radius_mm
from CTOPlaqueLib.quality import LUMEN_UNCERTAINTY_NEAR_MM, REFERENCE_WINDOW_MM

LINED = dict(proximal_mm=10.0, occlusion_length_mm=12.0, distal_mm=10.0, cap_lining_mm=7.0, cap_lining_hu=200.0,
             lumen_hu=(400.0, 400.0, 350.0, 350.0), seed=41)
TARGET = 0.10
UNCERTAIN = "the lumen area is uncertain"
# CT-textured noise of 55 HU (a large patient): read 53 HU off the fat, its full SD, where white noise is read at
# (2/3)^1.5 of it; the warning's constant was calibrated on white noise only (docs/accuracy.md).
TEXTURED_55 = PhantomSpec(**LINED, noise_texture="ct", noise_sd_hu=55.0)
# A 90 degree calcified sector through the lining (white noise 20 HU): on its rays the image rises from the lumen into
# the calcium, the slope across the contour averaged over the rays falls to 8 HU/mm after D (156 without the sector)
# and the uncertainty reads 74% where the lumen holds +2.2% (17% and -5.1% before P).
CALCIFIED_90 = PhantomSpec(**LINED, cap_lining_calcium_deg=90.0)
# White noise of 40 HU, noise seed 41: the lumen before P reads 15% small, the uncertainty 6%. Seeds 42 and 43 read
# -3.0% and -9.9%, the same lesion without noise +3.4%: the noise pulls this lumen in by 6-19 points.
WHITE_40 = PhantomSpec(**LINED, noise_sd_hu=40.0)


def _window_error(spec: PhantomSpec, cap: str) -> tuple:
    """(relative error of the mean lumen area 2-5 mm before P (cap "P") or after D ("D") against the truth, the
    analysis); positions are taken from the analysis's own cap, the truth's from the phantom's."""
    result = analyze_on_true_centerline(generated_phantom(spec))
    sign = -1.0 if cap == "P" else 1.0
    offset_mm = result.profile.arc_mm - result.landmarks_mm[cap]
    window = (sign * offset_mm >= LUMEN_UNCERTAINTY_NEAR_MM) & (sign * offset_mm <= REFERENCE_WINDOW_MM)
    true_arc_mm = offset_mm[window] + (spec.p_mm if cap == "P" else spec.d_mm)
    truth_mm2 = np.pi * lumen_radius_mm(spec, true_arc_mm) ** 2
    return float(result.profile.lumen_area_mm2[window].mean() / truth_mm2.mean() - 1.0), result


FALSE_ALARMS = {
    "textured-55": (TEXTURED_55, "textured noise is read at its full SD off the fat and the uncertainty after D reads "
                    "19% (cut 14%) where the lumen holds -4.5%; the constant was calibrated on white noise only"),
    "calcified-90": (CALCIFIED_90, "the calcified sector's rays rise outward across the lumen contour: the mean slope "
                     "after D reads 8 HU/mm and the uncertainty 74% where the lumen holds +2.2%"),
}


@pytest.mark.parametrize("name", sorted(FALSE_ALARMS))
def test_the_lumen_after_d_is_within_target(name):
    """The lumen 2-5 mm after D reads within the 10% target (textured-55 -4.5%, calcified-90 +2.2% measured)."""
    error, _ = _window_error(FALSE_ALARMS[name][0], "D")
    assert abs(error) <= TARGET


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=f"false alarm: {why}"))
                                  for name, (_, why) in sorted(FALSE_ALARMS.items())])
def test_no_uncertainty_warning_after_d_where_the_lumen_holds(name):
    _, result = _window_error(FALSE_ALARMS[name][0], "D")
    assert not [warning for warning in result.warnings if UNCERTAIN in warning and "after D" in warning]


@pytest.mark.xfail(strict=True, reason="miss: under 40 HU white noise the lumen 2-5 mm before P reads -15% (+3.4% "
                   "without noise, -7% under 20 HU); the uncertainty reads 6% and no lumen warning names P")
def test_a_noise_biased_lumen_before_p_is_within_target_or_warned():
    error, result = _window_error(WHITE_40, "P")
    warned = [warning for warning in result.warnings if "lumen" in warning and "before P" in warning]
    assert abs(error) <= TARGET or warned
