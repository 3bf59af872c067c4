"""CTOPlaqueLogic on real MRML nodes (slicer-core): same numbers as the command line, scene outputs."""

import csv
import io
import os

import numpy as np
import pytest
import SimpleITK as sitk
import slicer
import vtk
from vtk.util import numpy_support

from CTOPlaqueLib.composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS
from CTOPlaqueLib.errors import CTOPlaqueInputError
from CTOPlaqueLib.export import rounded_for_export
from CTOPlaqueLib.labelmap import with_lumen
from CTOPlaqueLib.markups_io import read_markups
from CTOPlaqueLib.quality import is_reviewed, warning_kinds
from CTOPlaqueLib.section_view import lesion_warning_marks, warning_marks
from CTOPlaqueLib.volume_io import read_volume
from conftest import read_json


def _volume_node(scene, path):
    """Load with Slicer's own storage node (reads the file as Slicer does, LPS -> RAS included)."""
    node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CCTA")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(path)
    assert storage.ReadData(node)
    node.SetAndObserveStorageNodeID(storage.GetID())
    return node


def _markups_node(scene, path, class_name):
    node = scene.AddNewNodeByClass(class_name)
    storage = node.CreateDefaultStorageNode()
    scene.AddNode(storage)
    storage.UnRegister(None)
    storage.SetFileName(path)
    assert storage.ReadData(node)
    return node


@pytest.fixture(scope="module")
def logic_nodes(mrml_scene, curved_case_files):
    volume = _volume_node(mrml_scene, curved_case_files["volume"])
    centerline = _markups_node(mrml_scene, curved_case_files["centerline"], "vtkMRMLMarkupsCurveNode")
    landmarks = _markups_node(mrml_scene, curved_case_files["landmarks"], "vtkMRMLMarkupsFiducialNode")
    return volume, centerline, landmarks


@pytest.fixture(scope="module")
def logic_result(logic_nodes):
    from CTOPlaque import CTOPlaqueLogic

    return CTOPlaqueLogic().analyze(*logic_nodes, lesion_id="RCA-2", patient_id="P1")


def test_nodes_read_by_slicer_match_our_file_readers(logic_nodes, curved_case_files):
    from CTOPlaqueLib import mrml

    volume_node, centerline_node, landmarks_node = logic_nodes
    from_node = mrml.volume_from_node(volume_node)
    from_file = read_volume(curved_case_files["volume"])
    np.testing.assert_array_equal(from_node.hu, from_file.hu)
    assert from_node.hu.dtype == from_file.hu.dtype == np.int16  # a short volume is held as int16, not float32
    np.testing.assert_allclose(from_node.ijk_to_ras, from_file.ijk_to_ras, atol=1e-6)
    np.testing.assert_allclose(mrml.markups_from_node(centerline_node).points_ras,
                               read_markups(curved_case_files["centerline"]).points_ras, atol=1e-6)
    assert mrml.markups_from_node(landmarks_node).labels == ["S", "P", "D", "E"]


def test_logic_gives_the_command_line_numbers(logic_result, curved_case_files, tmp_path):
    from CTOPlaqueStatsLib.command import main

    assert main(["analyze", curved_case_files["volume"], "--centerline", curved_case_files["centerline"],
                 "--landmarks", curved_case_files["landmarks"], "--out", str(tmp_path / "cli"),
                 "--lesion-id", "RCA-2"]) == 0
    cli = read_json(tmp_path / "cli" / "RCA-2.lesion.json")
    logic = rounded_for_export(logic_result.document)  # the files' precision
    for key in ("occlusion_length_mm", "total_plaque_volume_mm3", "noncalcified_volume_mm3"):
        assert logic[key] == cli[key]
    assert logic["pav_percent"] == cli["pav_percent"]


def test_results_table_node_holds_the_measurements(logic_result):
    table = logic_result.nodes["ResultsTable"].GetTable()
    names = [table.GetValue(r, 0).ToString() for r in range(table.GetNumberOfRows())]
    values = {n: table.GetValue(r, 1).ToDouble() for r, n in enumerate(names)}
    assert values["Occlusion length"] == pytest.approx(logic_result.document["occlusion_length_mm"])
    assert values["Dense calcium PAV"] == pytest.approx(logic_result.document["pav_percent"]["dense_calcium"])
    profile = logic_result.nodes["ProfileTable"].GetTable()
    assert profile.GetNumberOfRows() == len(logic_result.analysis.centerline.arc_mm)


