"""Issue 15: imported centerlines. A dense, jittery centerline is smoothed before it is measured; a kinked
one is flagged; sparse hand-placed points are still interpolated exactly.

Truth: the phantom's analytic occlusion length and vessel volume, and its exact centerline.
"""

import numpy as np
import pytest
from conftest import phantom_for

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.phantom import _path_local, _vessel_transform
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
