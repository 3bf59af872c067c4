"""The section plane a slice view is reformatted to, against an analytic circular centerline, and the positions
the panel jumps to, against hand-made quality measures and the positions their warnings name in words."""

import json

import numpy as np
import pytest
from warning_positions import assert_marks_are_the_warnings

from CTOPlaqueLib import quality as quality_module
from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.quality import is_reviewed, quality_warnings, warning_kinds
from CTOPlaqueLib.section_view import (landmarks_text, lesion_warning_marks, section_to_ras, slider_ruler,
                                       straightened_section_line_ras, straightened_view_to_ras, warning_marks)

RADIUS_MM = 20.0


def _circle_centerline():
    """A quarter circle of radius 20 mm in the axial plane (z = 5) through 13 hand-placed points: the arc length s
    from the first point puts the centerline at (R cos(s/R), R sin(s/R), 5) with tangent (-sin, cos, 0). (Within
    a few mm of its ends the natural spline straightens, by 2 degrees at the ends; the sections tested lie inside.)"""
    angles = np.linspace(0.0, np.pi / 2, 13)
    points = np.column_stack([RADIUS_MM * np.cos(angles), RADIUS_MM * np.sin(angles), np.full_like(angles, 5.0)])
    return sample_centerline(points, 0.25)


@pytest.mark.parametrize("distance_mm", [5.0, 7.3, 15.5, 26.1])
def test_section_plane_is_perpendicular_to_the_centerline_at_that_distance(distance_mm):
    matrix = section_to_ras(_circle_centerline(), distance_mm)
    angle = distance_mm / RADIUS_MM
    point = np.array([RADIUS_MM * np.cos(angle), RADIUS_MM * np.sin(angle), 5.0])
    tangent = np.array([-np.sin(angle), np.cos(angle), 0.0])
    normal_error_deg = np.degrees(np.arccos(np.clip(matrix[:3, 2] @ tangent, -1.0, 1.0)))
    assert normal_error_deg < 1.0
    assert np.linalg.norm(matrix[:3, 3] - point) < 0.1
    assert np.allclose(matrix[:3, :3].T @ matrix[:3, :3], np.eye(3), atol=1e-9)
    assert np.linalg.det(matrix[:3, :3]) == pytest.approx(1.0)
    assert np.allclose(matrix[3], [0, 0, 0, 1])


def test_at_a_sampled_section_the_plane_is_that_sections_frame_and_beyond_the_ends_the_end_section():
    centerline = _circle_centerline()
    index = 37
    expected = np.column_stack([centerline.normals_u[index], centerline.normals_v[index], centerline.tangents[index],
                                centerline.points_ras[index]])
    assert np.allclose(section_to_ras(centerline, centerline.arc_mm[index])[:3], expected, atol=1e-9)
    assert np.allclose(section_to_ras(centerline, 1e3)[:3, 3], centerline.points_ras[-1])
    assert np.allclose(section_to_ras(centerline, -5.0)[:3, 3], centerline.points_ras[0])


def test_landmarks_text_orders_s_p_d_e():
    text = landmarks_text({"P": 14.0, "E": 42.04, "D": 36.0, "S": 8.0})
    assert text == "S 8.0 \u00b7 P 14.0 \u00b7 D 36.0 \u00b7 E 42.0 mm"
    assert landmarks_text({"P": 3.0, "D": 9.25}) == "P 3.0 \u00b7 D 9.2 mm"
    assert landmarks_text({}) == ""


