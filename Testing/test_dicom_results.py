"""Issue 12: DICOM SEG and SR (TID 1500) from a DICOM CT series, the one-page report, and PHI control.

Truth: the composition and lumen labelmaps of the same analysis (voxel for voxel), lesion.json's
numbers (the SR must carry the same), the source series' own UIDs and attributes, and the DICOM
validator dciodvfy (Debian's dicom3tools; `make test` installs it where apt can).
"""

import os
import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
from conftest import phantom_for, read_json

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueStatsLib.command import main
from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.dicom_series import source_datasets_by_slice, write_ct_series
from CTOPlaqueLib.labelmap import composition_labelmap, labels_on_volume_grid, lumen_labelmap
from CTOPlaqueLib.markups_io import markups_document
from CTOPlaqueLib.staging import write_json
from CTOPlaqueLib.volume_io import read_volume

PATIENT_NAME, PATIENT_ID = "Doe^Jane", "MRN20261125"


@pytest.fixture(scope="module")
def dicom_case(tmp_path_factory):
    """The curved phantom as a DICOM CT series, analysed with --dicom-out; paths and the source volume."""
    root = tmp_path_factory.mktemp("dicom_case")
    phantom = phantom_for("curved")
    series = str(root / "series")
    write_ct_series(series, phantom.hu, phantom.ijk_to_ras, PATIENT_ID, PATIENT_NAME)
    centerline, landmarks = str(root / "centerline.mrk.json"), str(root / "landmarks.mrk.json")
    write_json(centerline, markups_document("Curve", phantom.centerline_ras))
    labels = ["S", "P", "D", "E"]
    write_json(landmarks, markups_document("Fiducial", [phantom.landmarks_ras[k] for k in labels], labels))
    out, dicom_out = root / "out", root / "pacs"
    assert main(["analyze", series, "--centerline", centerline, "--landmarks", landmarks, "--out", str(out),
                 "--dicom-out", str(dicom_out), "--lesion-id", "L1", "--patient-id", "P1",
                 "--observer", "Reader^One", "--vessel", "LAD", "--segment", "7"]) == 0
    return {"root": root, "series": series, "centerline": centerline, "landmarks": landmarks, "out": out,
            "dicom_out": dicom_out, "phantom": phantom}


def _expected_labels(case):
    """Composition (1..4) and lumen labels of the same analysis, on the full CT grid."""
    volume = read_volume(case["series"])
    analysis = analyze_lesion(volume, case["phantom"].centerline_ras, case["phantom"].landmarks_ras)
    return volume, {"composition": labels_on_volume_grid(volume, composition_labelmap(volume, analysis)),
                    "lumen": labels_on_volume_grid(volume, lumen_labelmap(volume, analysis))}


def test_segmentation_matches_the_labelmaps_voxel_for_voxel(dicom_case):
    volume, expected = _expected_labels(dicom_case)
    seg = hd.seg.segread(str(dicom_case["dicom_out"] / "L1.seg.dcm"))
    sources = source_datasets_by_slice(dicom_case["series"], volume)
    uids = [ds.SOPInstanceUID for ds in sources]
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced <= set(uids)
    covered = [k for k, uid in enumerate(uids) if uid in referenced]
    frames = seg.get_pixels_by_source_instance([uids[k] for k in covered], combine_segments=True)
    measured = np.zeros(volume.hu.shape, np.uint8)
    measured[covered] = frames
    truth = np.where(expected["lumen"] > 0, len(COMPONENTS) + 1, expected["composition"])
    assert np.count_nonzero(truth) > 1000
    assert np.array_equal(measured, truth)
    for number in range(1, len(COMPONENTS) + 2):
        assert np.count_nonzero(measured == number) == np.count_nonzero(truth == number), number


def test_segmentation_is_coded_and_shares_the_source_geometry(dicom_case):
    seg = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.seg.dcm"))
    source = pydicom.dcmread(os.path.join(dicom_case["series"], "IM0001.dcm"))
    for attribute in ("FrameOfReferenceUID", "StudyInstanceUID", "PatientID", "PatientName"):
        assert seg.get(attribute) == source.get(attribute), attribute
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID
    types = [(s.SegmentLabel, s.SegmentedPropertyTypeCodeSequence[0].CodeValue,
              s.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator) for s in seg.SegmentSequence]
    assert types == [("Necrotic core", "122395", "DCM"), ("Fibrofatty", "122394", "DCM"),
                     ("Fibrous", "40772000", "SCT"), ("Dense calcium", "237897009", "SCT"),
                     ("Lumen", "67170007", "SCT")]
    white = hd.color.CIELabColor.from_rgb(255, 255, 255).value
    assert list(seg.SegmentSequence[3].RecommendedDisplayCIELabValue) == list(white)