def test_segmentation_node_has_components_in_paper_colours_and_volumes(logic_result):
    segmentation = logic_result.nodes["Composition"].GetSegmentation()
    names = {segmentation.GetNthSegment(i).GetName(): segmentation.GetNthSegment(i)
             for i in range(segmentation.GetNumberOfSegments())}
    assert set(names) == {"Necrotic core", "Fibrofatty", "Fibrous", "Dense calcium"}
    assert names["Necrotic core"].GetColor() == pytest.approx((0.85, 0.10, 0.10))
    assert names["Dense calcium"].GetColor() == pytest.approx((1.0, 1.0, 1.0))
    # Voxel-centre counting of the segmentation agrees with the fractional-voxel volumes.
    voxel_mm3 = logic_result.volume.voxel_volume_mm3
    for name, key in (("Necrotic core", "necrotic_core"), ("Fibrous", "fibrous")):
        labelmap = slicer.vtkOrientedImageData()
        segment_id = segmentation.GetSegmentIdBySegment(names[name])
        logic_result.nodes["Composition"].GetBinaryLabelmapRepresentation(segment_id, labelmap)
        counted = np.count_nonzero(numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars())) * voxel_mm3
        assert counted == pytest.approx(logic_result.document["volumes_mm3"][key], rel=0.1)


def test_seg_nrrd_file_opens_as_slicer_segmentation(logic_result, mrml_scene, tmp_path):
    from CTOPlaque import CTOPlaqueLogic

    paths = CTOPlaqueLogic().export(logic_result, str(tmp_path / "export"))
    node = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "reloaded")
    storage = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(paths["segmentation"])
    assert storage.ReadData(node)
    segmentation = node.GetSegmentation()
    names = sorted(segmentation.GetNthSegment(i).GetName() for i in range(segmentation.GetNumberOfSegments()))
    assert names == ["Dense calcium", "Fibrofatty", "Fibrous", "Lumen", "Necrotic core"]
    colour = segmentation.GetSegment("fibrofatty").GetColor()
    assert colour == pytest.approx((0.70, 0.95, 0.55), abs=1e-4)
    calcium = segmentation.GetSegment("dense_calcium").GetTerminology()  # the DICOM SEG's codes, CID 3495
    assert "~SCT^49755003^Morphologically Abnormal Structure~SCT^237897009^Vascular Calcification~" in calcium
    assert sorted(os.listdir(tmp_path / "export")) == sorted(
        os.path.basename(p) for k, p in paths.items() if k != "document")


def test_logic_rejects_landmarks_without_p(mrml_scene, logic_nodes):
    from CTOPlaque import CTOPlaqueLogic

    volume, centerline, _ = logic_nodes
    incomplete = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "only D")
    position = [0.0, 0.0, 0.0]
    centerline.GetNthControlPointPositionWorld(0, position)
    incomplete.AddControlPoint(vtk.vtkVector3d(*position), "D")
    with pytest.raises(CTOPlaqueInputError, match="missing landmark P"):
        CTOPlaqueLogic().analyze(volume, centerline, incomplete)



def test_logic_extracts_an_editable_centerline_and_proposes_landmarks(mrml_scene, logic_nodes, curved_case_files):
    from conftest import phantom_for

    from CTOPlaque import CTOPlaqueLogic
    from CTOPlaqueLib.centerline import project_onto_centerline, sample_centerline

    volume, _, _ = logic_nodes
    seeds = _markups_node(mrml_scene, curved_case_files["seeds"], "vtkMRMLMarkupsFiducialNode")
    logic = CTOPlaqueLogic()
    curve = logic.extract_centerline(volume, seeds)
    assert curve.IsA("vtkMRMLMarkupsCurveNode") and curve.GetNumberOfControlPoints() > 10
    truth = sample_centerline(phantom_for("curved").centerline_ras, 0.1)
    for index in range(curve.GetNumberOfControlPoints()):
        position = [0.0, 0.0, 0.0]
        curve.GetNthControlPointPositionWorld(index, position)
        assert project_onto_centerline(truth, position)[1] < 0.5

    landmarks = logic.propose_landmarks(volume, curve)
    labels = [landmarks.GetNthControlPointLabel(i) for i in range(landmarks.GetNumberOfControlPoints())]
    assert labels == ["S", "P", "D", "E"]
    first = logic.analyze(volume, curve, landmarks, lesion_id="edited")
    # The user moves D 3 mm proximally along the vessel: re-analysis follows the edit.
    moved = [0.0, 0.0, 0.0]
    landmarks.GetNthControlPointPositionWorld(2, moved)
    tangent = np.array(truth.tangents[np.argmin(np.linalg.norm(truth.points_ras - moved, axis=1))])
    landmarks.SetNthControlPointPositionWorld(2, *(np.array(moved) - 3.0 * tangent))
    second = logic.analyze(volume, curve, landmarks, lesion_id="edited")
    assert second.document["occlusion_length_mm"] == pytest.approx(
        first.document["occlusion_length_mm"] - 3.0, abs=0.05)