def test_warning_marks_are_the_positions_of_the_flagged_measures():
    landmarks_mm = {"S": 8.0, "P": 14.0, "D": 36.0, "E": 42.0}
    quality = dict(CLEAN_QUALITY, occlusion_min_local_area_ratio=0.6, occlusion_min_local_area_at_mm=6.3,
                   reference_lumen_found={"S": True, "E": False}, reference_wall_resolved={"S": False, "E": True})
    assert warning_marks(quality, landmarks_mm) == [("wall closes in, 6.3 mm after P", pytest.approx(20.3)),
                                                    ("no lumen found at E", 42.0), ("wall not resolved at S", 8.0)]
    clean = dict(quality, occlusion_min_local_area_ratio=0.93, reference_lumen_found={"S": True, "E": True},
                 reference_wall_resolved={"S": True, "E": True})
    assert warning_marks(clean, landmarks_mm) == []
    flagged = dict(clean, occlusion_wall_outward_area_fraction=0.12, occlusion_wall_outward_at_mm=4.0,
                   occlusion_wall_outward_mm=0.2, cap_lumen_vessel_area_ratio=0.7, cap_lumen_vessel_area_at_mm=-1.5,
                   misregistration_step_mm=2.0, **SITED_MEASURES[-1][3])  # the step at 25.0 mm
    assert warning_marks(flagged, landmarks_mm) == [("wall pushed outward, 4.0 mm after P", 18.0),
                                                    ("lumen on the outer wall, 1.5 mm before P", 12.5),
                                                    ("misregistration step of 2.0 mm", 25.0)]
    after_d = dict(clean, cap_lumen_vessel_area_ratio=0.7, cap_lumen_vessel_area_at_mm=2.5)
    assert warning_marks(after_d, landmarks_mm) == [("lumen on the outer wall, 2.5 mm after D", 38.5)]
    both = dict(after_d, cap_lumen_vessel_area_other_ratio=0.65, cap_lumen_vessel_area_other_at_mm=-1.5)
    assert warning_marks(both, landmarks_mm) == [("lumen on the outer wall, 2.5 mm after D", 38.5),
                                                 ("lumen on the outer wall, 1.5 mm before P", 12.5)]
    assert warning_marks(dict(both, cap_lumen_vessel_area_other_ratio=0.55), landmarks_mm) == [
        ("lumen on the outer wall, 2.5 mm after D", 38.5)]
    after_d_edited = [[30.0, 40.0]]  # the lumen-on-wall warning names both sides: not reviewed with one edited
    raised = warning_kinds(both)  # the automatic analysis raised the same warnings
    assert not [w for w in quality_warnings(both, landmarks_mm, after_d_edited, 0.25, raised) if is_reviewed(w)]
    assert warning_marks(both, landmarks_mm, after_d_edited, 0.25, raised) == warning_marks(both, landmarks_mm)
    both_edited = warning_marks(both, landmarks_mm, after_d_edited + [[12.0, 13.0]], 0.25, raised)
    assert [description for description, _ in both_edited] == ["lumen on the outer wall, 2.5 mm after D, reviewed",
                                                               "lumen on the outer wall, 1.5 mm before P, reviewed"]
    quiet = dict(clean, occlusion_wall_outward_area_fraction=0.03, occlusion_wall_outward_at_mm=4.0,
                 cap_lumen_vessel_area_ratio=0.5, cap_lumen_vessel_area_at_mm=-1.5, misregistration_step_mm=0.3,
                 misregistration_step_at_mm=25.0)
    assert warning_marks(quiet, landmarks_mm) == []
    lost = dict(clean, lumen_proximal=True, proximal_cap_measured=False, proximal_lumen_end_mm=1.2)
    assert warning_marks(lost, landmarks_mm) == [("cap shape not measured, lumen last found, 1.2 mm before P",
                                                  pytest.approx(12.8))]
    assert warning_marks(dict(lost, lumen_proximal=False), landmarks_mm) == []


# An otherwise clean lesion (no warning), and for each measure that lies at one position: its value, the cut its
# warning fires beyond (the name in quality.py), which side of the cut fires (+1 above, -1 below) and its position.
CLEAN_QUALITY = {"occlusion_min_fat_edge_fraction": 0.8, "occlusion_fat_edge_fraction": 0.8,
                 "occlusion_contrast_fraction": 0.0, "lumen_proximal": True, "lumen_distal": True,
                 "landmark_max_distance_mm": 0.0, "reference_wall_resolved": {"S": True, "E": True},
                 "normal_wall_unresolved_fraction": 0.0, "blur_sigma_mm": 0.35}
