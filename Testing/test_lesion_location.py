"""Target vessel and SCCT 2014 segment: validation, the SNOMED CT artery, the flat row and the cohort."""

import pytest
from pydicom.sr.codedict import codes

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.lesion_location import SCCT_SEGMENTS, VESSEL_SEGMENTS, artery_keyword, parse_location


def test_every_segment_belongs_to_exactly_one_vessel():
    owners = [vessel for numbers in VESSEL_SEGMENTS.values() for vessel in numbers]
    assert sorted(owners) == list(range(1, 19)) == sorted(SCCT_SEGMENTS)


@pytest.mark.parametrize("vessel, segment, expected", [
    ("LAD", "7", {"vessel": "LAD", "segment": 7, "segment_name": "mid LAD"}),
    ("rca", 1, {"vessel": "RCA", "segment": 1, "segment_name": "proximal RCA"}),
    ("", "15", {"vessel": "PDA", "segment": 15, "segment_name": "L-PDA"}),
    ("LCX", "", {"vessel": "LCX", "segment": None, "segment_name": None}),
    ("", None, {}),
])
def test_vessel_and_segment_parsed_and_the_vessel_follows_from_the_segment(vessel, segment, expected):
    assert parse_location(vessel, segment) == expected


@pytest.mark.parametrize("vessel, segment, message", [
    ("LAD", "12", "SCCT segment 12 (OM1) is not on the LAD, whose segments are 6 (proximal LAD)"),
    ("LAD", "19", "not a number from 1 to 18"),
    ("", "0", "SCCT segment '0' is not a number from 1 to 18"),
    ("", "7.0", "SCCT segment '7.0' is not a number from 1 to 18"),
    ("", "\u00b2", "SCCT segment '\u00b2' is not a number from 1 to 18"),  # a digit to str.isdigit, not to int()
    ("left anterior", "", "is not one of LM, LAD, diagonal"),
])
def test_an_impossible_pair_is_an_input_error(vessel, segment, message):
    with pytest.raises(CTOPlaqueInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_location(vessel, segment)


@pytest.mark.parametrize("vessel, segment, code", [
    ("LM", None, "3227004"), ("LAD", 6, "59438005"), ("diagonal", 9, "91750005"), ("LCX", 13, "57396003"),
    ("obtuse marginal", 14, "91755000"), ("ramus", 17, "244252004"), ("RCA", 2, "13647002"),
    ("PDA", 4, "53655008"), ("PDA", 15, "91760001"), ("posterolateral", 16, "17269004"),
    ("posterolateral", 18, "57823005"),
])
def test_the_artery_concept_is_the_standards(vessel, segment, code):
    """Codes as DICOM CID 3015 lists them (the values written out here, checked against pydicom's dictionary)."""
    concept = getattr(codes.SCT, artery_keyword(parse_location(vessel, segment)))
    assert (concept.value, concept.scheme_designator) == (code, "SCT")


def test_a_diagonal_without_its_segment_has_no_single_artery():
    assert artery_keyword(parse_location("diagonal", "")) is None


def test_the_cohort_takes_the_vessel_as_a_text_category_for_adjustment(tmp_path):
    """Flat rows with target_vessel: the cohort table keeps it as text, and an adjusted model dummy-codes it
    against the first vessel in sorted order (LAD), one 0/1 column per other vessel."""
    import pandas as pd

    from CTOPlaqueStatsLib.cohort import read_table
    from CTOPlaqueStatsLib.problems import ProblemLog
    from CTOPlaqueStatsLib.variables import analysis_variable, category_indicators, is_categorical_text

    path = tmp_path / "cohort.csv"
    pd.DataFrame({"patient_id": ["1", "2", "3", "4"], "lesion_id": ["a", "b", "c", "d"],
                  "target_vessel": ["LAD", "RCA", "LAD", "LCX"], "scct_segment": [7, 2, 6, 11]}).to_csv(path,
                                                                                                      index=False)
    cohort = read_table(str(path))
    assert is_categorical_text(cohort["target_vessel"])
    problems = ProblemLog()
    indicators = category_indicators(analysis_variable(cohort["target_vessel"], "target_vessel", problems), problems)
    assert {name: list(values) for name, values in indicators.items()} == {
        "target_vessel=LCX": [0.0, 0.0, 0.0, 1.0], "target_vessel=RCA": [0.0, 1.0, 0.0, 0.0]}