def test_contours_are_drawn_as_outlines_and_the_composition_as_an_overlay(logic_result):
    """In the slice views the "ID contours" (and the straightened contours) are outlines 2 px wide without fill,
    so the CT under them stays readable, and the composition overlay is filled at half opacity, outlined."""
    nodes = logic_result.nodes
    for role in ("Contours", "StraightenedContours"):
        display = nodes[role].GetDisplayNode()
        assert display.GetVisibility2DOutline() and not display.GetVisibility2DFill()
        assert display.GetSliceIntersectionThickness() == 2
    for role in ("Composition", "StraightenedComposition"):
        display = nodes[role].GetDisplayNode()
        assert display.GetVisibility2DFill() and display.GetOpacity2DFill() == 0.5 and display.GetVisibility2DOutline()
    assert nodes["Contours"].GetDisplayNode().GetVisibility() and nodes["Composition"].GetDisplayNode().GetVisibility()
    # the straightened vessel's nodes share RAS with the patient: hidden (in 3D too) until the straightened view shows
    # them (Logic.show_straightened, in that view only)
    assert not any(nodes[role].GetDisplayNode().GetVisibility()
                   for role in ("StraightenedContours", "StraightenedComposition", "SectionLine"))


def test_scene_outputs_grouped_named_and_charted(logic_result, mrml_scene):
    nodes = logic_result.nodes
    hierarchy = mrml_scene.GetSubjectHierarchyNode()
    parents = {hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node)) for node in nodes.values()}
    assert len(parents) == 1 and hierarchy.GetItemName(parents.pop()) == "CTO lesion RCA-2"
    area_chart = nodes["AreaChart"]
    names = [area_chart.GetNthPlotSeriesNode(i).GetName() for i in range(area_chart.GetNumberOfPlotSeriesNodes())]
    assert names == ["Lumen area (mm²)", "Vessel area (mm²)"]
    assert nodes["CompositionChart"].GetNumberOfPlotSeriesNodes() == 4
    straightened = nodes["Straightened"].GetImageData().GetDimensions()
    assert straightened[2] == len(logic_result.analysis.centerline.arc_mm)
    from CTOPlaqueLib.contour_masks import CONTOUR_SEGMENTS

    for role in ("StraightenedContours", "Contours"):  # the same segments in the same colours in both views
        contours = nodes[role].GetSegmentation()
        assert {contours.GetNthSegment(i).GetName(): contours.GetNthSegment(i).GetColor()
                for i in range(contours.GetNumberOfSegments())} == {
            name: pytest.approx(color) for _, name, _, color in CONTOUR_SEGMENTS}
    composition = nodes["StraightenedComposition"].GetSegmentation()
    segments = {composition.GetNthSegment(i).GetName(): composition.GetNthSegment(i).GetColor()
                for i in range(composition.GetNumberOfSegments())}
    assert segments == {COMPONENT_NAMES[c]: pytest.approx(COMPONENT_COLORS[c]) for c in COMPONENTS}