SITED_MEASURES = [
    ("occlusion_min_local_area_ratio", "MIN_LOCAL_AREA_RATIO", -1, {"occlusion_min_local_area_at_mm": 6.3}),
    ("occlusion_wall_outward_area_fraction", "MAX_OUTWARD_AREA_FRACTION", +1,
     {"occlusion_wall_outward_at_mm": 4.0, "occlusion_wall_outward_mm": 0.2}),
    ("cap_lumen_vessel_area_ratio", "MAX_CAP_LUMEN_VESSEL_AREA_RATIO", +1, {"cap_lumen_vessel_area_at_mm": -1.5}),
    ("cap_lumen_vessel_area_ratio", "MAX_CAP_LUMEN_VESSEL_AREA_RATIO", +1, {"cap_lumen_vessel_area_at_mm": 2.5}),
    ("misregistration_step_mm", "MAX_MISREGISTRATION_STEP_MM", +1,
     {"misregistration_step_at_mm": 25.0, "misregistration_step_after_p_mm": 11.0,
      "misregistration_step_after_d_mm": -11.0, "misregistration_step_slice": 40})]


@pytest.mark.parametrize("key, cut, firing_side, where", SITED_MEASURES)
@pytest.mark.parametrize("moved_cut", [False, True])
def test_each_measure_has_its_mark_exactly_when_its_warning_fires(key, cut, firing_side, where, moved_cut,
                                                                  monkeypatch):
    """Just inside and just beyond the cut, and with the cut moved in quality.py alone (to 1.5 times its value):
    a mark where the warning names the position in its words, none without the warning."""
    if moved_cut:
        monkeypatch.setattr(quality_module, cut, 1.5 * getattr(quality_module, cut))
    landmarks_mm = {"S": 8.0, "P": 14.0, "D": 36.0, "E": 42.0}
    for beyond in (False, True):
        value = getattr(quality_module, cut) + (1 if beyond else -1) * firing_side * 0.01
        quality = dict(CLEAN_QUALITY, **where, **{key: value})
        warnings, marks = quality_warnings(quality), warning_marks(quality, landmarks_mm)
        assert len(warnings) == len(marks) == int(beyond)
        assert_marks_are_the_warnings(warnings, marks, landmarks_mm)


@pytest.mark.parametrize("moved_cut", [False, True])
def test_cap_shape_mark_is_where_its_warning_says_the_lumen_was_last_found(moved_cut, monkeypatch):
    """The cap's shape unmeasured with a lumen before P: a mark where the warning says the lumen was last found,
    exactly when the lumen ends more than half of CAP_END_MM before P (the cut, also moved in quality.py alone),
    none when the cap was measured or no lumen lies before P (another warning speaks then)."""
    if moved_cut:
        monkeypatch.setattr(quality_module, "CAP_END_MM", 2.0 * quality_module.CAP_END_MM)
    cut_mm = 0.5 * quality_module.CAP_END_MM
    landmarks_mm = {"S": 8.0, "P": 14.0, "D": 36.0, "E": 42.0}
    for end_mm, fires in ((cut_mm - 0.01, False), (cut_mm + 0.01, True), (3.2, True)):
        for measured, lumen in ((False, True), (True, True), (False, False)):
            quality = dict(CLEAN_QUALITY, proximal_cap_measured=measured, lumen_proximal=lumen,
                           proximal_lumen_end_mm=end_mm)
            warnings, marks = quality_warnings(quality), warning_marks(quality, landmarks_mm)
            sited = [warning for warning in warnings if "the lumen is last found" in warning]
            assert len(sited) == len(marks) == int(fires and lumen and not measured)
            assert_marks_are_the_warnings(sited, marks, landmarks_mm)


def test_reference_marks_are_the_landmarks_their_warnings_name():
    landmarks_mm = {"S": 8.0, "P": 14.0, "D": 36.0, "E": 42.0}
    quality = dict(CLEAN_QUALITY, reference_lumen_found={"S": False, "E": False},
                   reference_wall_resolved={"S": True, "E": False})
    marks = warning_marks(quality, landmarks_mm)
    assert len(marks) == 3
    assert_marks_are_the_warnings(quality_warnings(quality), marks, landmarks_mm)


