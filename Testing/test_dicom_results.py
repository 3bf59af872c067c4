"""Issue 12: DICOM SEG and SR (TID 1500) from a DICOM CT series, the one-page report, and PHI control.

Truth: the composition and lumen labelmaps of the same analysis (voxel for voxel), lesion.json's
numbers (the SR must carry the same), the source series' own UIDs and attributes, and the DICOM
validator dciodvfy (Debian's dicom3tools; `make test` installs it where apt can).
"""

import copy
import os
import shutil
import subprocess

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from conftest import phantom_for, read_json
from pydicom.sr._cid_dict import cid_concepts
from pydicom.sr._concepts_dict import concepts

from CTOPlaqueLib.analysis import analyze_lesion
from CTOPlaqueStatsLib.command import main
from CTOPlaqueLib.composition import COMPONENTS
from CTOPlaqueLib.dicom_results import dicom_writers
from CTOPlaqueLib.dicom_series import source_datasets_by_slice, sources_for_derived_objects, write_ct_series
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.export import lesion_document
from CTOPlaqueLib.labelmap import composition_labelmap, labels_on_volume_grid, lumen_labelmap, plaque_labelmap
from CTOPlaqueLib.markups_io import markups_document
from CTOPlaqueLib.staging import write_json
from CTOPlaqueLib.volume_io import read_volume

PATIENT_NAME, PATIENT_ID = "Doe^Jane", "MRN20261125"
# Series attributes a scanner writes and write_ct_series does not: the report must show them with --include-phi.
SCANNER_ATTRIBUTES = {"PatientBirthDate": "19580312", "AccessionNumber": "ACC4711",
                      "ConvolutionKernel": ["FC03", "AIDR3D"]}


@pytest.fixture(scope="module")
def dicom_case(tmp_path_factory):
    """The curved phantom as a DICOM CT series, analysed with --dicom-out; paths and the source volume."""
    root = tmp_path_factory.mktemp("dicom_case")
    phantom = phantom_for("curved")
    series = str(root / "series")
    for path in write_ct_series(series, phantom.hu, phantom.ijk_to_ras, PATIENT_ID, PATIENT_NAME):
        dataset = pydicom.dcmread(path)
        for name, value in SCANNER_ATTRIBUTES.items():
            setattr(dataset, name, value)
        dataset.save_as(path)
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


@pytest.fixture(scope="module")
def analysed(dicom_case):
    """The volume read from the series, the same analysis as the command's, its lesion document and the series'
    datasets by slice."""
    volume = read_volume(dicom_case["series"])
    analysis = analyze_lesion(volume, dicom_case["phantom"].centerline_ras, dicom_case["phantom"].landmarks_ras)
    document = lesion_document(analysis, "L1", "P1", {}, "Reader^One")
    return volume, analysis, document, source_datasets_by_slice(dicom_case["series"], volume)


def _expected_masks(analysed):
    """Composition (1..4), lumen and plaque labels of the same analysis, on the full CT grid."""
    volume, analysis = analysed[:2]
    return volume, {"composition": labels_on_volume_grid(volume, composition_labelmap(volume, analysis)),
                    "lumen": labels_on_volume_grid(volume, lumen_labelmap(volume, analysis)) > 0,
                    "plaque": labels_on_volume_grid(volume, plaque_labelmap(volume, analysis)) > 0}