def test_reanalysis_replaces_the_lesions_outputs_and_keeps_other_lesions(logic_result, logic_nodes, mrml_scene):
    """Analyzing a lesion ID again (e.g. after moving D) leaves one folder with one set of outputs: the
    scene has as many nodes of each class as after the first analysis, and RCA-2's outputs are untouched."""
    from CTOPlaque import CTOPlaqueLogic

    def node_classes():
        classes = [mrml_scene.GetNthNode(i).GetClassName() for i in range(mrml_scene.GetNumberOfNodes())]
        return {name: classes.count(name) for name in set(classes)}

    logic = CTOPlaqueLogic()
    first = logic.analyze(*logic_nodes, lesion_id="REPEAT")
    after_first = node_classes()
    second = logic.analyze(*logic_nodes, lesion_id="REPEAT")
    assert node_classes() == after_first
    assert not any(mrml_scene.IsNodePresent(node) for node in first.nodes.values())
    assert all(mrml_scene.IsNodePresent(node) for node in (*second.nodes.values(), *logic_result.nodes.values()))
    hierarchy = mrml_scene.GetSubjectHierarchyNode()
    folder = hierarchy.GetItemChildWithName(hierarchy.GetSceneItemID(), "CTO lesion REPEAT")
    children = vtk.vtkIdList()
    hierarchy.GetItemChildren(folder, children)
    assert children.GetNumberOfIds() == len(second.nodes) + 2 + 4  # outputs and the charts' series
    assert logic.getParameterNode().GetNodeReference("ResultsTable") is second.nodes["ResultsTable"]


def _table_values(table_node) -> dict:
    table = table_node.GetTable()
    return {table.GetValue(r, 0).ToString(): float(table.GetValue(r, 1).ToString())
            for r in range(table.GetNumberOfRows())}


def test_saved_scene_reloads_inputs_results_plots_and_overlay(logic_result, mrml_scene, tmp_path):
    import mrml_app

    from CTOPlaque import OUTPUT_ROLES, CTOPlaqueLogic

    logic = CTOPlaqueLogic()
    logic.set_overlay_visible(False)
    lesion_id = logic.getParameterNode().GetParameter("LesionID")
    before = _table_values(logic.results_in_scene()["ResultsTable"])
    path = mrml_app.save_scene(mrml_scene, str(tmp_path))
    try:
        reloaded = mrml_app.load_scene(path)
        logic = CTOPlaqueLogic()
        outputs = logic.results_in_scene()
        assert all(outputs[role] is not None for role in OUTPUT_ROLES)
        parameters = logic.getParameterNode()
        assert parameters.GetParameter("LesionID") == lesion_id
        assert parameters.GetParameter("ThresholdsHU") == "-30,76,131,351"
        assert parameters.GetNodeReference("Landmarks").GetNumberOfControlPoints() == 4
        assert parameters.GetNodeReference("InputVolume").GetImageData() is not None
        after = _table_values(outputs["ResultsTable"])
        assert after.keys() == before.keys()
        assert after["Total plaque volume"] == pytest.approx(before["Total plaque volume"], rel=1e-6)
        assert outputs["AreaChart"].GetNumberOfPlotSeriesNodes() == 2
        assert outputs["AreaChart"].GetNthPlotSeriesNode(0).GetTableNode() is not None
        assert outputs["Composition"].GetSegmentation().GetNumberOfSegments() == 4
        assert outputs["Composition"].GetDisplayNode().GetVisibility() == 0
        assert outputs["Straightened"].GetImageData() is not None
        assert reloaded.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") >= 2
    finally:
        slicer.mrmlScene = mrml_scene


def test_entered_items_give_scores_in_the_results_table(logic_nodes):
    """Curved phantom (calcified, 22 mm, tapered, 36 degrees) with no re-try: J-CTO 2 (difficult)."""
    from CTOPlaque import CTOPlaqueLogic

    items = {"retry": False, "previous_failed_attempt": False, "duration_ge_12_months_or_unknown": None,
             "multiple_occlusions": False, "proximal_side_branch": None, "whole_luminal_calcification": None}
    result = CTOPlaqueLogic().analyze(*logic_nodes, lesion_id="SCORED", clinical_items=items)
    table = result.nodes["ResultsTable"].GetTable()
    rows = {table.GetValue(r, 0).ToString(): (table.GetValue(r, 1).ToDouble(), table.GetValue(r, 2).ToString())
            for r in range(table.GetNumberOfRows())}
    assert rows["J-CTO score"] == (2.0, "points (difficult)")
    assert "CT-RECTOR score" not in rows  # duration unknown in the entry: missing, not zero


