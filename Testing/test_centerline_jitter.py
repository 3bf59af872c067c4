"""Issue 15: imported centerlines. A dense, jittery centerline is smoothed before it is measured; a kinked
one is flagged; sparse hand-placed points are still interpolated exactly. Issue 25: seeds placed a fraction of
a millimetre off still find the occluded artery.

Truth: the phantom's analytic occlusion length and vessel volume, and its exact centerline.
"""

import numpy as np
import pytest
from conftest import distances_inside_occlusion_mm, phantom_for, preset_phantom

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.centerline_extraction import extract_centerline, lumen_stretches, occlusion_gap
from CTOPlaqueLib.phantom import PRESETS, _path_local, _vessel_transform
from CTOPlaqueLib.quality import MAX_CURVATURE_RADIUS_PRODUCT
from CTOPlaqueLib.volume_io import Volume


def _volume(phantom):
    return Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)


def _true_points(phantom, arc_mm):
    rotation, offset = _vessel_transform(phantom.spec)
    return _path_local(phantom.spec, arc_mm) @ rotation.T + offset


@pytest.mark.parametrize("name", ["curved", "bend"])
@pytest.mark.parametrize("noise_mm", [0.2, 0.3])
def test_jittery_dense_centerline_measures_like_the_true_one(name, noise_mm):
    """Points every 1 mm with 0.2..0.3 mm Gaussian jitter (each axis): length within 1%, volume within 5%,
    and no curvature warning."""
    phantom = phantom_for(name)
    arc = np.arange(0.0, phantom.spec.length_mm + 1e-9, 1.0)
    jittered = _true_points(phantom, arc) + np.random.default_rng(7).normal(0.0, noise_mm, (len(arc), 3))
    result = analyze_lesion(_volume(phantom), jittered, phantom.landmarks_ras)
    assert result.occlusion_length_mm == pytest.approx(phantom.truth["occlusion_length_mm"], rel=0.01)
    assert result.total_plaque_volume_mm3 == pytest.approx(phantom.truth["total_plaque_volume_mm3"], rel=0.05)
    assert result.quality["occlusion_max_curvature_radius_product"] < MAX_CURVATURE_RADIUS_PRODUCT
    assert not [w for w in result.warnings if "radius of curvature" in w]


def test_smoothing_keeps_the_bend_and_removes_the_jitter():
    """Exact points every 1 mm on the 8 mm radius bend keep its curvature (1/8 per mm, within 10%) through the
    smoothing; with 0.3 mm jitter (six draws) no point of the curve bends tighter than a 4 mm radius."""
    phantom = phantom_for("bend")
    spec = phantom.spec
    arc = np.arange(0.0, spec.length_mm + 1e-9, 1.0)
    exact = sample_centerline(_true_points(phantom, arc), 0.25)
    middle = np.abs(exact.arc_mm - 0.5 * (spec.p_mm + spec.d_mm)) < 1.0
    assert np.median(np.linalg.norm(exact.curvature_vectors[middle], axis=1)) == pytest.approx(1.0 / 8.0, rel=0.1)
    for seed in range(1, 7):
        jittered = _true_points(phantom, arc) + np.random.default_rng(seed).normal(0.0, 0.3, (len(arc), 3))
        assert np.linalg.norm(sample_centerline(jittered, 0.25).curvature_vectors, axis=1).max() < 0.25, seed


def test_sparse_points_are_interpolated_exactly():
    """Hand-placed points (5 mm apart) are not smoothed: the sampled curve passes through each of them."""
    phantom = phantom_for("curved")
    points = _true_points(phantom, np.arange(0.0, phantom.spec.length_mm, 5.0)) + [0.3, -0.2, 0.1] * np.array(
        [[(-1) ** i] for i in range(int(np.ceil(phantom.spec.length_mm / 5.0)))])
    centerline = sample_centerline(points, 0.05)
    nearest = np.min(np.linalg.norm(centerline.points_ras[:, None] - points[None], axis=2), axis=0)
    assert nearest.max() < 0.03


def test_kinked_centerline_is_flagged():
    """A zigzag of 1.5 mm across 3 mm spaced points inside the occlusion: curvature radius far below the
    vessel's, so the warning names it."""
    phantom = phantom_for("curved")
    spec = phantom.spec
    arc = np.arange(0.0, spec.length_mm + 1e-9, 3.0)
    zigzag = np.where((arc > spec.p_mm + 3) & (arc < spec.d_mm - 3), 1.5 * (-1.0) ** np.arange(len(arc)), 0.0)
    local = _path_local(spec, arc) + zigzag[:, None] * np.array([0.0, 0.0, 1.0])
    rotation, offset = _vessel_transform(spec)
    result = analyze_lesion(_volume(phantom), local @ rotation.T + offset, phantom.landmarks_ras)
    assert result.quality["occlusion_max_curvature_radius_product"] > MAX_CURVATURE_RADIUS_PRODUCT
    assert any("radius of curvature" in w and "extract the centerline from seeds" in w for w in result.warnings)


def test_the_occlusion_is_the_longest_stretch_without_lumen():
    """Issue 25 item 4: a 1.5 mm loss of contrast 5.5 mm from the ostium (as a section centred off the lumen
    shows it) is not the cap, and a 2 mm stretch passing for lumen inside the occlusion (a bright cap) does not
    end it, nor does a 3.5 mm one near the distal cap. Sections 0.25 mm apart: lumen 0..87 with a loss at
    22..27, occlusion 88..179 with 'lumen' at 110..117 and 150..163, lumen 180..239."""
    present = np.ones(240, bool)
    present[22:28] = False
    present[88:180] = False
    present[110:118] = True
    present[150:164] = True
    has_lumen = lumen_stretches(present, max_gap_sections=4, min_lumen_sections=20)
    assert occlusion_gap(has_lumen) == (87, 180)
    assert occlusion_gap(np.ones(40, bool)) is None
    assert occlusion_gap(np.r_[np.zeros(10, bool), np.ones(30, bool)]) is None


def _jittered_seeds(phantom, rng, reach_mm=0.8):
    """The ostium and distal seeds each moved up to ``reach_mm`` in a random direction."""
    directions = rng.normal(size=(2, 3))
    directions /= np.linalg.norm(directions, axis=1)[:, None]
    return phantom.centerline_ras[[0, -1]] + directions * rng.uniform(0.2, reach_mm, (2, 1))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_jittered_seeds_find_the_occluded_artery_on_every_preset(name):
    """Issue 25 item 4: two seedings per preset, each seed moved 0.2..0.8 mm: no error, and inside the occlusion
    the centerline stays within the targets of two exact seeds (mean <= 0.3 mm, max <= 1.0 mm from the truth).
    Issue 22 item 3: no note calls the bridge uncertain (a false alarm: the course is right and shows)."""
    phantom = preset_phantom(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    for _ in range(2):
        notes = []
        points = extract_centerline(_volume(phantom), _jittered_seeds(phantom, rng), notes=notes)
        distances = distances_inside_occlusion_mm(phantom, points)
        assert distances.mean() <= 0.3, name
        assert distances.max() <= 1.0, name
        assert not [note for note in notes if "uncertain bridge" in note], name