def _segments_on_grid(dicom_case, analysed):
    """The SEG's segments read back with highdicom, as masks [k, j, i, segment number - 1] on the CT grid."""
    volume, sources = analysed[0], analysed[3]
    seg = hd.seg.segread(str(dicom_case["dicom_out"] / "L1.seg.dcm"))
    uids = [ds.SOPInstanceUID for ds in sources]
    referenced = {item.ReferencedSOPInstanceUID for item in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced <= set(uids)
    covered = [k for k, uid in enumerate(uids) if uid in referenced]
    masks = np.zeros(volume.hu.shape + (len(seg.SegmentSequence),), bool)
    masks[covered] = seg.get_pixels_by_source_instance([uids[k] for k in covered]) > 0
    return masks


def test_segmentation_matches_the_labelmaps_voxel_for_voxel(dicom_case, analysed):
    volume, expected = _expected_masks(analysed)
    measured = _segments_on_grid(dicom_case, analysed)
    assert measured.shape[-1] == len(COMPONENTS) + 2
    lumen = expected["lumen"]
    truth = [(expected["composition"] == number) & ~lumen for number in range(1, len(COMPONENTS) + 1)]
    truth += [lumen, expected["plaque"] & ~lumen]
    for number, mask in enumerate(truth, start=1):
        assert np.count_nonzero(mask) > 40, number
        assert np.array_equal(measured[..., number - 1], mask), number


def test_plaque_segment_is_the_wall_between_the_caps(dicom_case, analysed):
    """The plaque segment holds every component voxel; the rest of it is the wall below the necrotic core's HU
    bound (-30 HU, the unclassified wall); its voxels' volume is the measured total plaque volume within 2%
    (voxel centres against the sections' polar integral: 456.2 against 458.6 mm3)."""
    volume, analysis, document, _ = analysed
    masks = _segments_on_grid(dicom_case, analysed)
    components, plaque = masks[..., :len(COMPONENTS)].any(axis=-1), masks[..., -1]
    assert not np.any(components & ~plaque)
    assert np.all(volume.hu[plaque & ~components] < analysis.thresholds.lower_bounds_hu[0])
    assert np.count_nonzero(plaque & ~components) > 0
    assert np.count_nonzero(plaque) * volume.voxel_volume_mm3 == pytest.approx(
        document["total_plaque_volume_mm3"], rel=0.02)


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
                     ("Lumen", "67170007", "SCT"), ("Plaque", "1522000", "SCT")]
    ivus_plaque_composition = {code for scheme, names in cid_concepts[3495].items() for name in names
                               for code in concepts[scheme][name]}
    assert {value for _, value, _ in types[:4]} <= ivus_plaque_composition
    white = hd.color.CIELabColor.from_rgb(255, 255, 255).value
    assert list(seg.SegmentSequence[3].RecommendedDisplayCIELabValue) == list(white)
    assert str(seg.ContentCreatorName) == "Reader^One"  # --observer
    assert seg.ContentDescription == "CTO L1: plaque by HU class, lumen" and seg.ContentLabel == "CTOPLAQUE"