# The patient of the DICOM series written for the export tests: neither is the study's patient ID, so that their
# absence from a de-identified export means something.
SERIES_PATIENT_ID, SERIES_PATIENT_NAME = "MRN0042", "Doe^Jane"


def dicom_volume_node(scene, folder, monkeypatch):
    """The curved phantom written as a CT series of SERIES_PATIENT_ID and loaded as Slicer's DICOM plugin loads a
    series (archetype storage node over the series' files, the node's DICOM.instanceUIDs attribute), with a
    slicer.dicomDatabase that knows the files; returns (volume node, series files)."""
    import pydicom

    from CTOPlaqueLib.dicom_series import write_ct_series
    from conftest import phantom_for

    phantom = phantom_for("curved")
    files = write_ct_series(os.path.join(folder, "series"), phantom.hu, phantom.ijk_to_ras, SERIES_PATIENT_ID,
                            SERIES_PATIENT_NAME)
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "CCTA DICOM")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(files[0])
    for path in files:
        storage.AddFileName(path)
    assert storage.ReadData(volume)
    by_uid = {pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID: path for path in files}
    volume.SetAttribute("DICOM.instanceUIDs", " ".join(by_uid))

    class Database:
        def fileForInstance(self, uid):
            return by_uid[uid]

    monkeypatch.setattr(slicer, "dicomDatabase", Database(), raising=False)
    return volume, files


def exported_text(paths) -> dict:
    """The text of the exported lesion.json, lesion.csv and report, by output kind."""
    texts = {}
    for kind in ("lesion_json", "lesion_csv", "report_html"):
        with open(paths[kind], encoding="utf-8") as handle:
            texts[kind] = handle.read()
    return texts


def assert_patient_details(paths, series_file, included: bool) -> None:
    """lesion.json, lesion.csv and the report hold the series' patient and Series Instance UID when ``included``
    (the report's patient-record table, source_dicom, the dicom_ columns), and none of them otherwise (the report
    then says de-identified)."""
    import pydicom

    series_uid = pydicom.dcmread(series_file, stop_before_pixels=True).SeriesInstanceUID
    texts = exported_text(paths)
    source = read_json(paths["lesion_json"]).get("source_dicom")
    if not included:
        for kind, text in texts.items():
            assert SERIES_PATIENT_ID not in text and SERIES_PATIENT_NAME not in text and series_uid not in text, kind
        assert source is None and "<b>Patient: de-identified</b>" in texts["report_html"]
        return
    assert (source["PatientID"], source["PatientName"], source["SeriesInstanceUID"]) == (
        SERIES_PATIENT_ID, SERIES_PATIENT_NAME, series_uid)
    columns = next(csv.DictReader(io.StringIO(texts["lesion_csv"])))
    assert columns["dicom_PatientID"] == SERIES_PATIENT_ID and columns["dicom_SeriesInstanceUID"] == series_uid
    report = texts["report_html"]
    assert f'<td class="name">Patient ID</td><td>{SERIES_PATIENT_ID}</td>' in report
    assert '<td class="name">Name</td><td>Doe, Jane</td>' in report and f">{series_uid}</td>" in report
    assert "de-identified" not in report


def test_export_of_a_dicom_volume_writes_seg_and_sr_and_patient_details_only_when_asked(
        mrml_scene, logic_nodes, tmp_path, monkeypatch):
    """A volume loaded by Slicer's DICOM module carries its instance UIDs; Export finds their files in the
    DICOM database and writes the SEG (from the labelmaps the analysis made) and SR beside the other files, with the
    panel's numbers. The patient's details reach lesion.json, lesion.csv and the report only with include_phi
    (``--include-phi``); the SEG carries the series' patient either way, as DICOM requires."""
    import pydicom

    import CTOPlaqueLib.dicom_results as dicom_results
    from CTOPlaque import CTOPlaqueLogic

    volume, files = dicom_volume_node(mrml_scene, str(tmp_path), monkeypatch)
    _, centerline, landmarks = logic_nodes
    logic = CTOPlaqueLogic()
    result = logic.analyze(volume, centerline, landmarks, lesion_id="D1", patient_id="P1")
    monkeypatch.setattr(dicom_results, "lesion_labelmaps", _rebuilt)  # the SEG is made of the analysis's labelmaps
    paths = logic.export(result, str(tmp_path / "export"))
    seg = pydicom.dcmread(paths["D1.seg.dcm"])
    sr = pydicom.dcmread(paths["D1.sr.dcm"])
    assert seg.FrameOfReferenceUID == pydicom.dcmread(files[0]).FrameOfReferenceUID
    assert seg.NumberOfFrames > 0 and len(seg.SegmentSequence) == len(COMPONENTS) + 2  # and the lumen and the plaque
    assert seg.PatientID == SERIES_PATIENT_ID
    assert sr.CompletionFlag == "COMPLETE"
    assert read_json(paths["lesion_json"])["total_plaque_volume_mm3"] == pytest.approx(
        result.document["total_plaque_volume_mm3"], abs=0.05)  # 0.1 mm3 in the file
    assert_patient_details(paths, files[0], included=False)

    assert_patient_details(logic.export(result, str(tmp_path / "with_phi"), include_phi=True), files[0],
                           included=True)
    assert_patient_details(logic.export(result, str(tmp_path / "again")), files[0], included=False)


