"""Landmark proposals and lesion morphology on phantoms built to have a known answer."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import PHANTOM_CASES, phantom_for

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueLib.centerline import sample_centerline
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.landmark_proposals import propose_landmarks, propose_landmarks_mm
from CTOPlaqueLib.landmarks import landmark_positions_mm
from CTOPlaqueLib.morphology import (TAPERED_SLOPE_PER_MM, classify_morphology, max_bending_deg,
                                     proximal_cap_slope_per_mm)
from CTOPlaqueLib.phantom import PRESETS, generate_phantom
from CTOPlaqueLib.volume_io import Volume


def _volume(phantom):
    return Volume(phantom.hu.astype(np.float32), phantom.ijk_to_ras)


@pytest.mark.parametrize("name", sorted(PHANTOM_CASES))
def test_proposals_within_one_millimetre(name):
    """P, D where contrast ends and resumes; S, E at the nearest normal section >= 1 mm outside the caps
    (the taper start for a tapered stump)."""
    phantom = phantom_for(name)
    proposal = propose_landmarks_mm(_volume(phantom), sample_centerline(phantom.centerline_ras, 0.25))
    for label, truth_mm in phantom.truth["proposal_landmarks_mm"].items():
        assert proposal[label] == pytest.approx(truth_mm, abs=1.0), label


def test_proposed_points_lie_on_the_centerline():
    phantom = phantom_for("curved")
    centerline = sample_centerline(phantom.centerline_ras, 0.25)
    points = propose_landmarks(_volume(phantom), phantom.centerline_ras)
    positions = landmark_positions_mm(centerline, points, max_distance_mm=0.01)
    assert positions["P"] < positions["D"]


def test_no_occlusion_is_reported():
    phantom = phantom_for("straight")
    centerline = phantom.centerline_ras[:10]  # the proximal 9 mm: contrast all along
    with pytest.raises(CTOPlaqueInputError, match="no occlusion found"):
        propose_landmarks(_volume(phantom), centerline)


@pytest.mark.parametrize("name", sorted(PHANTOM_CASES))
def test_morphology_matches_the_phantom(name):
    phantom = phantom_for(name)
    result = analyze_lesion(_volume(phantom), phantom.centerline_ras, phantom.landmarks_ras)
    morphology = result.morphology
    truth = phantom.truth["morphology"]
    assert morphology["max_bending_deg"] == pytest.approx(truth["max_bending_deg"], abs=2.0)
    assert morphology["bending_gt_45"] == (truth["max_bending_deg"] > 45)
    assert morphology["proximal_cap"] == truth["proximal_cap"]
    assert morphology["length_ge_20mm"] == (phantom.truth["occlusion_length_mm"] >= 20)
    sector = truth["calcium_area_fraction_of_sector"]
    if sector > 0:
        # A sector through the whole wall: its area fraction is arc/360 (blur moves the edges a little).
        assert morphology["max_calcium_area_fraction"] == pytest.approx(sector, abs=0.08)
    assert morphology["severe_calcification"] == (sector > 0.5)


@pytest.mark.parametrize("radius_mm, length_mm", [(8.0, 20.0), (25.0, 40.0), (8.0, 6.0)])
def test_bending_is_local_on_a_circular_arc(radius_mm, length_mm):
    """Tangents of a circular arc of radius R, every 0.25 mm: tangents 10 mm apart differ by 10 / R radians;
    an arc shorter than 10 mm turns by its length / R. The total turn of the 40 mm arc (92 degrees) is not
    the bending."""
    step = 0.25
    phi = np.arange(0.0, length_mm + 1e-9, step) / radius_mm
    tangents = np.stack([np.cos(phi), np.sin(phi), np.zeros_like(phi)], axis=1)
    expected_deg = np.degrees(min(10.0, length_mm) / radius_mm)
    assert max_bending_deg(tangents, step) == pytest.approx(expected_deg, abs=0.01)


def test_bending_finds_a_sharp_turn_between_straight_segments():
    """Straight, a 60 degree turn over 3 mm, straight again: 60 degrees, wherever the turn lies."""
    step = 0.25
    angle = np.radians(60.0 * np.clip((np.arange(0.0, 30.0, step) - 12.0) / 3.0, 0.0, 1.0))
    tangents = np.stack([np.cos(angle), np.sin(angle), np.zeros_like(angle)], axis=1)
    assert max_bending_deg(tangents, step) == pytest.approx(60.0, abs=0.01)


@pytest.mark.parametrize("bending, calcium, length, slope, expected", [
    (45.0, 0.5, 20.0, 0.15, {"bending_gt_45": False, "severe_calcification": False, "length_ge_20mm": True,
                            "proximal_cap": "tapered"}),
    (45.01, 0.5001, 19.99, 0.1499, {"bending_gt_45": True, "severe_calcification": True, "length_ge_20mm": False,
                                    "proximal_cap": "blunt"}),
    (10.0, 0.1, 30.0, float("nan"), {"proximal_cap": None, "blunt_stump": None}),
])
def test_morphology_boundaries_exactly(bending, calcium, length, slope, expected):
    """Bending > 45 degrees, calcium > 50% of the area, length >= 20 mm, tapered from 0.15 per mm."""
    record = classify_morphology(bending, calcium, length, slope)
    for key, value in expected.items():
        assert record[key] == value, key


def test_analysis_computes_morphology_and_scores_and_the_document_only_names_them():
    """One pass computes: the analysis holds the morphology and the scores. J-CTO of the curved phantom: tapered
    stump 0, bending 0, calcification 1 (its 900 HU nodule), length >= 20 mm 1, retry entered as yes 1 = 3
    points. lesion.json carries those very objects."""
    from CTOPlaqueLib.export import lesion_document

    phantom = phantom_for("curved")
    result = analyze_lesion(_volume(phantom), phantom.centerline_ras, phantom.landmarks_ras,
                            clinical_items={"retry": True})
    assert phantom.truth["occlusion_length_mm"] >= 20.0
    assert phantom.truth["composition_written_image"]["volumes_mm3"]["dense_calcium"] >= 1.0
    assert result.scores["J-CTO"]["total"] == 3
    assert result.scores["J-CTO"]["entered_items"] == ["retry"]
    document = lesion_document(result, "L1", "P1", {})
    assert document["morphology"] is result.morphology and document["scores"] is result.scores
    assert document["clinical_items"] == {"retry": True}


def test_a_blunt_stump_beside_a_branch_and_calcium_reads_blunt():
    """The "heart" preset with a blunt stump (a branch leaving 1 mm before P, calcium blooming after it): the
    narrow-side lumen area holds to the cap, so the cap reads blunt, not tapered (true centerline and landmarks)."""
    phantom = generate_phantom(dataclasses.replace(PRESETS["heart"], proximal_cap="blunt"))
    result = analyze_lesion(_volume(phantom), phantom.centerline_ras, phantom.landmarks_ras)
    assert result.morphology["proximal_cap"] == "blunt"
    assert abs(result.morphology["proximal_cap_slope_per_mm"]) < TAPERED_SLOPE_PER_MM / 2


def _cap(lumen_radius_mm) -> SimpleNamespace:
    """What proximal_cap_slope_per_mm reads of an analysis: sections 0.25 mm apart, the last one before P 0.2 mm
    before it (P at 8 mm), a round lumen of ``lumen_radius_mm(arc from P)`` (0 where none is found)."""
    arc_mm = 0.05 + 0.25 * np.arange(40)
    radii = np.repeat(lumen_radius_mm(arc_mm - 8.0)[:, None], 8, axis=1)
    return SimpleNamespace(profile=SimpleNamespace(arc_mm=arc_mm), landmarks_mm={"P": 8.0}, lumen_radii_mm=radii)


def test_a_tapered_cap_whose_lumen_is_lost_before_p_reads_tapered():
    """A 1.5 mm lumen closing linearly over the last 2 mm, lost where narrower than 0.6 mm: of the last 1 mm only the
    section 0.95 mm before P holds a lumen (0.7125 mm). The lost sections count with its area, at least theirs:
    slope (1.5^2 - 0.7125^2) / (2 * 1.5^2) = 0.387, a lower bound already tapered (before: not measured)."""
    def closing(arc):
        radius = 1.5 * np.clip(-arc / 2.0, 0.0, 1.0)
        return np.where(radius >= 0.6, radius, 0.0)

    assert proximal_cap_slope_per_mm(_cap(closing)) == pytest.approx((1.5**2 - 0.7125**2) / (2 * 1.5**2), rel=1e-9)


def test_a_lumen_still_wide_where_it_is_last_found_leaves_the_cap_unmeasured():
    """P given 0.9 mm past a blunt stump's end: the lumen is 1.5 mm wide up to where it is last found, so what the
    lost sections hold decides the shape, and it is not measured (NaN); the same stump with P at its end reads 0."""
    assert np.isnan(proximal_cap_slope_per_mm(_cap(lambda arc: np.where(arc < -0.9, 1.5, 0.0))))
    assert proximal_cap_slope_per_mm(_cap(lambda arc: np.full(arc.shape, 1.5))) == 0.0
