"""Quality flags fire on wrong centerlines and misplaced landmarks (and stay quiet on right ones:
test_realistic_anatomy.py). The wrong centerlines are the true one displaced, inside the occlusion,
into the myocardium or onto the vein's axis: what a minimal path through the wrong tissue gives."""

import numpy as np
import pytest
from conftest import CENTERLINE_WARNINGS, generated_phantom, preset_phantom

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.centerline_extraction import arc_bridge
from CTOPlaqueLib.phantom import PRESETS, VEIN_RADIUS_MM, PhantomSpec, _path_local, _vessel_transform
from CTOPlaqueLib.quality import MIN_WINDOW_FAT_EDGE_FRACTION
from CTOPlaqueLib.volume_io import Volume


def displaced_centerline(spec: PhantomSpec, toward: str, depth_mm: float) -> np.ndarray:
    """The centerline (RAS) of the phantom of ``spec`` moved by up to ``depth_mm`` between P and D (3 mm ramps at the
    caps): "inner" toward the centre of the bend (myocardium of a wrap), "outer" away from it (the vein beside), "up"
    out of the vessel plane (the vein above)."""
    arc = np.linspace(0.5, spec.length_mm - 0.5, int(round(spec.length_mm - 1.0)) + 1)
    local = _path_local(spec, arc)
    tangents = np.gradient(local, arc, axis=0)
    tangents /= np.linalg.norm(tangents, axis=1)[:, None]
    inner = np.stack([-tangents[:, 1], tangents[:, 0], np.zeros(len(arc))], axis=1)
    direction = {"inner": inner, "outer": -inner, "up": np.array([0.0, 0.0, 1.0])}[toward]
    ramp = np.clip(np.minimum(arc - spec.p_mm, spec.d_mm - arc) / 3.0, 0.0, 1.0)
    rotation, offset = _vessel_transform(spec)
    return (local + depth_mm * ramp[:, None] * direction) @ rotation.T + offset


def _analyze(spec, centerline_ras, landmarks_ras=None):
    phantom = generated_phantom(spec)
    volume = Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)
    return analyze_lesion(volume, centerline_ras, landmarks_ras or phantom.landmarks_ras)


def _vein_axis_mm(spec):
    return spec.occlusion_radius_mm + spec.vein_gap_mm + VEIN_RADIUS_MM


@pytest.mark.parametrize("name, depth_mm", [("wrap", 4.0), ("wrap-contact", 3.5), ("long-bend", 4.0)])
def test_centerline_through_the_myocardium_is_flagged(name, depth_mm):
    result = _analyze(PRESETS[name], displaced_centerline(PRESETS[name], "inner", depth_mm))
    assert result.quality["occlusion_min_fat_edge_fraction"] < MIN_WINDOW_FAT_EDGE_FRACTION
    assert any("no fat around it" in w and "add a seed inside the occlusion" in w for w in result.warnings)


# The presets' 380 HU veins, and a dim one (300 HU against 420..450 HU arterial contrast: a later venous phase), which
# read as through contrast along 0% of the occlusion while the contrast level was 80% of the vessel's contrast.
VEINS = {"vein": (PRESETS["vein"], "outer"), "wrap-vein": (PRESETS["wrap-vein"], "outer"),
         "curved": (PRESETS["curved"], "up"), "dim-vein-300": (PhantomSpec(vein_hu=300.0), "up")}


@pytest.mark.parametrize("name", VEINS)
def test_centerline_along_a_vein_is_flagged(name):
    spec, toward = VEINS[name]
    result = _analyze(spec, displaced_centerline(spec, toward, _vein_axis_mm(spec)))
    assert result.quality["occlusion_contrast_fraction"] > 0.5
    assert any("through contrast" in w for w in result.warnings)


def test_correct_centerline_of_the_same_cases_is_quiet():
    for name in ("wrap", "vein", "long-bend"):
        result = _analyze(PRESETS[name], preset_phantom(name).centerline_ras)
        assert not [w for w in result.warnings if any(key in w for key in CENTERLINE_WARNINGS)], name
        assert result.quality["occlusion_min_fat_edge_fraction"] > MIN_WINDOW_FAT_EDGE_FRACTION
        assert result.quality["occlusion_contrast_fraction"] < 0.3


def test_landmark_off_the_centerline_is_flagged():
    phantom = preset_phantom("wrap")
    rotation, _ = _vessel_transform(PRESETS["wrap"])
    landmarks = dict(phantom.landmarks_ras)
    landmarks["E"] = landmarks["E"] + 2.0 * rotation[:, 2]  # the local z axis: across the planar vessel
    result = _analyze(PRESETS["wrap"], phantom.centerline_ras, landmarks)
    assert result.quality["landmark_max_distance_mm"] == pytest.approx(2.0, abs=0.2)
    assert any("2.0 mm from the centerline" in w for w in result.warnings)


def test_cap_placed_inside_the_occlusion_is_flagged():
    """D moved 8 mm proximally into the occlusion: no contrast in the 5 mm after it."""
    phantom = preset_phantom("wrap")
    spec = PRESETS["wrap"]
    rotation, offset = _vessel_transform(spec)
    landmarks = dict(phantom.landmarks_ras)
    landmarks["D"] = _path_local(spec, np.array([spec.d_mm - 8.0]))[0] @ rotation.T + offset
    result = _analyze(spec, phantom.centerline_ras, landmarks)
    assert not result.quality["lumen_distal"] and result.quality["lumen_proximal"]
    assert any("after D" in w for w in result.warnings)


@pytest.mark.parametrize("angle_deg", [20.0, 60.0, 90.0])
def test_arc_bridge_follows_the_circle_through_its_ends(angle_deg):
    """Two points of a circle (radius 18 mm) with their tangents: the bridge stays on the circle
    (cubic Bezier arc approximation, radial error below 0.03% of the radius up to 90 degrees)."""
    radius, theta = 18.0, np.radians(angle_deg)
    start, end = np.array([radius, 0.0, 0.0]), radius * np.array([np.cos(theta), np.sin(theta), 0.0])
    bridge = arc_bridge(start, np.array([0.0, 1.0, 0.0]), end, np.array([-np.sin(theta), np.cos(theta), 0.0]))
    radial_error = np.abs(np.linalg.norm(bridge[:, :2], axis=1) - radius)
    assert radial_error.max() <= 3e-4 * radius
    assert np.allclose(bridge[[0, -1]], [start, end])
    steps = np.linalg.norm(np.diff(bridge, axis=0), axis=1)
    assert steps.sum() == pytest.approx(radius * theta, rel=1e-3)


def test_arc_bridge_passes_through_a_seed_inside_the_gap():
    waypoint = np.array([5.0, 2.0, 0.0])
    bridge = arc_bridge(np.zeros(3), np.array([1.0, 0.0, 0.0]), np.array([10.0, 0.0, 0.0]),
                        np.array([1.0, 0.0, 0.0]), [waypoint], step_mm=0.05)
    assert np.min(np.linalg.norm(bridge - waypoint, axis=1)) < 0.05