def test_patient_details_of_a_volume_not_from_dicom_are_an_input_error(logic_result, logic_nodes, tmp_path):
    """include_phi for a CT loaded from a file (no DICOM database entry): the reason, and no file written, as
    ``--include-phi`` with a volume file on the command line."""
    from CTOPlaque import CTOPlaqueLogic

    logic = CTOPlaqueLogic()
    logic.getParameterNode().SetNodeReferenceID("InputVolume", logic_nodes[0].GetID())
    with pytest.raises(CTOPlaqueInputError, match="patient details come from the DICOM database"):
        logic.export(logic_result, str(tmp_path / "export"), include_phi=True)
    assert not (tmp_path / "export").exists()


def _rebuilt(*_):
    raise AssertionError("rebuilt on export")


def test_export_writes_the_images_the_scene_already_holds(logic_result, tmp_path, monkeypatch):
    """Export builds neither the composition and lumen labelmaps nor the straightened vessel again: it writes those
    the analysis made for the scene (the builders made to fail here), and the written segmentation holds the
    scene's composition voxels with every lumen voxel as label 5."""
    import CTOPlaqueLib.lesion_files as lesion_files
    from CTOPlaque import CTOPlaqueLogic

    for builder in ("lesion_labelmaps", "straighten"):
        monkeypatch.setattr(lesion_files, builder, _rebuilt)
    paths = CTOPlaqueLogic().export(logic_result, str(tmp_path / "export"))
    assert os.path.isfile(paths["segmentation"]) and os.path.isfile(paths["straightened_png"])
    written = sitk.GetArrayFromImage(sitk.ReadImage(paths["segmentation"]))
    images = logic_result.images
    lumen = len(COMPONENTS) + 1
    assert np.count_nonzero(written == lumen) == np.count_nonzero(images.lumen.labels) > 0
    assert np.array_equal(np.bincount(written.ravel(), minlength=lumen + 1),
                          np.bincount(with_lumen(images.composition, images.lumen, lumen).labels.ravel(),
                                      minlength=lumen + 1))
    in_plaque = np.count_nonzero(written[(written > 0) & (written < lumen)])
    assert 0.9 * np.count_nonzero(images.composition.labels) < in_plaque <= np.count_nonzero(images.composition.labels)


def _erase_wall(logic_result, mrml_scene, first_mm, last_mm):
    """The scripted edit of a reader: the contours node's wall segment erased between first_mm and last_mm from
    the ostium (as the Segment Editor's erase effect would), through the node itself."""
    from scipy.spatial import cKDTree

    from CTOPlaqueLib import mrml
    from CTOPlaqueLib.contour_masks import CONTOUR_SEGMENTS, WALL_LABEL
    from CTOPlaqueLib.labelmap import Labelmap, polar_in_sections

    node = logic_result.nodes["Contours"]
    masks = logic_result.images.contours
    k, j, i = np.indices(masks.labels.shape).reshape(3, -1)
    ras = np.stack([i, j, k], axis=1) @ masks.ijk_to_ras[:3, :3].T + masks.ijk_to_ras[:3, 3]
    centerline = logic_result.analysis.centerline
    _, arc, _, _ = polar_in_sections(centerline, np.arange(len(centerline.arc_mm)), cKDTree(centerline.points_ras),
                                     ras)
    labels = masks.labels.ravel().copy()
    labels[(arc >= first_mm) & (arc <= last_mm) & (labels == WALL_LABEL)] = 0
    segments = {label: (name, color) for _, name, label, color in CONTOUR_SEGMENTS}
    mrml.segmentation_from_labelmap(mrml_scene, Labelmap(labels.reshape(masks.labels.shape), masks.ijk_to_ras),
                                    node.GetName(), segments, segmentation_node=node, edit_on_labelmap_grid=True)