def test_slicer_segmentation_file_has_the_seg_codes_and_the_lumen(dicom_case, analysed):
    """ID.composition.seg.nrrd (issue 25): every segment tagged with the DICOM SEG's codes in Slicer's terminology
    format (no longer the generic Tissue), and the lumen as label 5 where the DICOM SEG has it."""
    image = sitk.ReadImage(str(dicom_case["out"] / "L1.composition.seg.nrrd"))
    dicom = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.seg.dcm")).SegmentSequence
    names = []
    for index in range(len(COMPONENTS) + 1):
        item = dicom[index]
        category, kind = item.SegmentedPropertyCategoryCodeSequence[0], item.SegmentedPropertyTypeCodeSequence[0]
        assert image.GetMetaData(f"Segment{index}_Tags") == (
            "TerminologyEntry:Segmentation category and type - DICOM master list"
            f"~{category.CodingSchemeDesignator}^{category.CodeValue}^{category.CodeMeaning}"
            f"~{kind.CodingSchemeDesignator}^{kind.CodeValue}^{kind.CodeMeaning}~^^"
            "~Anatomic codes - DICOM master list~SCT^41801008^Coronary artery~^^|")
        assert image.GetMetaData(f"Segment{index}_LabelValue") == str(item.SegmentNumber)
        names.append(image.GetMetaData(f"Segment{index}_Name"))
    assert names == ["Necrotic core", "Fibrofatty", "Fibrous", "Dense calcium", "Lumen"]
    assert "85756007" not in " ".join(image.GetMetaData(key) for key in image.GetMetaDataKeys())
    volume, expected = _expected_masks(analysed)
    labels = sitk.GetArrayFromImage(image)
    truth = np.where(expected["lumen"], len(COMPONENTS) + 1, expected["composition"])
    counts = np.bincount(labels.ravel(), minlength=len(COMPONENTS) + 2)[1:]
    assert list(counts) == [np.count_nonzero(truth == number) for number in range(1, len(COMPONENTS) + 2)]
    lumen_ijk = np.argwhere(truth == len(COMPONENTS) + 1)[0][::-1]
    lumen_ras = volume.ijk_to_ras[:3, :3] @ lumen_ijk + volume.ijk_to_ras[:3, 3]
    index = image.TransformPhysicalPointToIndex(tuple(np.diag([-1.0, -1.0, 1.0]) @ lumen_ras))  # LPS
    assert labels[index[::-1]] == len(COMPONENTS) + 1  # same place in the patient


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
    lesion = next(g for g in groups if g["tracking"] == "lesion L1")
    assert lesion["segment"] == (seg.SOPInstanceUID, len(COMPONENTS) + 2)  # the plaque segment
    assert lesion["values"]["410668003"] == (pytest.approx(document["occlusion_length_mm"], rel=1e-6), "mm")
    assert lesion["values"]["122376"] == (pytest.approx(document["total_plaque_volume_mm3"], rel=1e-6), "mm3")
    assert lesion["values"]["122371"] == (pytest.approx(document["vessel_volume_mm3"], rel=1e-6), "mm3")
    for label in ("S", "E"):
        reference, values = next(g for g in groups if g["tracking"] == f"lesion L1 reference {label}"), \
            document["reference"][label]
        assert reference["values"] == {
            "397415007": (pytest.approx(values["lumen_area_mm2"], rel=1e-6), "mm2"),
            "122333": (pytest.approx(values["vessel_area_mm2"], rel=1e-6), "mm2"),
            "397413000": (pytest.approx(values["mean_lumen_diameter_mm"], rel=1e-6), "mm"),
            "112182": (pytest.approx(values["lumen_hu"], rel=1e-6), "[hnsf'U]")}
    for number, name in enumerate(COMPONENTS, start=1):
        group = next(g for g in groups if g["segment"] == (seg.SOPInstanceUID, number))
        assert group["values"]["118565006"] == (pytest.approx(document["volumes_mm3"][name], rel=1e-6), "mm3")
        assert group["values"]["PAV"] == (pytest.approx(document["pav_percent"][name], rel=1e-6), "%")
        assert group["tracking"] == f"lesion L1 {name}"
    person = [item for item in sr.ContentSequence if item.ConceptNameCodeSequence[0].CodeValue == "121008"]
    assert str(person[0].PersonName) == "Reader^One"


def test_finding_site_is_the_entered_artery_read_back_with_highdicom(dicom_case):
    """--vessel LAD --segment 7: every segment group's finding site is SNOMED CT 59438005 "Left Anterior
    Descending Coronary Artery" (DICOM CID 3015), not the generic coronary artery; lesion.json and the flat row
    hold the vessel and segment."""
    report = hd.sr.srread(str(dicom_case["dicom_out"] / "L1.sr.dcm")).content
    groups = report.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(COMPONENTS) + 1  # and the whole plaque
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


