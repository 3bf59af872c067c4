"""CTO difficulty scores item by item, boundaries included, and through the command line."""

import json

import pytest

from CTOPlaqueStatsLib.command import main
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.scores import SCORES, compute_scores, image_items, parse_clinical_items
from conftest import read_json

ALL_FALSE = {"retry": False, "previous_failed_attempt": False, "duration_ge_12_months_or_unknown": False,
             "multiple_occlusions": False, "proximal_side_branch": False, "whole_luminal_calcification": False}


def _image(length=10.0, bending=False, blunt=False, fraction=0.0, calcium_mm3=0.0):
    morphology = {"blunt_stump": blunt, "bending_gt_45": bending, "max_calcium_area_fraction": fraction}
    return image_items(morphology, length, calcium_mm3)


@pytest.mark.parametrize("length, expected_20, expected_15", [(19.99, False, True), (20.0, True, True),
                                                              (14.99, False, False), (15.0, False, True)])
def test_length_items_at_their_boundaries(length, expected_20, expected_15):
    items = _image(length=length)
    assert (items["length_ge_20mm"], items["length_ge_15mm"]) == (expected_20, expected_15)


@pytest.mark.parametrize("fraction, severe", [(0.4999, False), (0.5, True), (0.75, True)])
def test_severe_calcification_is_at_least_half_the_cross_section(fraction, severe):
    assert _image(fraction=fraction)["severe_calcification"] is severe


def test_any_calcification_needs_one_cubic_millimetre():
    assert _image(calcium_mm3=0.99)["calcification"] is False
    assert _image(calcium_mm3=1.0)["calcification"] is True


@pytest.mark.parametrize("item", ["blunt_stump", "calcification", "bending_gt_45", "length_ge_20mm", "retry"])
def test_each_j_cto_item_adds_one_point(item):
    image = {"blunt_stump": False, "calcification": False, "bending_gt_45": False, "length_ge_20mm": False,
             "length_ge_15mm": False, "severe_calcification": False}
    entered = dict(ALL_FALSE)
    if item == "retry":
        entered["retry"] = True
    else:
        image[item] = True
    result = compute_scores(image, entered)["J-CTO"]
    assert result["total"] == 1.0 and result["category"] == "intermediate"


@pytest.mark.parametrize("points, category", [(0, "easy"), (1, "intermediate"), (2, "difficult"),
                                              (3, "very difficult"), (5, "very difficult")])
def test_j_cto_categories(points, category):
    score = next(s for s in SCORES if s.name == "J-CTO")
    assert score.category(points) == category


def test_ct_rector_counts_its_six_items_and_records_sources():
    image = _image(length=25.0, bending=True, blunt=True, fraction=0.6, calcium_mm3=5.0)
    entered = {**ALL_FALSE, "multiple_occlusions": True, "duration_ge_12_months_or_unknown": True,
               "previous_failed_attempt": True}
    result = compute_scores(image, entered)["CT-RECTOR"]
    assert result["total"] == 6.0 and result["category"] == "very difficult"
    assert sorted(result["computed_items"]) == ["bending_gt_45", "blunt_stump", "severe_calcification"]
    assert sorted(result["entered_items"]) == ["duration_ge_12_months_or_unknown", "multiple_occlusions",
                                               "previous_failed_attempt"]


def test_unknown_item_makes_the_score_missing_not_zero():
    result = compute_scores(_image(), {})["J-CTO"]
    assert result["total"] is None and result["missing_items"] == ["retry"]
    assert compute_scores(_image(), {})["CT-RECTOR"]["total"] is None


def test_entered_value_overrides_the_image():
    result = compute_scores(_image(blunt=False), {**ALL_FALSE, "retry": False})["J-CTO"]
    assert result["items"]["blunt_stump"] is False and "blunt_stump" in result["computed_items"]


def test_unverified_kcct_is_not_computed():
    result = compute_scores(_image(length=30), ALL_FALSE)["KCCT"]
    assert result["total"] is None and "not verified" in result["note"]


def test_clinical_items_are_validated():
    assert parse_clinical_items({"retry": True, "multiple_occlusions": None}) == {"retry": True,
                                                                                   "multiple_occlusions": None}
    with pytest.raises(CTOPlaqueInputError, match="unknown item"):
        parse_clinical_items({"re_try": True})
    with pytest.raises(CTOPlaqueInputError, match="must be true, false or null"):
        parse_clinical_items({"retry": "yes"})


def test_scores_in_lesion_json_and_flat_row(curved_case_files, tmp_path):
    """Curved phantom: tapered stump, calcified nodule, 36 degree bend, 22 mm long; retry entered as no.
    J-CTO = calcification + length >= 20 mm = 2 (difficult). CT-RECTOR = duration unknown = 1."""
    items = tmp_path / "items.json"
    items.write_text(json.dumps({**ALL_FALSE, "duration_ge_12_months_or_unknown": True}))
    out = tmp_path / "out"
    assert main(["analyze", curved_case_files["volume"], "--centerline", curved_case_files["centerline"],
                 "--landmarks", curved_case_files["landmarks"], "--clinical-items", str(items), "--out", str(out),
                 "--lesion-id", "S1"]) == 0
    scores = read_json(out / "S1.lesion.json")["scores"]
    assert (scores["J-CTO"]["total"], scores["J-CTO"]["category"]) == (2.0, "difficult")
    assert scores["CT-RECTOR"]["total"] == 1.0
    row = open(out / "S1.lesion.csv").read().splitlines()
    header, values = row[0].split(","), row[1].split(",")
    assert float(values[header.index("j_cto_score")]) == 2.0
    assert values[header.index("kcct_score")] == ""


def test_cohort_completes_scores_from_clinical_columns(curved_case_files, tmp_path):
    """The export lacks retry (J-CTO missing); the clinical CSV supplies it: J-CTO = 2, or 3 with a retry."""
    import csv

    out = tmp_path / "exports"
    assert main(["analyze", curved_case_files["volume"], "--centerline", curved_case_files["centerline"],
                 "--landmarks", curved_case_files["landmarks"], "--out", str(out), "--lesion-id", "C1",
                 "--patient-id", "P1"]) == 0
    assert read_json(out / "C1.lesion.json")["scores"]["J-CTO"]["total"] is None
    clinical = tmp_path / "clinical.csv"
    clinical.write_text("patient_id,lesion_id,retry,duration_ge_12_months_or_unknown,multiple_occlusions,"
                        "previous_failed_attempt\nP1,C1,yes,1,0,no\n")
    cohort = tmp_path / "cohort.csv"
    assert main(["cohort", str(out), "--clinical", str(clinical), "--out", str(cohort)]) == 0
    row = next(csv.DictReader(open(cohort)))
    assert float(row["j_cto_score"]) == 3.0
    assert float(row["ct_rector_score"]) == 1.0
    assert row["kcct_score"] == ""