def test_slice_node_takes_the_section_plane(mrml_scene):
    from CTOPlaqueLib import mrml

    matrix = section_to_ras(_circle_centerline(), 10.0)
    slice_node = mrml_scene.AddNewNodeByClass("vtkMRMLSliceNode")
    mrml.set_slice_to_ras(slice_node, matrix)
    slice_to_ras = slice_node.GetSliceToRAS()
    assert np.allclose([[slice_to_ras.GetElement(r, c) for c in range(4)] for r in range(4)], matrix)
    xy_to_ras = slice_node.GetXYToRAS()  # updated from SliceToRAS: the view's centre pixel is the section's centre
    dimensions = slice_node.GetDimensions()
    centre = xy_to_ras.MultiplyPoint((dimensions[0] / 2, dimensions[1] / 2, 0, 1))[:3]
    assert np.allclose(centre, matrix[:3, 3], atol=1e-6)
    mrml_scene.RemoveNode(slice_node)


def _straightened_geometry():
    """The straightened vessel's grid as straightening.straighten makes it for a 50 mm centerline: 61 x 61 pixels
    of 0.2 mm from -6 mm, 201 sections 0.25 mm apart from 0 mm."""
    ijk_to_ras = np.diag([0.2, 0.2, 0.25, 1.0])
    ijk_to_ras[:3, 3] = [-6.0, -6.0, 0.0]
    return ijk_to_ras, (201, 61, 61)


def test_straightened_view_is_the_plane_through_the_axis_vessel_along_slice_x():
    plane = straightened_view_to_ras(*_straightened_geometry())
    assert np.allclose(plane[:3, 0], [0, 0, 1]) and np.allclose(plane[:3, 1], [0, 1, 0])
    assert np.allclose(plane[:3, 2], [-1, 0, 0])  # x cross y, so the slice frame stays right-handed
    assert np.allclose(plane[:3, 3], [0.0, 0.0, 25.0])  # the middle column (u = 0), halfway along


def test_section_line_crosses_the_straightened_vessel_at_the_distance():
    geometry = _straightened_geometry()
    assert np.allclose(straightened_section_line_ras(*geometry, 12.3), [[0.0, -6.0, 12.3], [0.0, 6.0, 12.3]])
    assert np.allclose(straightened_section_line_ras(*geometry, 80.0)[:, 2], 50.0)
    assert np.allclose(straightened_section_line_ras(*geometry, -1.0)[:, 2], 0.0)


def test_slider_ruler_centres_each_label_at_its_fraction_of_the_length():
    """50 mm, labels 40/1000 wide: S at 8 mm is centred at 160/1000, so its gap is 140 and so on (by hand)."""
    assert slider_ruler({"S": 8.0, "P": 14.0, "D": 36.0, "E": 42.0}, 50.0) == [140, 40, 80, 40, 400, 40, 80, 40, 140]


def test_slider_ruler_keeps_labels_on_the_ruler_and_apart_and_leaves_out_missing_landmarks():
    """P at the ostium starts at 0; D 0.5 mm further is pushed to the label's right; S and E are absent (0)."""
    assert slider_ruler({"P": 0.0, "D": 0.5}, 50.0) == [0, 0, 0, 40, 0, 40, 0, 0, 920]
    assert slider_ruler({"P": 10.0, "E": 50.0}, 50.0) == [0, 0, 180, 40, 0, 0, 740, 40, 0]
    assert slider_ruler({}, 1.0) == [0] * 8 + [1000]


# A lesion with P 14, D 36 mm from the ostium, S 8, E 42: the half-bridged wall (P to D), the wall closing in at
# 20.3 mm (6.3 after P) and pushed outward at 18.0 (4.0 after P), a misregistration step at 25.0, the walls at S and
# E unresolved (each a stretch the contours can be edited over), and no lumen before P and a sharp kernel (which no
# contour edit answers).
LANDMARKS_MM = {"S": 8.0, "P": 14.0, "D": 36.0, "E": 42.0}
WARNED_QUALITY = dict(
    CLEAN_QUALITY, occlusion_fat_edge_fraction=0.4, occlusion_min_local_area_ratio=0.6,
    occlusion_min_local_area_at_mm=6.3, occlusion_wall_outward_area_fraction=0.12, occlusion_wall_outward_at_mm=4.0,
    occlusion_wall_outward_mm=0.2, **SITED_MEASURES[-1][3], misregistration_step_mm=2.0, lumen_proximal=False,
    lumen_edge_undershoot_hu=20.0, reference_wall_resolved={"S": False, "E": False})
