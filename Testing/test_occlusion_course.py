"""Issue 22: phantoms whose course inside the occlusion is not the lumen's (a tight bend, an S-curve), and an
ECG-misregistration step. Their geometry is checked here against closed-form values; what the analysis reads on
them is in docs/accuracy.md.
"""

import dataclasses

import numpy as np
import pytest

from CTOPlaqueLib.phantom import (COURSE_PRESETS, PATH_STEP_MM, PhantomSpec, _bending_truth_deg, _course_turns,
                                  _in_myocardium, _misregistered, _Path, _path_local, slab_step_k)


@pytest.mark.parametrize("name", ["occluded-bend-90", "occluded-bend-45", "s-curve"])
def test_course_is_parameterized_by_arc_length_and_turns_as_specified(name):
    """Points 0.01 mm apart in arc are 0.01 mm apart in space (no jump between the pieces), and the heading turns
    by the bend's angle (one way for the bend; there and back for the S-curve) only inside the occlusion."""
    spec = COURSE_PRESETS[name]
    arc = np.arange(0.0, spec.length_mm, 0.01)
    points = _path_local(spec, arc)
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    assert np.abs(steps - 0.01).max() < 1e-6
    heading = np.degrees(np.unwrap(np.arctan2(np.diff(points[:, 1]), np.diff(points[:, 0]))))
    turning = np.abs(np.diff(heading)) > 1e-6
    assert arc[1:-1][turning].min() > spec.p_mm and arc[1:-1][turning].max() < spec.d_mm
    expected = spec.course_bend_deg if spec.shape == "occluded-bend" else 0.0
    assert heading[-1] - heading[0] == pytest.approx(expected, abs=1e-4)
    assert np.abs(heading).max() == pytest.approx(spec.course_bend_deg, abs=0.05)  # headings at 0.005 mm midpoints


def test_bending_truth_is_the_turn_within_ten_mm():
    """A 90 degree turn over 7.85 mm (5 mm radius) lies within one 10 mm window: 90; a 45 degree turn of 10 mm
    radius (7.85 mm) too: 45; the S-curve's two 40 degree turns of 8 mm radius (5.6 mm each): a 10 mm window holds
    the first turn and the straight before it: 40."""
    assert _bending_truth_deg(COURSE_PRESETS["occluded-bend-90"]) == pytest.approx(90.0, abs=0.1)
    assert _bending_truth_deg(COURSE_PRESETS["occluded-bend-45"]) == pytest.approx(45.0, abs=0.1)
    assert _bending_truth_deg(COURSE_PRESETS["s-curve"]) == pytest.approx(40.0, abs=0.25)  # 0.05 mm path steps


def test_misregistration_shifts_every_slice_from_the_occlusions_middle_on():
    """On an image varying only along i, slices before the step are unchanged, slices from it on are the
    image shifted by the step (2 mm = 5 voxels of 0.4 mm) along i."""
    spec = dataclasses.replace(PhantomSpec(), slab_step_mm=2.0, spacing_mm=(0.4, 0.4, 0.5))
    ijk_to_ras = np.diag([0.4, 0.4, 0.5, 1.0])
    rotation, offset = np.eye(3), np.array([0.0, 0.0, 10.0])  # the vessel's plane at z = 10 mm: slice 20
    ramp = np.broadcast_to(np.arange(60.0) ** 2, (40, 10, 60)).copy()
    assert slab_step_k(spec, ijk_to_ras, rotation, offset) == 20
    shifted = _misregistered(spec, ramp, ijk_to_ras, rotation, offset)
    assert np.array_equal(shifted[:20], ramp[:20])
    assert np.allclose(shifted[20:, :, 5:], ramp[20:, :, :55])


@pytest.mark.parametrize("name", ["occluded-bend-90-heart", "occluded-bend-60-heart", "occluded-bend-45-heart"])
def test_myocardium_inside_the_turn_starts_its_gap_from_the_occluded_wall(name):
    """With the heart on the inner side of the bend, a point on the path's left normal is myocardium from the
    occluded radius plus the gap (3.1 mm) on, fat before, whether beside the straight legs or at the turn's middle;
    the turn's centre (one bend radius in) is myocardium, the outer side never is."""
    spec = COURSE_PRESETS[name]
    path = _Path.make(spec)
    start, length, _ = _course_turns(spec)[0]
    edge_mm = spec.occlusion_radius_mm + spec.myocardium_gap_mm
    for arc_mm in (spec.p_mm + 1.0, start + 0.5 * length, spec.d_mm - 1.0):
        index = int(round(arc_mm / PATH_STEP_MM))
        point, normal = path.points[index, :2], path.normals[index]
        offsets = np.array([edge_mm - 0.05, edge_mm + 0.05, -edge_mm - 0.05, -8.0])
        local = np.column_stack([point + offsets[:, None] * normal, np.zeros(len(offsets))])
        assert _in_myocardium(spec, local, local[:, 2], path).tolist() == [False, True, False, False]
    centre = path.points[int(round(start / PATH_STEP_MM)), :2] + spec.course_bend_radius_mm * path.normals[
        int(round(start / PATH_STEP_MM))]
    assert _in_myocardium(spec, np.array([[*centre, 5.0]]), np.array([5.0]), path)[0]