def _groups(dataset):
    """Measurement groups of a TID 1500 SR: [(tracking id, referenced segment or None, {code: (value, unit)})]."""
    groups = []

    def walk(items, into):
        for item in items:
            name = item.ConceptNameCodeSequence[0].CodeValue
            if item.ValueType == "CONTAINER" and name == "125007":
                group = {"tracking": None, "segment": None, "values": {}}
                walk(item.ContentSequence, group)
                groups.append(group)
            elif into is not None and item.ValueType == "NUM":
                measured = item.MeasuredValueSequence[0]
                into["values"][name] = (float(measured.NumericValue),
                                        measured.MeasurementUnitsCodeSequence[0].CodeValue)
            elif into is not None and item.ValueType == "TEXT" and name == "112039":
                into["tracking"] = item.TextValue
            elif into is not None and item.ValueType == "IMAGE" and "ReferencedSegmentNumber" in \
                    item.ReferencedSOPSequence[0]:
                into["segment"] = (item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID,
                                   int(item.ReferencedSOPSequence[0].ReferencedSegmentNumber))
            elif "ContentSequence" in item:
                walk(item.ContentSequence, into)

    walk(dataset.ContentSequence, None)
    return groups


def test_report_carries_the_lesion_numbers_with_units_and_segment_references(dicom_case):
    document = read_json(dicom_case["out"] / "L1.lesion.json")
    sr = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.sr.dcm"))
    seg = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.seg.dcm"))
    assert sr.ConceptNameCodeSequence[0].CodeValue == "126000"  # Imaging Measurement Report
    assert sr.PatientID == PATIENT_ID and sr.StudyInstanceUID == seg.StudyInstanceUID
    groups = _groups(sr)
    lesion = next(g for g in groups if g["segment"] is None)
    assert lesion["tracking"] == "lesion L1"
    assert lesion["values"]["410668003"] == (pytest.approx(document["occlusion_length_mm"], rel=1e-6), "mm")
    assert lesion["values"]["122376"] == (pytest.approx(document["total_plaque_volume_mm3"], rel=1e-6), "mm3")
    assert lesion["values"]["REFSLUMMM2"][0] == pytest.approx(document["reference"]["S"]["lumen_area_mm2"], rel=1e-6)
    distal_lumen_hu = document["reference"]["E"]["lumen_hu"]
    assert lesion["values"]["REFELUMHU"] == (pytest.approx(distal_lumen_hu, rel=1e-6), "[hnsf'U]")
    for number, name in enumerate(COMPONENTS, start=1):
        group = next(g for g in groups if g["segment"] == (seg.SOPInstanceUID, number))
        assert group["values"]["118565006"] == (pytest.approx(document["volumes_mm3"][name], rel=1e-6), "mm3")
        assert group["values"]["PAV"] == (pytest.approx(document["pav_percent"][name], rel=1e-6), "%")
        assert group["tracking"] == f"lesion L1 {name}"
    person = [item for item in sr.ContentSequence if item.ConceptNameCodeSequence[0].CodeValue == "121008"]
    assert str(person[0].PersonName) == "Reader^One"


def test_finding_site_is_the_entered_artery_read_back_with_highdicom(dicom_case):
    """--vessel LAD --segment 7: every measurement group's finding site is SNOMED CT 59438005 "Left Anterior
    Descending Coronary Artery" (DICOM CID 3015), not the generic coronary artery; lesion.json and the flat row
    hold the vessel and segment."""
    report = hd.sr.srread(str(dicom_case["dicom_out"] / "L1.sr.dcm")).content
    groups = report.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(COMPONENTS)
    sites = {(site.value.value, site.value.scheme_designator, site.value.meaning)
             for group in groups for site in group.finding_sites}
    assert sites == {("59438005", "SCT", "Left Anterior Descending Coronary Artery")}
    document = read_json(dicom_case["out"] / "L1.lesion.json")
    assert document["location"] == {"vessel": "LAD", "segment": 7, "segment_name": "mid LAD"}