WARNED_KINDS = warning_kinds(WARNED_QUALITY)
WARNING_PHRASES = ("half bridged", "closes in to", "outside the image's wall/fat edge", "ECG-misregistration",
                   "is at or below the scan's resolution", "no contrast-filled lumen in the", "edge-enhancing")


def _reviewed_phrases(edited_ranges_mm):
    """The phrases (WARNING_PHRASES) of the warnings marked reviewed after an edit over ``edited_ranges_mm``
    (sections 0.25 mm apart; the automatic analysis raised the same warnings), each checked to be the unmarked
    warning behind the mark and the edited ranges."""
    plain = quality_warnings(WARNED_QUALITY)
    marked = quality_warnings(WARNED_QUALITY, LANDMARKS_MM, edited_ranges_mm, 0.25, WARNED_KINDS)
    assert len(plain) == len(WARNING_PHRASES) == len(marked)
    reviewed = []
    for before, after in zip(plain, marked):
        phrase = next(phrase for phrase in WARNING_PHRASES if phrase in before)
        if after != before:
            assert is_reviewed(after) and after.endswith(": " + before)
            assert after.startswith("Reviewed by the reader (contours edited at ") and "mm from the ostium): " in after
            reviewed.append(phrase)
        assert not is_reviewed(before)
    return reviewed


def test_warnings_lying_where_the_reader_edited_the_contours_are_marked_reviewed():
    """Edited over 13-36 mm (P to D and beyond): the half-bridged wall, the wall closing in and pushed outward and
    the step are marked reviewed; S, E, the lumen before P and the kernel are not. No edit: none marked."""
    assert _reviewed_phrases([[13.0, 36.0]]) == ["half bridged", "closes in to", "outside the image's wall/fat edge",
                                                 "ECG-misregistration"]
    assert _reviewed_phrases([]) == []
    assert quality_warnings(WARNED_QUALITY, LANDMARKS_MM, [[13.0, 36.0]], 0.25, WARNED_KINDS)[0].startswith(
        "Reviewed by the reader (contours edited at 13.0-36.0 mm from the ostium): only 40% of the occluded wall")


def test_a_warning_is_reviewed_only_where_every_stretch_it_names_was_edited():
    """The half-bridged wall needs P to D edited without a gap; the S-and-E warning both S and E; a position within
    half a section step (0.125 mm) of a run's end lies in that run's last section, farther out it does not."""
    assert _reviewed_phrases([[14.0, 24.5], [25.5, 36.0]]) == ["closes in to", "outside the image's wall/fat edge"]
    assert _reviewed_phrases([[14.25, 36.0]]) == ["closes in to", "outside the image's wall/fat edge",
                                                  "ECG-misregistration"]
    assert _reviewed_phrases([[14.1, 35.9]]) == ["half bridged", "closes in to", "outside the image's wall/fat edge",
                                                 "ECG-misregistration"]
    assert _reviewed_phrases([[20.5, 30.0]]) == ["ECG-misregistration"]  # 20.3 lies before 20.375
    assert _reviewed_phrases([[20.25, 30.0]]) == ["closes in to", "ECG-misregistration"]
    assert _reviewed_phrases([[8.0, 8.0]]) == []
    both = quality_warnings(WARNED_QUALITY, LANDMARKS_MM, [[8.0, 8.0], [42.0, 42.0]], 0.25, WARNED_KINDS)
    assert [warning for warning in both if is_reviewed(warning)] == [
        "Reviewed by the reader (contours edited at 8.0-8.0 mm, 42.0-42.0 mm from the ostium): "
        + next(warning for warning in quality_warnings(WARNED_QUALITY) if "scan's resolution" in warning)]


