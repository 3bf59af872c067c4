"""The straightened vessel's longitudinal sections (Figure 2A) against the phantoms' truth (phantom.py)."""

import numpy as np
import pytest
from conftest import PHANTOM_CASES, analyze_on_true_centerline, phantom_for

from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.phantom import lumen_radius_mm, vessel_radius_mm
from CTOPlaqueLib.straightening import WALL_LABEL, longitudinal_section, straighten
from CTOPlaqueLib.volume_io import Volume

DENSE_CALCIUM = COMPONENTS.index("dense_calcium") + 1


@pytest.fixture(scope="module", params=["long", "bend"])
def sections(request):
    phantom = phantom_for(request.param)
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    analysis = analyze_on_true_centerline(phantom)
    straight = straighten(volume, analysis)
    # Arc length of the phantom's path at each section: the analysis places P at the phantom's p_mm.
    phantom_arc = analysis.centerline.arc_mm + (PHANTOM_CASES[request.param].p_mm - analysis.landmarks_mm["P"])
    return (PHANTOM_CASES[request.param], analysis, phantom_arc,
            {axis: longitudinal_section(volume, analysis, axis) for axis in ("u", "v")}, straight)


def test_longitudinal_sections_are_the_straightened_volumes_planes_pixel_for_pixel(sections):
    """The straightened PNG samples its two planes alone: the same numbers as the planes through the axis of the
    whole straightened volume (j = n for u, i = n for v), bit for bit, and the contours' crossings of them at the
    planes' angles (0/180 and 90/270 degrees) from the analysis's radii."""
    _, analysis, _, cuts, straight = sections
    centre = straight.hu.shape[1] // 2
    for axis, plane in (("u", (slice(None), centre, slice(None))), ("v", (slice(None), slice(None), centre))):
        assert np.array_equal(cuts[axis].hu, straight.hu[plane].T)
        assert np.array_equal(cuts[axis].composition, straight.composition[plane].T)
        assert np.array_equal(cuts[axis].offsets_mm, straight.ijk_to_ras[0, 3] + straight.ijk_to_ras[0, 0]
                              * np.arange(straight.hu.shape[2]))
    angles = analysis.vessel_radii_mm.shape[1]
    np.testing.assert_allclose(cuts["u"].vessel_edges_mm, [analysis.vessel_radii_mm[:, 0],
                                                           -analysis.vessel_radii_mm[:, angles // 2]], atol=1e-9)
    np.testing.assert_allclose(cuts["v"].lumen_edges_mm, [analysis.lumen_radii_mm[:, angles // 4],
                                                          -analysis.lumen_radii_mm[:, 3 * angles // 4]], atol=1e-9)


def test_contours_cross_the_sections_at_the_true_radii(sections):
    """Both sides of both planes: outer wall in the occlusion body, lumen in the proximal segment."""
    spec, analysis, arc, cuts, _ = sections
    body = (arc > spec.p_mm + 4) & (arc < spec.d_mm - 4)
    proximal = (arc > 2) & (arc < spec.p_mm - 3)
    for section in cuts.values():
        for side, sign in zip(section.vessel_edges_mm, (1, -1)):
            error = sign * side[body] - vessel_radius_mm(spec, arc[body])
            assert abs(error.mean()) < 0.25 and np.abs(error).max() < 0.6
        for side, sign in zip(section.lumen_edges_mm, (1, -1)):
            error = sign * side[proximal] - lumen_radius_mm(spec, arc[proximal])
            assert abs(error.mean()) < 0.25 and np.abs(error).max() < 0.5


def test_overlay_colours_only_the_occluded_wall_and_calcium_only_where_the_phantom_has_it(sections):
    spec, analysis, arc, cuts, straight = sections
    outside = (arc < spec.p_mm - 0.3) | (arc > spec.d_mm + 0.3)
    coloured = straight.composition > 0
    assert not coloured[outside].any() and (straight.labels[coloured] == WALL_LABEL).all()
    calcium_sections = (straight.composition == DENSE_CALCIUM).any(axis=(1, 2))
    nodule_arc = spec.p_mm + 0.4 * spec.occlusion_length_mm     # 1 mm radius nodule
    sheet_arc = spec.p_mm + 0.7 * spec.occlusion_length_mm      # 4 mm long sector, if calcified_arc_deg
    calcium_near = np.abs(arc - nodule_arc) < 1.0 + 1.0         # allowance: blur and partial volume
    if spec.calcified_arc_deg:
        calcium_near |= np.abs(arc - sheet_arc) < 2.0 + 1.0
    assert not calcium_sections[~calcium_near].any()
    assert calcium_sections[np.abs(arc - nodule_arc) < 0.6].all()
    sheet_seen = False
    for section in cuts.values():
        assert not section.composition[:, outside].any()
        assert section.composition.any()
        plane_calcium = (section.composition == DENSE_CALCIUM).any(axis=0)
        assert not plane_calcium[~calcium_near].any()
        sheet_seen |= bool(plane_calcium[np.abs(arc - sheet_arc) < 2.0].any())
    assert sheet_seen == (spec.calcified_arc_deg > 180)  # a sector over 180 degrees crosses one of the planes