def _dciodvfy_errors(path) -> list:
    """dciodvfy's error lines for one file, or a skip where dicom3tools is not installed."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed; `make test` installs it where apt can")
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


@pytest.mark.parametrize("name", ["L1.seg.dcm", "L1.sr.dcm"])
def test_dciodvfy_finds_no_error(dicom_case, name):
    assert _dciodvfy_errors(dicom_case["dicom_out"] / name) == []


def _codes(dataset):
    """Every coded entry (code value, scheme, meaning) anywhere in ``dataset``, nested sequences included."""
    found = []

    def walk(item):
        if "CodeValue" in item and "CodingSchemeDesignator" in item:
            found.append((item.CodeValue, item.CodingSchemeDesignator, item.get("CodeMeaning")))
        for element in item:
            if element.VR == "SQ":
                for child in element.value:
                    walk(child)

    walk(dataset)
    return found


def test_every_standard_code_has_the_standards_meaning_and_the_local_scheme_is_declared(dicom_case):
    """Truth: pydicom's tables of the DICOM Standard's concepts (PS3.16, with each code's meanings in the context
    groups that hold it), compared regardless of letter case (highdicom writes its own "Source Series for
    Segmentation"). Issue 25: "Morphologically Altered Structure" is not the standard's wording of 49755003."""
    meanings = {}
    for scheme in ("SCT", "DCM"):
        for entries in concepts[scheme].values():
            for code, (meaning, _) in entries.items():
                meanings.setdefault((code, scheme), set()).add(meaning.casefold())
    seg = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.seg.dcm"))
    sr = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.sr.dcm"))
    for dataset in (seg, sr):
        coded = _codes(dataset)
        assert len(coded) > 20
        for value, scheme, meaning in coded:
            if scheme in ("SCT", "DCM"):
                assert meaning.casefold() in meanings[(value, scheme)], (value, scheme, meaning)
    assert ("49755003", "SCT", "Morphologically Abnormal Structure") in _codes(seg)
    assert ("237897009", "SCT", "Vascular Calcification") in _codes(seg)
    local = sorted({value for value, scheme, _ in _codes(sr) if scheme == "99CTOPLAQUE"})
    # everything else has a standard concept; no score computed here (retry unknown)
    assert local == ["CONTEDIT", "PAV"]
    declared = sr.CodingSchemeIdentificationSequence
    assert [item.CodingSchemeDesignator for item in declared] == ["99CTOPLAQUE"]
    assert declared[0].CodingSchemeResponsibleOrganization == "CTOPlaque"


def test_dciodvfy_warns_only_about_the_declared_local_scheme(dicom_case):
    """dciodvfy knows a fixed list of private schemes and ignores CodingSchemeIdentificationSequence: its one
    warning left is the local designator, once per use (4 PAV values, the contours-edited evaluation and the
    declaration itself); none on the SEG."""
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed; `make test` installs it where apt can")
    warnings = {}
    for name in ("L1.seg.dcm", "L1.sr.dcm"):
        result = subprocess.run(["dciodvfy", str(dicom_case["dicom_out"] / name)], capture_output=True, text=True)
        warnings[name] = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Warning")]
    assert warnings["L1.seg.dcm"] == []
    assert warnings["L1.sr.dcm"] == ["Warning - Unrecognized defined term <99CTOPLAQUE> for value 1 of attribute "
                                     "<Coding Scheme Designator>"] * (len(COMPONENTS) + 2)


def _dcmqi(name: str) -> str:
    """Path of a dcmqi reader (PyPI package dcmqi, the test extra; beside this interpreter), or a skip saying why."""
    path = shutil.which(name, path=os.pathsep.join([os.path.dirname(os.sys.executable), os.environ.get("PATH", "")]))
    if path is None:
        pytest.skip(f"dcmqi's {name} is not installed (pip install dcmqi, in the test extra)")
    try:
        subprocess.run([path, "--version"], capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"dcmqi's {name} does not run on this machine: {error}")
    return path


def test_dcmqi_reads_the_segmentation(dicom_case, analysed, tmp_path):
    """QuantitativeReporting's own reader (dcmqi segimage2itkimage): the six segments with our labels, codes and
    content creator, each with the voxels of our labelmaps."""
    result = subprocess.run([_dcmqi("segimage2itkimage"), "--inputDICOM", str(dicom_case["dicom_out"] / "L1.seg.dcm"),
                             "--outputDirectory", str(tmp_path), "-t", "nrrd"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    meta = read_json(tmp_path / "meta.json")
    assert meta["ContentCreatorName"] == "Reader^One"
    segments = [attributes for group in meta["segmentAttributes"] for attributes in group]
    assert [(s["labelID"], s["SegmentLabel"], s["SegmentedPropertyTypeCodeSequence"]["CodeValue"]) for s in segments] \
        == [(1, "Necrotic core", "122395"), (2, "Fibrofatty", "122394"), (3, "Fibrous", "40772000"),
            (4, "Dense calcium", "237897009"), (5, "Lumen", "67170007"), (6, "Plaque", "1522000")]
    _, expected = _expected_masks(analysed)
    lumen = expected["lumen"]
    truth = [(expected["composition"] == number) & ~lumen for number in range(1, len(COMPONENTS) + 1)]
    truth += [lumen, expected["plaque"] & ~lumen]
    for number, mask in enumerate(truth, start=1):
        read = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / f"{number}.nrrd")))
        assert np.count_nonzero(read) == np.count_nonzero(mask), number