def test_contours_node_is_edited_on_its_fine_grid_and_remeasured(logic_nodes, mrml_scene, tmp_path):
    """The "ID contours" node holds the lumen and vessel-wall segments on the oversampled grid (its reference
    geometry, where the Segment Editor paints). Re-measured unedited: within 1% of the automatic volume and no
    edit recorded. With the wall erased over 2 mm of the occlusion: the edit is recorded over those 2 mm and the
    volume drops by the automatic volume of those sections (within 3%); the wall closing in there (to nothing), which
    the automatic analysis did not warn of, is warned of plainly, not as reviewed, and so is its position on the
    section slider. The exported lesion.json and a saved and reloaded scene give the same marks, and the reloaded
    scene re-measures the edited contours to the same volume and warnings."""
    import mrml_app

    from CTOPlaque import CTOPlaqueLogic
    from CTOPlaqueLib import mrml

    logic = CTOPlaqueLogic()
    result = logic.analyze(*logic_nodes, lesion_id="EDIT", patient_id="P1")
    node = result.nodes["Contours"]
    segments, ijk_to_ras = mrml.segment_masks(mrml_scene, node)
    assert sorted(segments) == ["lumen", "vessel wall"]
    np.testing.assert_allclose(ijk_to_ras, result.images.contours.ijk_to_ras, atol=1e-6)
    assert np.array_equal(segments["lumen"], result.images.contours.labels == 1)

    same = logic.remeasure(result)
    assert same.document["contours"]["edited"] is False
    assert same.document["total_plaque_volume_mm3"] == pytest.approx(result.document["total_plaque_volume_mm3"],
                                                                      rel=0.01)

    p_mm = result.analysis.landmarks_mm["P"]
    _erase_wall(same, mrml_scene, p_mm + 5.0, p_mm + 7.0)
    edited = logic.remeasure(same)
    record = edited.document["contours"]
    assert record["edited"] and len(record["edited_ranges_mm"]) == 1
    first, last = record["edited_ranges_mm"][0]
    assert first == pytest.approx(p_mm + 5.0, abs=0.5) and last == pytest.approx(p_mm + 7.0, abs=0.5)
    automatic = result.analysis
    erased = (automatic.centerline.arc_mm >= p_mm + 5.0) & (automatic.centerline.arc_mm <= p_mm + 7.0)
    erased_mm3 = float(np.sum(automatic.profile.vessel_area_mm2[erased]) * automatic.centerline.step_mm)
    assert edited.document["total_plaque_volume_mm3"] == pytest.approx(
        result.document["total_plaque_volume_mm3"] - erased_mm3, rel=0.03)
    assert record["automatic"]["total_plaque_volume_mm3"] == result.document["total_plaque_volume_mm3"]
    # the erased sections close the wall in against the 6 mm around them: a warning the edit itself raised (the
    # automatic analysis did not), so it keeps its plain form though it lies in the edited range, in the warnings
    # and on the section slider (a slip of the eraser is not hidden as reviewed); the other warnings stay as they were
    warnings = edited.document["warnings"]
    closing = [warning for warning in warnings if "closes in to" in warning]
    assert len(closing) == 1 and "closes in to" not in str(same.document["warnings"])
    assert not [warning for warning in warnings if is_reviewed(warning)]
    assert [warning for warning in warnings if warning not in closing] == same.document["warnings"]
    where = closing[0].split(" the outer wall")[0]  # "6.3 mm after P"
    marks = logic.section_marks()["warnings"]
    assert not [description for description, _ in marks if description.endswith(", reviewed")]
    position_mm = dict(marks)[f"wall closes in, {where}"]
    assert first - 0.5 * automatic.centerline.step_mm <= position_mm <= last + 0.5 * automatic.centerline.step_mm
    assert len(marks) == 1 + len(warning_marks(same.document["quality"], same.document["landmarks_mm"]))
    assert record["automatic"]["warning_kinds"] == warning_kinds(automatic.quality)
    _assert_same_marks_as_exported(lesion_warning_marks(_exported_document(logic, edited, tmp_path / "export")),
                                   marks)

    path = mrml_app.save_scene(mrml_scene, str(tmp_path))
    try:
        mrml_app.load_scene(path)
        reloaded = CTOPlaqueLogic()
        assert reloaded.section_marks()["warnings"] == marks
        again = reloaded.remeasure()
        assert again.document["total_plaque_volume_mm3"] == pytest.approx(
            edited.document["total_plaque_volume_mm3"], rel=1e-6)
        assert again.document["contours"]["edited_ranges_mm"] == record["edited_ranges_mm"]
        assert again.document["warnings"] == warnings
        assert reloaded.section_marks()["warnings"] == marks
    finally:
        slicer.mrmlScene = mrml_scene


