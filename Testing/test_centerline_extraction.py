"""Centerline extraction from seeds on phantoms: distance to the true centerline, and volumes from it."""

import numpy as np
import pytest
from conftest import PHANTOM_CASES, distances_inside_occlusion_mm, phantom_for

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.centerline_extraction import extract_centerline
from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.volume_io import Volume


def _volume(phantom):
    return Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)


def _seeds(phantom):
    """Ostium, one waypoint, distal end: what a user clicks."""
    return phantom.centerline_ras[[0, len(phantom.centerline_ras) // 2, -1]]


@pytest.fixture(scope="module", params=sorted(PHANTOM_CASES))
def extracted(request):
    phantom = phantom_for(request.param)
    return phantom, extract_centerline(_volume(phantom), _seeds(phantom))


def test_extracted_centerline_is_within_tolerance_inside_the_occlusion(extracted):
    """Issue 3: mean distance <= 0.3 mm and maximum <= 1.0 mm to the true centerline inside the occlusion."""
    phantom, points = extracted
    distances = distances_inside_occlusion_mm(phantom, points)
    assert distances.mean() <= 0.3
    assert distances.max() <= 1.0


def test_volumes_from_the_extracted_centerline_meet_the_engine_tolerances(extracted):
    phantom, points = extracted
    result = analyze_lesion(_volume(phantom), points, phantom.landmarks_ras)
    truth = phantom.truth
    assert result.occlusion_length_mm == pytest.approx(truth["occlusion_length_mm"], abs=0.5)
    assert result.total_plaque_volume_mm3 == pytest.approx(truth["total_plaque_volume_mm3"], rel=0.10)
    for name in COMPONENTS:
        assert result.pav_percent[name] == pytest.approx(
            truth["composition_written_image"]["pav_percent"][name], abs=5.0)


def test_too_few_seeds():
    phantom = phantom_for("straight")
    with pytest.raises(CTOPlaqueInputError, match="at least two seeds"):
        extract_centerline(_volume(phantom), phantom.centerline_ras[:1])


def test_seed_outside_the_volume():
    phantom = phantom_for("straight")
    seeds = _seeds(phantom).copy()
    seeds[1] += [500.0, 0.0, 0.0]
    with pytest.raises(CTOPlaqueInputError, match="seed 2 lies outside the volume"):
        extract_centerline(_volume(phantom), seeds)


def test_seed_in_air():
    phantom = phantom_for("straight")
    volume = _volume(phantom)
    volume.hu[:] = np.where(np.arange(volume.hu.shape[2]) < 6, -1000.0, volume.hu)
    corner = volume.ijk_to_ras @ np.array([2.0, volume.hu.shape[1] / 2, volume.hu.shape[0] / 2, 1.0])
    seeds = np.vstack([_seeds(phantom)[:2], corner[:3]])
    with pytest.raises(CTOPlaqueInputError, match="seed 3 is in air"):
        extract_centerline(volume, seeds)


def test_seeds_out_of_order():
    phantom = phantom_for("straight")
    points = phantom.centerline_ras
    seeds = points[[0, -1, len(points) // 2]]
    with pytest.raises(CTOPlaqueInputError, match="place the seeds in order"):
        extract_centerline(_volume(phantom), seeds)
