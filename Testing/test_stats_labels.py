"""The label table and the number formats of the statistics tables."""

import pandas as pd
import pytest

from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.export import flat_row
from CTOPlaqueStatsLib.labels import (PROJECT_LABELS, Label, LabelTable, format_count_percent, format_method,
                                      format_or_ci, format_p, format_percent, label_from_id)
from CTOPlaqueStatsLib.report import abbreviations_note


def test_project_columns_have_labels_with_units():
    labels = LabelTable()
    assert labels.text("occlusion_length_mm") == "Occlusion length (mm)"
    assert labels.text("necrotic_core_pav") == "Necrotic core PAV (%)"
    assert labels.text("dense_calcium_volume_mm3") == "Dense calcium volume (mm³)"
    assert labels.text("reference_S_lumen_hu") == "Lumen attenuation, proximal reference (S) (HU)"
    assert (labels.name("age"), labels.unit("age")) == ("Age", "years")
    assert labels.text("vendor=GE") == "Vendor: GE"
    assert labels.text("sex=M") == "Sex: M"


def test_every_measurement_column_of_a_flat_row_has_a_project_label():
    """The flat lesion row's measurement columns (not the quality diagnostics) are all in the table."""
    document = {"lesion_id": "L1", "patient_id": "P1", "occlusion_length_mm": 20.0, "total_plaque_volume_mm3": 100.0,
                "vessel_volume_mm3": 150.0,
                "volumes_mm3": {c: 1.0 for c in ("necrotic_core", "fibrofatty", "fibrous", "dense_calcium")},
                "pav_percent": {c: 1.0 for c in ("necrotic_core", "fibrofatty", "fibrous", "dense_calcium")},
                "noncalcified_volume_mm3": 1.0, "noncalcified_pav_percent": 1.0, "unclassified_volume_mm3": 0.0,
                "reference": {r: {"lumen_area_mm2": 1.0, "vessel_area_mm2": 2.0, "mean_lumen_diameter_mm": 1.0,
                                  "lumen_hu": 300.0} for r in ("S", "E")},
                "morphology": {"max_bending_deg": 30.0, "bending_gt_45": False, "max_calcium_area_fraction": 0.1,
                               "severe_calcification": False, "length_ge_20mm": True,
                               "proximal_cap_slope_per_mm": 0.1, "proximal_cap": "tapered", "blunt_stump": False},
                "scores": {n: {"total": 1.0} for n in ("J-CTO", "CCTA J-CTO", "CT-RECTOR", "KCCT")},
                "software": {"version": "0"}}
    row = flat_row(document)
    unlabelled = [c for c in row if not c.startswith("quality_") and c not in PROJECT_LABELS]
    assert unlabelled == []


def test_unknown_columns_read_from_their_id():
    assert label_from_id("reference_X_lumen_area_mm2") == Label("Reference X lumen area", "mm²")
    assert label_from_id("hdl") == Label("Hdl", "")
    assert LabelTable().text("quality_fat_hu") == "Quality fat (HU)"


def test_labels_csv_extends_and_overrides(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("column,label,unit\nhdl,HDL,mmol/L\nocclusion_length_mm,Length of the occlusion,mm\n"
                    "vendor,Scanner vendor,\n", encoding="utf-8")
    labels = LabelTable.from_csv(str(path))
    assert labels.text("hdl") == "HDL (mmol/L)"
    assert labels.text("occlusion_length_mm") == "Length of the occlusion (mm)"
    assert labels.text("vendor=GE") == "Scanner vendor: GE"
    assert labels.text("necrotic_core_pav") == "Necrotic core PAV (%)"
    no_unit = tmp_path / "short.csv"
    no_unit.write_text("column,label\nhdl,HDL\n", encoding="utf-8")
    assert LabelTable.from_csv(str(no_unit)).text("hdl") == "HDL"


@pytest.mark.parametrize("text, message", [("name,label\nhdl,HDL\n", "needs the columns"),
                                           ("column,label\n,HDL\n", "line 2"), ("", "not a readable CSV")])
def test_bad_labels_csv_is_an_input_error(tmp_path, text, message):
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CTOPlaqueInputError, match=message):
        LabelTable.from_csv(str(path))
    with pytest.raises(CTOPlaqueInputError, match="not found"):
        LabelTable.from_csv(str(tmp_path / "absent.csv"))


def test_number_formats():
    assert [format_p(p) for p in (5.878e-05, 0.0008925, 0.001, 0.0349, 0.05, 0.99949, 0.9995, 1.0, None,
                                  float("nan"))] == \
        ["<0.001", "<0.001", "0.001", "0.035", "0.050", "0.999", ">0.999", ">0.999", "", ""]
    assert format_or_ci(0.998, 0.996, 1.0) == "0.998 (0.996–1.000)"
    assert format_or_ci(0.9661, 0.94412, 0.98953) == "0.966 (0.944–0.990)"
    assert format_or_ci(2.5, 1.2, 5.0, decimals=2) == "2.50 (1.20–5.00)"
    assert format_or_ci(1.5, None, None) == "1.500" and format_or_ci(float("nan"), 1, 2) == ""
    assert format_percent(84.5771) == "84.6" and format_count_percent(170, 201) == "170 (84.6%)"
    assert format_count_percent(0, 0) == "0 (0.0%)"
    assert (format_method("ml"), format_method("firth")) == ("maximum likelihood", "Firth")


def test_abbreviations_under_a_table_are_those_it_uses():
    """Journals spell out every abbreviation under the table: those in the headers, the cells or the note, in a fixed
    order, whole words only (PAVE, SDS and a column id such as dense_calcium_pav are not abbreviations)."""
    table = pd.DataFrame({"": ["Dense calcium PAV (%), mean ± SD", "PAVE score, SDS"],
                          "OR (95% CI)": ["0.97 (0.95–0.99)", "dense_calcium_pav"]})
    assert abbreviations_note(table) == ("Abbreviations: CI, confidence interval; OR, odds ratio; PAV, percent "
                                         "atheroma volume; SD, standard deviation.")
    assert abbreviations_note(table[["OR (95% CI)"]].iloc[1:], "median [Q1–Q3]") == (
        "Abbreviations: CI, confidence interval; OR, odds ratio; Q1–Q3, first and third quartiles.")
    assert abbreviations_note(pd.DataFrame({"Test": ["chi-square"]})) == ""