def _exported_document(logic, result, out_dir) -> dict:
    """The lesion.json that the Logic's export writes for ``result``, read back."""
    logic.export(result, str(out_dir))
    (name,) = [name for name in os.listdir(out_dir) if name.endswith(".lesion.json")]
    return read_json(os.path.join(out_dir, name))


def _assert_same_marks_as_exported(marks, expected):
    """Go-to-warning marks ([description, mm]) from an exported lesion.json equal ``expected`` within the rounding of
    the file (0.01 mm on a landmark and on the offset from it: a 5.25 mm offset may read "5.2" instead of "5.3"):
    the same problems, each reviewed or not alike, at the same positions within 0.02 mm."""
    def problems(marks_mm):
        return [(description.split(",")[0], description.endswith(", reviewed")) for description, _ in marks_mm]

    assert problems(marks) == problems(expected)
    assert [mm for _, mm in marks] == pytest.approx([mm for _, mm in expected], abs=0.02)


def test_remeasure_without_usable_contours_is_an_input_error(logic_nodes, mrml_scene):
    """Re-measure after the reader deleted the "ID contours" node, emptied its segments, or removed them: one
    CTOPlaqueInputError saying so (the panel shows it), never an exception from deep inside, and the lesion's
    results stay in the scene until a re-measure succeeds."""
    from CTOPlaque import CTOPlaqueLogic

    logic = CTOPlaqueLogic()
    result = logic.analyze(*logic_nodes, lesion_id="GONE", patient_id="P1")
    node = result.nodes["Contours"]
    segmentation = node.GetSegmentation()
    for index in range(segmentation.GetNumberOfSegments()):  # the Segment Editor's erase over every voxel
        slicer.vtkSlicerSegmentationsModuleLogic.ClearSegment(node, segmentation.GetNthSegmentID(index))
    with pytest.raises(CTOPlaqueInputError, match="GONE contours: the lumen segment is empty"):
        logic.remeasure(result)
    segmentation.RemoveAllSegments()
    with pytest.raises(CTOPlaqueInputError, match="GONE contours has no lumen segment .* it has none"):
        logic.remeasure(result)
    mrml_scene.RemoveNode(node)
    with pytest.raises(CTOPlaqueInputError, match="there are no contours to re-measure"):
        logic.remeasure(result)
    assert logic.getParameterNode().GetNodeReference("ResultsTable") is result.nodes["ResultsTable"]


def test_a_segmentation_node_with_two_segments_of_one_name_is_an_input_error(mrml_scene, tmp_path):
    """In the panel, as from a file: a segment added in the Segment Editor under the name of another ("Lumen" beside
    "lumen") is refused by name, not resolved silently by order."""
    from conftest import write_two_lumens_segmentation
    from CTOPlaqueLib import mrml
    from CTOPlaqueLib.errors import CTOPlaqueInputError

    path = write_two_lumens_segmentation(str(tmp_path / "two-lumens.seg.nrrd"))
    node = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "L1 contours")
    storage = mrml_scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(path)
    assert storage.ReadData(node)
    with pytest.raises(CTOPlaqueInputError, match="^L1 contours has two segments named 'lumen'"):
        mrml.segment_masks(mrml_scene, node)
