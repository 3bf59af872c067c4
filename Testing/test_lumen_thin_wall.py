"""The lumen edge inside a thin normal wall (issue 26: ``wrap-vein`` and ``heart-long-low-contrast`` read +12..+22%
lumen area next to the caps, their 0.4 mm normal wall; docs/accuracy.md, "The lumen inside a thin normal wall").

A 60 HU wall 0.4 mm thick between the lumen and the fat is about one blur sigma (0.35 mm): the lumen/wall step and
the wall/fat step blur into one fall, whose steepest slope lies outside the lumen edge (0.11-0.18 mm for one
dimension's two blurred steps with these contrasts; 0.10-0.16 mm measured on the presets without noise): here +13% /
+23% of the area before P / after D. With the default 1.1 mm wall, the two steps three sigmas apart, +3% / +7% (the
presets with it: -4..+6%). Noise-free phantoms on the true centerline and landmarks; the lumen area where the truth
is flat (S..P less the taper and 0.5 mm, D + 2 mm..E) against the phantom's lumen radius.
"""

import numpy as np
import pytest
from conftest import analyze_on_true_centerline, generated_phantom

from CTOPlaqueLib.phantom import PhantomSpec, lumen_radius_mm
from CTOPlaqueLib.quality import MAX_UNRESOLVED_WALL_FRACTION
from CTOPlaqueLib.section_view import warning_marks

SHORT = dict(proximal_mm=8.0, occlusion_length_mm=8.0, distal_mm=8.0, noise_sd_hu=0.0)
THIN_WALL_OVER = "a 0.4 mm wall under a 0.35 mm blur: its fall to fat moves the lumen's steepest slope out (not solved)"


@pytest.mark.parametrize("wall_mm", [1.1, pytest.param(0.4, marks=pytest.mark.xfail(strict=True,
                                                                                     reason=THIN_WALL_OVER))])
def test_lumen_area_inside_a_normal_wall(wall_mm):
    """The mean lumen area of each flat window within 10% of the truth (the issue 26 target)."""
    spec = PhantomSpec(**SHORT, normal_wall_mm=wall_mm)
    phantom = generated_phantom(spec)
    result = analyze_on_true_centerline(phantom)
    arc, marks = result.profile.arc_mm, result.landmarks_mm
    truth_mm2 = np.pi * lumen_radius_mm(spec, arc + spec.p_mm - phantom.truth["landmarks_mm"]["P"]) ** 2
    area = result.profile.lumen_area_mm2
    for flat in ((arc >= marks["S"]) & (arc <= marks["P"] - spec.cap_taper_mm - 0.5),
                 (arc >= marks["D"] + 2.0) & (arc <= marks["E"])):
        assert area[flat].mean() == pytest.approx(truth_mm2[flat].mean(), rel=0.10)


@pytest.mark.parametrize("wall_mm, warned", [(1.1, False), (0.4, True)])
def test_lumen_inside_a_thin_wall_is_warned_on_each_side(wall_mm, warned):
    """The 0.4 mm wall is unresolved in most sections of the 5 mm next to each cap (0.70 before P, 0.85 after D
    measured), above MAX_UNRESOLVED_WALL_FRACTION, and the warning names both sides (where the flat lumen begins, 2 mm
    from each cap, with a mark at each on the section slider); the 1.1 mm wall in a quarter at most (0.25 and 0
    measured: its wall/fat edge is resolved), and no warning."""
    phantom = generated_phantom(PhantomSpec(**SHORT, normal_wall_mm=wall_mm))
    result = analyze_on_true_centerline(phantom)
    for side in ("proximal", "distal"):
        assert (result.quality[f"{side}_wall_unresolved_fraction"] > MAX_UNRESOLVED_WALL_FRACTION) == warned
    thin = [w for w in result.warnings if "thinner than the scan resolves" in w]
    assert thin == ([w for w in thin if w.startswith("2.0 mm before P and 2.0 mm after D")] if warned else [])
    assert len(thin) == warned
    marks = [(text, mm) for text, mm in warning_marks(result.quality, result.landmarks_mm)
             if text.startswith("lumen inside a thin wall")]
    expected = [("lumen inside a thin wall, 2.0 mm before P", result.landmarks_mm["P"] - 2.0),
                ("lumen inside a thin wall, 2.0 mm after D", result.landmarks_mm["D"] + 2.0)]
    assert [(text, pytest.approx(mm)) for text, mm in marks] == (expected if warned else [])
