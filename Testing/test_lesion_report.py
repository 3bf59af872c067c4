"""The lesion report's texts (issue 24, item 9) and the straightened view's plane names (item 8), against hand
calculations: scores added up by hand from their published one-point items, HU classes as the settings define
them, and patient directions of hand-made RAS vectors."""

import numpy as np
import pytest

from CTOPlaqueLib.lesion_report import dicom_date, patient_rows, person_name, score_rows, threshold_text
from CTOPlaqueLib.scores import compute_scores
from CTOPlaqueLib.settings import AnalysisSettings
from CTOPlaqueLib.straightening import patient_direction

IMAGE_ITEMS = {"blunt_stump": True, "bending_gt_45": False, "length_ge_20mm": True, "length_ge_15mm": True,
               "severe_calcification": False, "calcification": True}


def _rows(entered):
    return {name: (value, detail) for name, value, detail in
            score_rows({"scores": compute_scores(IMAGE_ITEMS, entered)})}


def test_scores_are_whole_points_with_the_items_that_made_them():
    """J-CTO with retry entered: blunt stump + calcification + length >= 20 mm + retry = 4 points (Morino 2011,
    one point each; >= 3 very difficult); bending > 45 degrees gives none."""
    rows = _rows({"retry": True})
    value, detail = rows["J-CTO"]
    assert value == "4 (very difficult)"
    assert detail == ("points for: blunt stump, calcification, length ≥ 20 mm, retry (entered); "
                      "none for: bending > 45°")
    assert _rows({"retry": False})["J-CTO"][0] == "3 (very difficult)"


def test_a_score_not_computed_says_what_to_enter_or_why():
    rows = _rows({})
    assert rows["J-CTO"] == ("not computed", "needs retry: enter them with --clinical-items")
    assert rows["CT-RECTOR"] == ("not computed", "needs multiple occlusions, duration ≥ 12 months or unknown, "
                                                 "previous failed attempt: enter them with --clinical-items")
    assert rows["KCCT"][1] == "item weights not verified against the publication; score not computed"


def test_image_items_the_image_cannot_tell_are_named():
    items = dict(IMAGE_ITEMS, blunt_stump=None)
    rows = {name: detail for name, _, detail in score_rows({"scores": compute_scores(items, {"retry": True})})}
    assert rows["J-CTO"] == "the image could not tell: blunt stump"


def test_hu_classes_read_as_ranges_and_an_open_upper_class():
    ranges = AnalysisSettings().thresholds.ranges_hu()
    texts = [threshold_text(name, low, high) for name, (low, high) in ranges.items()]
    assert texts == ["Necrotic core -30 to 75 HU", "Fibrofatty 76 to 130 HU", "Fibrous 131 to 350 HU",
                     "Dense calcium ≥ 351 HU"]


def test_patient_fields_are_formatted_and_absent_without_phi():
    source = {"PatientName": "Doe^Jane^M", "PatientID": "MRN1", "PatientBirthDate": "19580312",
              "StudyDate": "20261130", "AccessionNumber": "", "ConvolutionKernel": "B30f",
              "SeriesInstanceUID": "1.2.3"}
    assert patient_rows({"source_dicom": source}) == [
        ("Name", "Doe, Jane M"), ("Patient ID", "MRN1"), ("Birth date", "1958-03-12"), ("Study date", "2026-11-30"),
        ("Accession number", "not recorded"), ("Reconstruction kernel", "B30f"), ("Series Instance UID", "1.2.3")]
    assert patient_rows({"patient_id": "P1"}) == []
    assert person_name("Reader^One") == "Reader, One" and person_name("") == ""
    assert dicom_date("2026") == "2026"


@pytest.mark.parametrize("vector, name", [((0.7, 0.7, 0.1), "right-anterior"), ((0.0, -0.95, -0.3), "posterior"),
                                          ((-0.3, 0.5, -0.81), "inferior-anterior"), ((-1, 0, 0), "left"),
                                          ((0.45, 0.45, 0.77), "superior-right-anterior")])
def test_patient_direction_of_ras_vectors(vector, name):
    """RAS: +x the patient's right, +y anterior, +z superior; named when the unit component is >= 0.4."""
    assert patient_direction(np.array(vector, float)) == name