def test_go_to_warning_marks_say_reviewed_as_their_warnings_do():
    """The marks of the reviewed warnings end in ', reviewed'; the S and E marks only when both were edited (their
    warning is one); the marks still match the warnings' positions."""
    edited = [[13.0, 36.0], [42.0, 42.0]]
    marks = warning_marks(WARNED_QUALITY, LANDMARKS_MM, edited, 0.25, WARNED_KINDS)
    assert marks == [("wall closes in, 6.3 mm after P, reviewed", pytest.approx(20.3)),
                     ("wall pushed outward, 4.0 mm after P, reviewed", 18.0),
                     ("misregistration step of 2.0 mm, reviewed", 25.0),
                     ("wall not resolved at S", 8.0), ("wall not resolved at E", 42.0)]
    assert_marks_are_the_warnings(quality_warnings(WARNED_QUALITY), marks, LANDMARKS_MM)
    all_edited = warning_marks(WARNED_QUALITY, LANDMARKS_MM, edited + [[8.0, 8.0]], 0.25, WARNED_KINDS)
    assert [description for description, _ in all_edited][3:] == ["wall not resolved at S, reviewed",
                                                                   "wall not resolved at E, reviewed"]


def test_warning_kinds_are_the_measures_the_warnings_come_from():
    """WARNED_QUALITY's seven warnings, each named by the quality measure behind it (by hand from its values)."""
    assert WARNED_KINDS == ["lumen_edge_undershoot_hu", "lumen_proximal", "misregistration_step_mm",
                            "occlusion_fat_edge_fraction", "occlusion_min_local_area_ratio",
                            "occlusion_wall_outward_area_fraction", "reference_wall_resolved"]
    assert warning_kinds(CLEAN_QUALITY) == []


def test_a_warning_the_edit_itself_raised_is_not_marked_reviewed():
    """Every section edited (0-50 mm): a warning is marked reviewed only where the automatic analysis raised the same
    kind of warning. The automatic analysis clean: none is marked, in words or on the slider (an eraser's slip that
    closes the wall in keeps its plain warning). It raised only the wall closing in (elsewhere, 2.0 mm after P):
    that warning and its mark alone are marked."""
    everything = [[0.0, 50.0]]
    clean_kinds = warning_kinds(CLEAN_QUALITY)
    assert quality_warnings(WARNED_QUALITY, LANDMARKS_MM, everything, 0.25, clean_kinds) == quality_warnings(
        WARNED_QUALITY)
    assert warning_marks(WARNED_QUALITY, LANDMARKS_MM, everything, 0.25, clean_kinds) == warning_marks(
        WARNED_QUALITY, LANDMARKS_MM)
    closing = dict(CLEAN_QUALITY, occlusion_min_local_area_ratio=0.7, occlusion_min_local_area_at_mm=2.0)
    assert warning_kinds(closing) == ["occlusion_min_local_area_ratio"]
    marked = quality_warnings(WARNED_QUALITY, LANDMARKS_MM, everything, 0.25, warning_kinds(closing))
    assert [is_reviewed(warning) for warning in marked] == ["closes in to" in warning for warning in marked]
    marks = warning_marks(WARNED_QUALITY, LANDMARKS_MM, everything, 0.25, warning_kinds(closing))
    assert [description for description, _ in marks if description.endswith(", reviewed")] == [
        "wall closes in, 6.3 mm after P, reviewed"]


def test_a_reloaded_lesion_json_marks_as_before():
    """lesion_warning_marks of a document written to JSON and read back (tuples become lists): the marks of its
    quality, landmarks, section step, edited ranges and the automatic warning kinds its contours block keeps;
    without them (the automatic contours, or an export from before the kinds) nothing is marked reviewed."""
    edited = [[13.0, 36.0], [42.0, 42.0]]
    document = json.loads(json.dumps({
        "quality": WARNED_QUALITY, "landmarks_mm": LANDMARKS_MM, "settings": {"step_mm": 0.25},
        "contours": {"edited": True, "edited_ranges_mm": edited, "automatic": {"warning_kinds": WARNED_KINDS}}}))
    marks = warning_marks(WARNED_QUALITY, LANDMARKS_MM, edited, 0.25, WARNED_KINDS)
    assert sum(description.endswith(", reviewed") for description, _ in marks) == 3
    assert lesion_warning_marks(document) == marks
    plain = warning_marks(WARNED_QUALITY, LANDMARKS_MM)
    del document["contours"]["automatic"]
    assert lesion_warning_marks(document) == plain
    assert lesion_warning_marks(dict(document, contours={"source": "automatic", "edited": False})) == plain