def test_report_says_whether_the_contours_were_edited(dicom_case):
    """The lesion group's "Contours edited by the reader" is No for the automatic contours (read back from the
    file) and Yes for a document whose contours block records an edit."""
    from CTOPlaqueLib.dicom_results import contour_review_evaluations

    sr = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.sr.dcm"))

    def coded(items):
        for item in items:
            if item.ValueType == "CODE" and item.ConceptNameCodeSequence[0].CodeValue == "CONTEDIT":
                yield item.ConceptCodeSequence[0].CodeMeaning
            yield from coded(item.get("ContentSequence", []))

    assert list(coded(sr.ContentSequence)) == ["No"]
    [evaluation] = contour_review_evaluations({"contours": {"edited": True}})
    assert evaluation[0].ConceptCodeSequence[0].CodeValue == "373066001"  # SCT Yes


@pytest.mark.parametrize("name", ["L1.seg.dcm", "L1.sr.dcm"])
def test_dciodvfy_finds_no_error(dicom_case, name):
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed; `make test` installs it where apt can")
    result = subprocess.run(["dciodvfy", str(dicom_case["dicom_out"] / name)], capture_output=True, text=True)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
    assert errors == []


def test_exports_hold_no_patient_attributes_without_include_phi(dicom_case):
    for name in os.listdir(dicom_case["out"]):
        if name.endswith((".json", ".csv", ".html")):
            with open(dicom_case["out"] / name, encoding="utf-8") as handle:
                text = handle.read()
            assert PATIENT_ID not in text and PATIENT_NAME not in text, name  # '^' never occurs in base64
    assert "source_dicom" not in read_json(dicom_case["out"] / "L1.lesion.json")


def test_include_phi_copies_the_series_patient_and_study(dicom_case, tmp_path):
    case = dicom_case
    assert main(["analyze", case["series"], "--centerline", case["centerline"], "--landmarks", case["landmarks"],
                 "--out", str(tmp_path), "--lesion-id", "L1", "--include-phi"]) == 0
    source = read_json(tmp_path / "L1.lesion.json")["source_dicom"]
    assert source["PatientID"] == PATIENT_ID and source["PatientName"] == PATIENT_NAME
    with open(tmp_path / "L1.lesion.csv", encoding="utf-8") as handle:
        assert PATIENT_ID in handle.read()


def test_dicom_out_with_a_file_volume_is_an_input_error(curved_case_files, tmp_path):
    files = curved_case_files
    result = subprocess.run(
        [os.sys.executable, "-m", "CTOPlaqueStatsLib.command", "analyze", files["volume"],
         "--centerline", files["centerline"],
         "--landmarks", files["landmarks"], "--out", str(tmp_path / "out"), "--dicom-out", str(tmp_path / "d")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(os.sys.path)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --dicom-out needs a DICOM series folder as the volume; {files['volume']} is a file"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "d").exists()


def test_one_page_report_holds_figures_measurements_and_provenance(dicom_case):
    document = read_json(dicom_case["out"] / "L1.lesion.json")
    with open(dicom_case["out"] / "L1.report.html", encoding="utf-8") as handle:
        page = handle.read()
    assert page.count('src="data:image/png;base64,') == 2
    assert f"{document['occlusion_length_mm']:.1f} mm" in page
    assert f"{document['total_plaque_volume_mm3']:.1f} mm³" in page
    assert "@page { size: A4 portrait" in page
    assert document["inputs"]["volume"]["sha256"] in page
    assert document["software"]["version"] in page


def test_report_prints_to_one_a4_page(dicom_case, tmp_path):
    """Printed by headless Chromium, as a browser prints it: one A4 page (pdfinfo counts the pages)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or shutil.which("pdfinfo") is None:
        pytest.skip("chromium and poppler-utils are not installed; `make test` installs them where apt can")
    pdf = tmp_path / "report.pdf"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", (dicom_case["out"] / "L1.report.html").as_uri()],
                   capture_output=True, timeout=120)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "Pages:           1" in info
    assert "(A4)" in info