def test_dcmqi_reads_the_report(dicom_case, tmp_path):
    """dcmqi tid1500reader: every group with its tracking identifier, the segment it references and the numbers of
    lesion.json (as written: rounded to what the method resolves)."""
    result = subprocess.run([_dcmqi("tid1500reader"), "--inputDICOM", str(dicom_case["dicom_out"] / "L1.sr.dcm"),
                             "--outputMetadata", str(tmp_path / "sr.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    document = read_json(dicom_case["out"] / "L1.lesion.json")
    groups = {group["TrackingIdentifier"]: group for group in read_json(tmp_path / "sr.json")["Measurements"]}
    seg_uid = pydicom.dcmread(str(dicom_case["dicom_out"] / "L1.seg.dcm")).SOPInstanceUID

    def values(group):
        return {item["quantity"]["CodeValue"]: (float(item["value"]), item["units"]["CodeValue"])
                for item in group["measurementItems"]}

    lesion = groups["lesion L1"]
    assert (lesion["ReferencedSegment"], lesion["segmentationSOPInstanceUID"]) == (len(COMPONENTS) + 2, seg_uid)
    assert values(lesion) == {"410668003": (document["occlusion_length_mm"], "mm"),
                              "122376": (document["total_plaque_volume_mm3"], "mm3"),
                              "122371": (document["vessel_volume_mm3"], "mm3")}
    assert values(groups["lesion L1 reference E"])["112182"] == (document["reference"]["E"]["lumen_hu"], "[hnsf'U]")
    for number, name in enumerate(COMPONENTS, start=1):
        group = groups[f"lesion L1 {name}"]
        assert group["ReferencedSegment"] == number
        assert values(group) == {"118565006": (document["volumes_mm3"][name], "mm3"),
                                 "PAV": (document["pav_percent"][name], "%")}


# Type 2 and Type 3 attributes of a CT slice that highdicom or CTOPlaque read, and that converters and
# de-identifiers often leave out or empty (issue 25).
OPTIONAL_SOURCE_ATTRIBUTES = ("SliceThickness", "ConvolutionKernel", "WindowCenter", "WindowWidth", "Manufacturer",
                              "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                              "StudyID", "AccessionNumber", "ReferringPhysicianName")
PATIENT_STUDY_TYPE2 = OPTIONAL_SOURCE_ATTRIBUTES[5:]


def _without(sources, keywords, how):
    """Copies of the datasets with each attribute of ``keywords`` removed ("absent") or set empty ("empty")."""
    copies = [copy.deepcopy(ds) for ds in sources]
    for ds in copies:
        for keyword in keywords:
            if how == "empty":
                setattr(ds, keyword, "")
            elif keyword in ds:
                delattr(ds, keyword)
    return copies


@pytest.mark.parametrize("how", ["absent", "empty"])
def test_series_without_optional_attributes_gives_valid_seg_and_sr(analysed, tmp_path, how):
    """Every Type 2/3 attribute missing at once: a SEG and SR that dciodvfy passes, the patient and study attributes
    present and empty in both, the SEG's slice thickness the series' slice spacing (0.5 mm, as written), and
    one note for each thing filled in."""
    volume, analysis, document, sources = analysed
    completed, notes = sources_for_derived_objects(_without(sources, OPTIONAL_SOURCE_ATTRIBUTES, how), volume)
    for name, writer in dicom_writers(completed, volume, analysis, dict(document)).items():
        writer(str(tmp_path / name))
        assert _dciodvfy_errors(tmp_path / name) == [], name
        written = pydicom.dcmread(str(tmp_path / name))
        for keyword in PATIENT_STUDY_TYPE2:
            assert keyword in written and str(written[keyword].value or "") == "", (name, keyword)
    seg = pydicom.dcmread(str(tmp_path / "L1.seg.dcm"))
    thickness_mm = float(seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SliceThickness)
    assert thickness_mm == pytest.approx(volume.spacing_mm[2]) and thickness_mm == pytest.approx(0.5)
    thickness_note = ("the DICOM series has no Slice Thickness (0018,0050): the SEG's pixel measures give the slice "
                      "spacing, 0.500 mm, as its slice thickness")
    if how == "absent":
        assert notes == ["the DICOM series has no Patient's Name (0010,0010), Patient ID (0010,0020), Patient's "
                         "Birth Date (0010,0030), Patient's Sex (0010,0040), Study Date (0008,0020), Study Time "
                         "(0008,0030), Study ID (0020,0010), Accession Number (0008,0050), Referring Physician's "
                         "Name (0008,0090): the SEG and SR carry them empty", thickness_note]
    else:
        assert notes == [thickness_note]
    assert sources[0].SliceThickness == "0.500000"  # the sources themselves are not changed


@pytest.mark.parametrize("keyword", OPTIONAL_SOURCE_ATTRIBUTES)
def test_series_without_one_optional_attribute_builds_seg_and_sr(analysed, keyword):
    """Each attribute alone (issue 25: SliceThickness alone crashed highdicom): the SEG and SR are built, with a
    note for a Type 2 attribute the derived objects must carry, none for a Type 3 one they do not need."""
    volume, analysis, document, sources = analysed
    completed, notes = sources_for_derived_objects(_without(sources, [keyword], "absent"), volume)
    assert set(dicom_writers(completed, volume, analysis, dict(document))) == {"L1.seg.dcm", "L1.sr.dcm"}
    assert len(notes) == (keyword in PATIENT_STUDY_TYPE2 or keyword == "SliceThickness")
    assert all(keyword in ds for ds in completed) or not notes


@pytest.mark.parametrize("keyword", ["SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID",
                                     "Modality", "FrameOfReferenceUID", "ImageOrientationPatient", "PixelSpacing"])
def test_series_without_a_type1_attribute_is_an_input_error(analysed, keyword):
    volume, _, _, sources = analysed
    with pytest.raises(CTOPlaqueInputError, match=r"^66 of 66 DICOM slices have no .* \(....,....\), which a "
                                                  "DICOM SEG and SR need"):
        sources_for_derived_objects(_without(sources, [keyword], "absent"), volume)


def _series_copy(dicom_case, folder, edit):
    """The case's series copied to ``folder`` with ``edit(dataset)`` applied to every slice."""
    shutil.copytree(dicom_case["series"], folder)
    for name in os.listdir(folder):
        dataset = pydicom.dcmread(os.path.join(folder, name))
        edit(dataset)
        dataset.save_as(os.path.join(folder, name))
    return str(folder)


def _analyze(dicom_case, series, out, dicom_out):
    """``ctoplaque analyze`` on ``series`` with the case's centerline and landmarks, as a user runs it."""
    return subprocess.run(
        [os.sys.executable, "-m", "CTOPlaqueStatsLib.command", "analyze", series, "--centerline",
         dicom_case["centerline"], "--landmarks", dicom_case["landmarks"], "--out", str(out), "--dicom-out",
         str(dicom_out), "--lesion-id", "L1"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(os.sys.path)})


def test_analyze_a_series_without_slice_thickness(dicom_case, tmp_path):
    """Issue 25: highdicom died with AttributeError; now the SEG and SR are written and a note says what was done."""
    series = _series_copy(dicom_case, tmp_path / "series", lambda ds: delattr(ds, "SliceThickness"))
    result = _analyze(dicom_case, series, tmp_path / "out", tmp_path / "pacs")
    assert result.returncode == 0, result.stderr
    note = ("the DICOM series has no Slice Thickness (0018,0050): the SEG's pixel measures give the slice spacing, "
            "0.500 mm, as its slice thickness")
    assert f"note: {note}" in result.stderr.splitlines()
    assert read_json(tmp_path / "out" / "L1.lesion.json")["notes"] == [note]
    seg = pydicom.dcmread(str(tmp_path / "pacs" / "L1.seg.dcm"))
    assert float(seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SliceThickness) == 0.5
    assert (tmp_path / "pacs" / "L1.sr.dcm").is_file()


def test_analyze_a_series_without_frame_of_reference_is_one_error_line(dicom_case, tmp_path):
    series = _series_copy(dicom_case, tmp_path / "series", lambda ds: delattr(ds, "FrameOfReferenceUID"))
    result = _analyze(dicom_case, series, tmp_path / "out", tmp_path / "pacs")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: 66 of 66 DICOM slices have no Frame of Reference UID (0020,0052), which a DICOM SEG and SR need to "
        "reference the series; analyse without DICOM results, or export the series with it"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "pacs").exists()


def test_exports_hold_no_patient_attributes_without_include_phi(dicom_case):
    for name in os.listdir(dicom_case["out"]):
        if name.endswith((".json", ".csv", ".html")):
            with open(dicom_case["out"] / name, encoding="utf-8") as handle:
                text = handle.read()
            assert PATIENT_ID not in text and PATIENT_NAME not in text, name  # '^' never occurs in base64
    assert "source_dicom" not in read_json(dicom_case["out"] / "L1.lesion.json")


@pytest.fixture(scope="module")
def phi_out(dicom_case, tmp_path_factory):
    """The dicom case analysed again with --include-phi: its output folder."""
    case, out = dicom_case, tmp_path_factory.mktemp("phi_out")
    assert main(["analyze", case["series"], "--centerline", case["centerline"], "--landmarks", case["landmarks"],
                 "--out", str(out), "--lesion-id", "L1", "--include-phi"]) == 0
    return out


def test_include_phi_copies_the_series_patient_and_study(phi_out):
    source = read_json(phi_out / "L1.lesion.json")["source_dicom"]
    assert source["PatientID"] == PATIENT_ID and source["PatientName"] == PATIENT_NAME
    assert source["ConvolutionKernel"] == "FC03\\AIDR3D"  # multi-valued, as DICOM writes it
    with open(phi_out / "L1.lesion.csv", encoding="utf-8") as handle:
        assert PATIENT_ID in handle.read()


def test_report_with_phi_shows_the_patient_record_fields(dicom_case, phi_out):
    """Name, ID, birth date, study date, accession number, Series Instance UID and kernel, read from the series'
    own files (pydicom), as the report formats them."""
    source = pydicom.dcmread(os.path.join(dicom_case["series"], "IM0001.dcm"))
    study_date = f"{source.StudyDate[:4]}-{source.StudyDate[4:6]}-{source.StudyDate[6:]}"
    with open(phi_out / "L1.report.html", encoding="utf-8") as handle:
        page = handle.read()
    for label, value in (("Name", "Doe, Jane"), ("Patient ID", PATIENT_ID), ("Birth date", "1958-03-12"),
                         ("Study date", study_date), ("Accession number", "ACC4711"),
                         ("Reconstruction kernel", "FC03\\AIDR3D"), ("Series Instance UID", source.SeriesInstanceUID)):
        assert f'<td class="name">{label}</td><td' in page and f">{value}</td>" in page, label
    assert "de-identified" not in page


def test_report_without_phi_says_de_identified_and_no_patient_line(dicom_case):
    with open(dicom_case["out"] / "L1.report.html", encoding="utf-8") as handle:
        page = handle.read()
    assert "<b>Patient: de-identified</b> · study subject P1" in page
    assert "Patient ID" not in page and "Birth date" not in page


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


@pytest.mark.parametrize("phi", [False, True])
def test_report_prints_to_one_a4_page(dicom_case, phi_out, tmp_path, phi):
    """Printed by headless Chromium, as a browser prints it: one A4 page (pdfinfo counts the pages), with and
    without the patient record's fields."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None or shutil.which("pdfinfo") is None:
        pytest.skip("chromium and poppler-utils are not installed; `make test` installs them where apt can")
    pdf = tmp_path / "report.pdf"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                    f"--print-to-pdf={pdf}", ((phi_out if phi else dicom_case["out"]) / "L1.report.html").as_uri()],
                   capture_output=True, timeout=120)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "Pages:           1" in info
    assert "(A4)" in info
