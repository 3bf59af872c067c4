"""The module panels driven as a user drives them: real widget code, real .ui, real MRML nodes.

Qt is PySide6 offscreen seen through PythonQt's conventions (slicer_gui); every click goes through
the panel's own slots, the Logic and slicer-core. Numbers are checked against the phantom's truth.
"""

import logging
import os

import pytest

pytest.importorskip("PySide6.QtUiTools")

import slicer  # noqa: E402

from conftest import ROOT, read_json  # noqa: E402

MODULE_PATHS = {"CTOPlaque": os.path.join(ROOT, "CTOPlaque", "CTOPlaque.py"),
                "CTOPlaqueStats": os.path.join(ROOT, "CTOPlaqueStats", "CTOPlaqueStats.py")}


@pytest.fixture
def gui(monkeypatch):
    """A fresh application scene with the GUI layer installed; slicer's globals restored afterwards."""
    import sys

    import mrml_app
    import slicer_gui

    for name in ("mrmlScene", "app", "modules", "qMRMLWidget", "_ctoplaque_app_logic", "_ctoplaque_module_logics"):
        monkeypatch.setattr(slicer, name, getattr(slicer, name, None), raising=False)
    monkeypatch.setitem(sys.modules, "qt", sys.modules.get("qt"))
    scene = mrml_app.make_scene()
    application = slicer_gui.install(scene, MODULE_PATHS)
    return scene, application


def _load_case(scene, files):
    from test_logic_mrml import _markups_node, _volume_node

    volume = _volume_node(scene, files["volume"])
    seeds = _markups_node(scene, files["seeds"], "vtkMRMLMarkupsFiducialNode")
    seeds.SetName("Seeds")
    return volume, seeds


def _table_value(table_node, measure):
    table = table_node.GetTable()
    return next(table.GetValue(r, 1).ToDouble() for r in range(table.GetNumberOfRows())
                if table.GetValue(r, 0).ToString() == measure)


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_panel_runs_the_five_clicks_from_volume_to_export(gui, curved_case_files, tmp_path, caplog, monkeypatch):
    from CTOPlaque import OUTPUT_ROLES, PLOT_VIEWS, PLOTS_LAYOUT_ID, CTOPlaqueWidget

    scene, application = gui
    caplog.set_level(logging.INFO)
    truth = read_json(curved_case_files["truth"])
    volume, seeds = _load_case(scene, curved_case_files)
    widget = CTOPlaqueWidget()
    ui = widget.ui
    parameters = widget.logic.getParameterNode()

    assert not ui.extractCenterlineButton.enabled
    ui.volumeSelector.setCurrentNode(volume)
    ui.seedsSelector.setCurrentNode(seeds)
    assert parameters.GetNodeReference("InputVolume") is volume
    assert ui.seedsPlaceWidget.currentNode() is seeds
    assert ui.extractCenterlineButton.enabled and not ui.analyzeButton.enabled

    ui.extractCenterlineButton.click()
    centerline = ui.centerlineSelector.currentNode()
    assert centerline is not None and centerline.GetNumberOfControlPoints() > 10
    assert parameters.GetNodeReference("Centerline") is centerline

    ui.proposeLandmarksButton.click()
    landmarks = ui.landmarksSelector.currentNode()
    labels = {landmarks.GetNthControlPointLabel(i) for i in range(landmarks.GetNumberOfControlPoints())}
    assert {"P", "D"} <= labels
    assert ui.analyzeButton.enabled and not ui.exportButton.enabled

    ui.lesionIdEdit.text = "RCA-GUI"
    ui.lesionIdEdit.editingFinished.emit()
    ui.retryComboBox.currentText = "no"
    assert not ui.analysisProgressBar.visible
    shown = []
    monkeypatch.setattr(application, "processEvents",
                        lambda: shown.append((ui.analysisProgressBar.value, ui.analysisProgressBar.text)))
    ui.analyzeButton.click()
    assert _errors(caplog) == []
    assert application.override_cursors == 0
    assert [value for value, _ in shown] == [0, 15, 60, 75, 90, 100]
    assert shown[1][1] == "Measuring lumen, wall and plaque along the vessel  15%"
    assert not ui.analysisProgressBar.visible
    results = ui.resultsTableView.mrmlTableNode()
    assert results is parameters.GetNodeReference("ResultsTable")
    rows = {results.GetTable().GetValue(r, 0).ToString(): results.GetTable().GetValue(r, 1).ToDouble()
            for r in range(results.GetNumberOfRows())}
    assert rows["Occlusion length"] == pytest.approx(truth["occlusion_length_mm"], abs=0.5)
    assert rows["Total plaque volume"] == pytest.approx(truth["total_plaque_volume_mm3"], rel=0.05)
    assert all(parameters.GetNodeReference(role) is not None for role in OUTPUT_ROLES)
    assert ui.exportButton.enabled and ui.showPlotsButton.enabled and ui.showStraightenedButton.enabled

    overlays = [parameters.GetNodeReference(role).GetDisplayNode()
                for role in ("Composition", "StraightenedComposition")]
    ui.overlayCheckBox.checked = False
    assert [display.GetVisibility() for display in overlays] == [0, 0]
    ui.overlayCheckBox.checked = True
    assert [display.GetVisibility() for display in overlays] == [1, 1]

    ui.showPlotsButton.click()
    assert application.layoutManager().layout() == PLOTS_LAYOUT_ID
    for role, view_tag in PLOT_VIEWS.items():  # views made by Slicer's layout logic from the description
        view = scene.GetSingletonNode(view_tag, "vtkMRMLPlotViewNode")
        assert view.GetPlotChartNodeID() == parameters.GetNodeReference(role).GetID()
    # the Red view shows the section the slider is at (P after Analyze), reformatted
    assert scene.GetSingletonNode("Red", "vtkMRMLSliceNode").GetOrientation() == "Reformat"

    # after Analyze the Yellow view shows the straightened vessel, its contours and the section line; the other
    # views keep the CT
    from CTOPlaqueLib.mrml import slice_composite_node

    yellow, red = (slice_composite_node(scene, name) for name in ("Yellow", "Red"))
    straightened_id = parameters.GetNodeReference("Straightened").GetID()
    assert ui.showStraightenedButton.checked and yellow.GetBackgroundVolumeID() == straightened_id
    assert red.GetBackgroundVolumeID() != straightened_id
    ui.analyzeButton.click()  # re-analysis while the straightened vessel is shown: its new one is shown
    assert yellow.GetBackgroundVolumeID() == parameters.GetNodeReference("Straightened").GetID() != straightened_id
    ui.showStraightenedButton.click()  # released: back to the CT, and nothing of the straightened space shown
    assert not ui.showStraightenedButton.checked and yellow.GetBackgroundVolumeID() == volume.GetID()
    assert [parameters.GetNodeReference(role).GetDisplayNode().GetVisibility()
            for role in ("StraightenedContours", "StraightenedComposition", "SectionLine")] == [0, 0, 0]
    ui.showStraightenedButton.click()
    assert ui.showStraightenedButton.checked and yellow.GetBackgroundVolumeID() == parameters.GetNodeReference(
        "Straightened").GetID()

    ui.outputDirectoryButton.directory = str(tmp_path / "export")
    ui.exportButton.click()
    assert _errors(caplog) == []
    document = read_json(tmp_path / "export" / "RCA-GUI.lesion.json")
    assert document["lesion_id"] == "RCA-GUI"
    assert document["clinical_items"]["retry"] is False
    assert document["occlusion_length_mm"] == pytest.approx(rows["Occlusion length"], abs=0.005)  # file: 0.01 mm
    assert any("Results written" in r.getMessage() for r in caplog.records)


@pytest.fixture
def analyzed_panel(gui, curved_case_files):
    """The panel after Extract centerline, Propose landmarks and Analyze on the curved phantom."""
    from CTOPlaque import CTOPlaqueWidget

    scene, application = gui
    volume, seeds = _load_case(scene, curved_case_files)
    widget = CTOPlaqueWidget()
    widget.ui.volumeSelector.setCurrentNode(volume)
    widget.ui.seedsSelector.setCurrentNode(seeds)
    widget.ui.extractCenterlineButton.click()
    widget.ui.proposeLandmarksButton.click()
    widget.ui.necroticCoreSpinBox.value = -20.0
    widget.ui.analyzeButton.click()
    assert widget.ui.resultsTableView.mrmlTableNode() is not None
    return widget


def test_quality_warnings_show_in_the_panel(analyzed_panel):
    """No warning on the clean phantom; E moved 2.5 mm off the centerline: the warning, with its fix, shows."""
    import numpy as np

    widget = analyzed_panel
    assert widget.ui.qualityWarningsLabel.isHidden() and widget.ui.qualityWarningsLabel.text == ""
    landmarks, curve = widget.ui.landmarksSelector.currentNode(), widget.ui.centerlineSelector.currentNode()
    index = [landmarks.GetNthControlPointLabel(i) for i in range(landmarks.GetNumberOfControlPoints())].index("E")
    position = np.array(landmarks.GetNthControlPointPositionWorld(index))
    points = np.array([curve.GetNthControlPointPositionWorld(i) for i in range(curve.GetNumberOfControlPoints())])
    nearest = int(np.argmin(np.linalg.norm(points - position, axis=1)))
    tangent = points[min(nearest + 1, len(points) - 1)] - points[max(nearest - 1, 0)]
    across = np.cross(tangent, [0.0, 0.0, 1.0])
    landmarks.SetNthControlPointPositionWorld(index, *(position + 2.5 * across / np.linalg.norm(across)))
    widget.ui.analyzeButton.click()
    assert not widget.ui.qualityWarningsLabel.isHidden()
    assert "mm from the centerline" in widget.ui.qualityWarningsLabel.text
    assert "place the landmarks on the centerline" in widget.ui.qualityWarningsLabel.text
    table = widget.ui.resultsTableView.mrmlTableNode()
    rows = {table.GetCellText(r, 0): table.GetCellText(r, 1) for r in range(table.GetNumberOfRows())}
    assert float(rows["Quality: farthest landmark from the centerline"]) == pytest.approx(2.5, abs=0.3)
    assert float(rows["Quality warnings"]) == 1


def test_saved_scene_brings_back_the_panel(analyzed_panel, gui, tmp_path, caplog):
    """Loading a saved scene fills every selector, setting and the results table from the parameter node,
    although each selector set on the way emits its change signal; the section slider reviews the same sections."""
    import mrml_app
    import numpy as np

    from CTOPlaqueLib.mrml import slice_composite_node

    scene, _ = gui
    widget = analyzed_panel
    ui = widget.ui
    ui.overlayCheckBox.checked = False
    ui.proximalSideBranchComboBox.currentText = "yes"
    ui.retryComboBox.currentText = "no"
    ui.outputDirectoryButton.directory = str(tmp_path / "chosen")
    ui.includePhiCheckBox.checked = True
    ui.sectionSlider.value = 20.0
    section_plane, landmark_positions = _slice_to_ras(scene), ui.landmarkPositionsLabel.text
    saved = {name: getattr(ui, name).currentNode().GetName() for name in widget.SELECTORS}
    path = mrml_app.save_scene(scene, str(tmp_path))

    scene.Clear(0)
    assert all(getattr(ui, name).currentNode() is None for name in widget.SELECTORS)
    assert ui.resultsTableView.mrmlTableNode() is None
    assert not ui.analyzeButton.enabled and not ui.exportButton.enabled
    ui.necroticCoreSpinBox.value = -30.0
    ui.outputDirectoryButton.directory = str(tmp_path / "elsewhere")
    assert ui.proximalSideBranchComboBox.currentText == "unknown" and not ui.includePhiCheckBox.checked

    scene.SetURL(path)
    assert scene.Import()
    assert {name: getattr(ui, name).currentNode().GetName() for name in widget.SELECTORS} == saved
    parameters = widget.logic.getParameterNode()
    assert parameters.GetParameter("ThresholdsHU") == "-20,76,131,351"
    assert ui.necroticCoreSpinBox.value == -20.0
    assert ui.resultsTableView.mrmlTableNode() is parameters.GetNodeReference("ResultsTable")
    assert not ui.overlayCheckBox.checked
    assert ui.analyzeButton.enabled and ui.showPlotsButton.enabled and ui.exportButton.enabled
    assert ui.proximalSideBranchComboBox.currentText == "yes" and ui.retryComboBox.currentText == "no"
    assert ui.outputDirectoryButton.directory == str(tmp_path / "chosen")
    assert ui.includePhiCheckBox.checked and parameters.GetParameter("IncludePHI") == "true"
    assert ui.landmarkPositionsLabel.text == landmark_positions and ui.sectionSlider.enabled
    ui.sectionSlider.value = 20.0  # the reloaded centerline, sampled again, has the analysis's sections
    assert np.allclose(_slice_to_ras(scene), section_plane, atol=1e-6)
    # Yellow shows the reloaded straightened vessel (its k axis is S from 0 mm), its line at the slider's 20 mm
    yellow = slice_composite_node(scene, "Yellow")
    assert yellow.GetBackgroundVolumeID() == parameters.GetNodeReference("Straightened").GetID()
    line = parameters.GetNodeReference("SectionLine")
    assert [line.GetNthControlPointPositionWorld(i)[2] for i in range(2)] == [pytest.approx(20.0)] * 2

    saved_volume = _table_value(parameters.GetNodeReference("ResultsTable"), "Total plaque volume")
    ui.exportButton.click()  # analyzes the reloaded inputs again; the CT came from a file: no patient details
    errors = _errors(caplog)
    assert len(errors) == 1 and errors[0].startswith("Export failed.") and "DICOM database" in errors[0]
    assert not (tmp_path / "chosen").exists()
    ui.includePhiCheckBox.checked = False
    ui.exportButton.click()  # writes the files where the scene said
    document = read_json(tmp_path / "chosen" / f"{parameters.GetParameter('LesionID')}.lesion.json")
    assert document["total_plaque_volume_mm3"] == pytest.approx(saved_volume, abs=0.05)  # file: 0.1 mm3
    assert document["thresholds_hu"]["necrotic_core"][0] == -20.0
    assert document["clinical_items"]["proximal_side_branch"] is True
    assert document["clinical_items"]["retry"] is False


def test_patient_details_reach_the_exports_only_when_the_panel_asks(gui, curved_case_files, tmp_path, monkeypatch):
    """A CT from the DICOM database: off by default, Export writes lesion.json, lesion.csv and the report without
    the series' patient (the report says de-identified); with "Include patient details" checked (kept in the
    parameter node) they carry the patient's ID, name and Series Instance UID."""
    from CTOPlaque import CTOPlaqueWidget
    from test_logic_mrml import _markups_node, assert_patient_details, dicom_volume_node

    scene, _ = gui
    volume, files = dicom_volume_node(scene, str(tmp_path), monkeypatch)
    centerline = _markups_node(scene, curved_case_files["centerline"], "vtkMRMLMarkupsCurveNode")
    landmarks = _markups_node(scene, curved_case_files["landmarks"], "vtkMRMLMarkupsFiducialNode")
    widget = CTOPlaqueWidget()
    ui, parameters = widget.ui, widget.logic.getParameterNode()
    for selector, node in (("volumeSelector", volume), ("centerlineSelector", centerline),
                           ("landmarksSelector", landmarks)):
        getattr(ui, selector).setCurrentNode(node)
    ui.lesionIdEdit.text = "D1"
    ui.lesionIdEdit.editingFinished.emit()
    ui.analyzeButton.click()
    assert not ui.includePhiCheckBox.checked and parameters.GetParameter("IncludePHI") == "false"
    ui.outputDirectoryButton.directory = str(tmp_path / "default")
    ui.exportButton.click()
    assert_patient_details(_export_paths(tmp_path / "default", "D1"), files[0], included=False)

    ui.includePhiCheckBox.checked = True
    assert parameters.GetParameter("IncludePHI") == "true"
    ui.outputDirectoryButton.directory = str(tmp_path / "with_phi")
    ui.exportButton.click()
    assert_patient_details(_export_paths(tmp_path / "with_phi", "D1"), files[0], included=True)


def _export_paths(folder, lesion_id) -> dict:
    from CTOPlaqueLib.lesion_files import OUTPUT_SUFFIXES

    return {kind: str(folder / (lesion_id + suffix)) for kind, suffix in OUTPUT_SUFFIXES.items()}


def test_place_buttons_start_placing_that_landmark(analyzed_panel):
    widget = analyzed_panel
    landmarks = widget.ui.landmarksSelector.currentNode()
    count = landmarks.GetNumberOfControlPoints()
    widget.ui.placeDButton.click()
    labels = [landmarks.GetNthControlPointLabel(i) for i in range(landmarks.GetNumberOfControlPoints())]
    assert "D" not in labels and len(labels) == count - 1
    assert landmarks.GetControlPointLabelFormat() == "D"
    app_logic = slicer._ctoplaque_app_logic
    assert app_logic.GetSelectionNode().GetActivePlaceNodeID() == landmarks.GetID()
    assert app_logic.GetInteractionNode().GetCurrentInteractionMode() == slicer.vtkMRMLInteractionNode.Place


def test_place_button_makes_the_landmarks_list_when_there_is_none(gui):
    from CTOPlaque import CTOPlaqueWidget

    widget = CTOPlaqueWidget()
    assert widget.ui.landmarksSelector.currentNode() is None
    widget.ui.placePButton.click()
    landmarks = widget.ui.landmarksSelector.currentNode()
    assert landmarks is not None and landmarks.GetControlPointLabelFormat() == "P"
    assert widget.logic.getParameterNode().GetNodeReference("Landmarks") is landmarks


def test_analysis_error_is_shown_once_and_leaves_the_panel_usable(analyzed_panel, gui, caplog, monkeypatch):
    """Landmarks without D: the panel shows the one-line reason, restores the cursor, hides the progress
    bar and keeps the previous results."""
    import sys

    _, application = gui
    widget = analyzed_panel
    previous = widget.ui.resultsTableView.mrmlTableNode()
    raised = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, trace: raised.append(value))
    widget.ui.placeDButton.click()  # removes D, waiting for a click in a view
    widget.ui.analyzeButton.click()
    errors = _errors(caplog)
    assert len(errors) == 1 and errors[0].startswith("Analysis failed.") and "D" in errors[0]
    assert [type(e).__name__ for e in raised] == ["CTOPlaqueInputError"]  # Slicer prints it to the console
    assert application.override_cursors == 0
    assert not widget.ui.analysisProgressBar.visible
    assert widget.ui.resultsTableView.mrmlTableNode() is previous


def _stats_panel_with_columns(exports: str, clinical: str, out_dir: str = None):
    """A Stats panel given the exports folder, the clinical CSV and (optionally) the output folder, its columns
    loaded as the reader's Load columns click loads them."""
    from CTOPlaqueStats import CTOPlaqueStatsWidget

    widget = CTOPlaqueStatsWidget()
    ui = widget.ui
    ui.exportsDirectoryButton.directory = exports
    ui.clinicalPathLineEdit.currentPath = clinical
    if out_dir:
        ui.outputDirectoryButton.directory = out_dir
    ui.loadColumnsButton.click()
    return widget


def test_stats_panel_from_exports_to_tables(gui, tmp_path, caplog):
    from CTOPlaqueStats import CTOPlaqueStatsTest

    scene, application = gui
    exports, clinical = CTOPlaqueStatsTest().write_synthetic_exports(str(tmp_path))
    widget = _stats_panel_with_columns(exports, clinical, str(tmp_path / "stats"))
    ui = widget.ui
    assert _errors(caplog) == []
    outcomes = [ui.outcomesComboBox.itemText(i) for i in range(ui.outcomesComboBox.count)]
    predictors = widget._checked(ui.predictorsComboBox)
    assert outcomes == ["success"]
    # The synthetic total plaque volume is constant, so fibrous and fibrofatty PAV are too: not offered.
    assert sorted(predictors) == ["dense_calcium_pav", "necrotic_core_pav", "occlusion_length_mm"]
    assert ui.runButton.enabled

    ui.outcomesComboBox.setCheckState(ui.outcomesComboBox.model().index(outcomes.index("success"), 0),
                                      slicer_qt().Qt.Checked)
    ui.runButton.click()
    assert _errors(caplog) == []
    assert application.override_cursors == 0
    logistic = ui.logisticTableView.mrmlTableNode()
    assert logistic is widget.result.logistic_table
    fitted = [logistic.GetTable().GetValue(r, 1).ToString() for r in range(logistic.GetNumberOfRows())]
    assert sorted(fitted) == sorted(predictors)
    assert ui.comparisonTableView.mrmlTableNode().GetNumberOfRows() > 0
    assert ui.openReportButton.enabled
    composite = scene.GetFirstNodeByClass("vtkMRMLSliceCompositeNode")
    assert composite.GetBackgroundVolumeID() == widget.result.forest_image.GetID()
    assert os.path.isfile(widget.result.stats.paths["report"])


def _check(box, columns):
    for index in range(box.count):
        if box.itemText(index) in columns:
            box.setCheckState(box.model().index(index, 0), slicer_qt().Qt.Checked)


def test_stats_panel_passes_patient_variables_model_comparison_and_bootstrap_to_the_logic(gui, tmp_path, caplog):
    """Patient variables, base and added models and the bootstrap count, picked in the panel, reach the
    parameter node, the Logic's StatsRequest and the outputs: patient-level comparison rows, prediction.csv's
    two models with the panel's resample count."""
    import json

    import pandas as pd
    from CTOPlaqueStats import CTOPlaqueStatsTest

    exports, clinical = CTOPlaqueStatsTest().write_synthetic_exports(str(tmp_path))
    widget = _stats_panel_with_columns(exports, clinical, str(tmp_path / "stats"))
    ui = widget.ui
    assert ui.bootstrapSpinBox.value == 200 and ui.bootstrapSpinBox.minimum == 200
    _check(ui.outcomesComboBox, ["success"])
    _check(ui.patientVarsComboBox, ["age"])
    _check(ui.baseModelComboBox, ["occlusion_length_mm"])
    _check(ui.addedComboBox, ["dense_calcium_pav"])
    ui.bootstrapSpinBox.value = 250
    parameters = widget.logic.getParameterNode()
    assert json.loads(parameters.GetParameter("PatientVars")) == ["age"]
    assert json.loads(parameters.GetParameter("BaseModel")) == ["occlusion_length_mm"]
    assert json.loads(parameters.GetParameter("Added")) == ["dense_calcium_pav"]
    assert parameters.GetParameter("Bootstrap") == "250"
    request = widget.logic.stats_request(parameters)
    assert (request.outcomes, request.patient_vars, request.base_model, request.added, request.bootstrap_resamples) \
        == (["success"], ["age"], ["occlusion_length_mm"], ["dense_calcium_pav"], 250)

    ui.runButton.click()
    assert _errors(caplog) == []
    stats = widget.result.stats
    assert set(stats.comparison["level"]) == {"lesion", "patient"}
    prediction = pd.read_csv(stats.paths["prediction"])
    assert prediction["model"].tolist() == ["base", "base + added"]
    # resamples used: all 250 for the one-predictor base model; for base + added, those whose fit converged on
    # these 40 lesions, more than the default 200 could give
    assert prediction["bootstrap_resamples"].iloc[0] == 250 and 200 < prediction["bootstrap_resamples"].iloc[1] <= 250

    widget.updateGUIFromParameterNode()  # e.g. a saved scene reloaded: the panel shows the node's choices
    assert widget._checked(ui.baseModelComboBox) == ["occlusion_length_mm"] and ui.bootstrapSpinBox.value == 250


def _hand_t_test_p(values_0, values_1, equal_variances: bool) -> float:
    """Two-sided p of Student's (pooled variance, n0 + n1 - 2 df) or Welch's t-test (Welch-Satterthwaite df),
    from their textbook formulas."""
    import numpy as np
    from scipy.stats import t as t_distribution

    n_0, n_1 = len(values_0), len(values_1)
    var_0, var_1 = np.var(values_0, ddof=1), np.var(values_1, ddof=1)
    if equal_variances:
        pooled = ((n_0 - 1) * var_0 + (n_1 - 1) * var_1) / (n_0 + n_1 - 2)
        se, df = np.sqrt(pooled * (1 / n_0 + 1 / n_1)), n_0 + n_1 - 2
    else:
        se = np.sqrt(var_0 / n_0 + var_1 / n_1)
        df = se ** 4 / ((var_0 / n_0) ** 2 / (n_0 - 1) + (var_1 / n_1) ** 2 / (n_1 - 1))
    return float(2 * t_distribution.sf(abs(np.mean(values_1) - np.mean(values_0)) / se, df))


def test_stats_panel_passes_references_t_test_and_labels_to_the_logic(gui, tmp_path, caplog):
    """A reference level, the t-test and a labels CSV set in the panel reach the parameter node, the Logic's
    StatsRequest and the outputs: comparison.csv's p of age is Welch's by default and Student's when chosen (both
    by hand), the vendor's reference is GE by default and Siemens when typed (in comparison.csv and table1.csv),
    and table1.csv names age by the file's label instead of the project's."""
    import pandas as pd
    from CTOPlaqueStats import CTOPlaqueStatsTest

    exports, clinical = CTOPlaqueStatsTest().write_synthetic_exports(str(tmp_path))
    table = pd.read_csv(clinical)
    table["vendor"] = [("GE", "Philips", "Siemens")[index % 3] for index in range(len(table))]
    table.to_csv(clinical, index=False)
    labels = tmp_path / "labels.csv"
    labels.write_text("column,label,unit\nage,Age at the procedure,years\n", encoding="utf-8")
    groups = [table.loc[table["success"] == code, "age"].to_numpy(float) for code in (0, 1)]
    widget = _stats_panel_with_columns(exports, clinical)
    ui, parameters = widget.ui, widget.logic.getParameterNode()
    offered = {name: [getattr(ui, name).itemText(i) for i in range(getattr(ui, name).count)]
               for name in ("predictorsComboBox", "adjustComboBox", "patientVarsComboBox")}
    assert "vendor" in offered["adjustComboBox"] and "vendor" in offered["patientVarsComboBox"]
    assert "vendor" not in offered["predictorsComboBox"]  # a text predictor would be compared, not modelled
    _check(ui.outcomesComboBox, ["success"])
    _check(ui.predictorsComboBox, ["age"])
    _check(ui.adjustComboBox, ["vendor"])
    assert ui.tTestComboBox.currentText == "Welch's t-test" and parameters.GetParameter("TTest") == "welch"

    def run(folder):
        ui.outputDirectoryButton.directory = str(tmp_path / folder)
        ui.runButton.click()
        assert _errors(caplog) == []
        paths = widget.result.stats.paths
        comparison = pd.read_csv(paths["comparison"])
        comparison = comparison[comparison["level"] == "lesion"]
        age = comparison[comparison["variable"] == "age"].iloc[0]
        vendor = comparison[comparison["variable"] == "vendor"]
        return age, vendor, pd.read_csv(paths["table1"], keep_default_na=False)

    age, vendor, table1 = run("default")
    assert age["test"] == "Welch's t-test" and age["p"] == pytest.approx(_hand_t_test_p(*groups, False), rel=1e-9)
    assert vendor.loc[vendor["reference"] == "yes", "category"].tolist() == ["GE"]
    assert "Age (years), mean ± SD" in set(table1["characteristic"])  # the project's label table

    ui.referencesLineEdit.text = "vendor=Siemens"
    ui.referencesLineEdit.editingFinished.emit()
    ui.tTestComboBox.setCurrentIndex(ui.tTestComboBox.findData("student"))
    ui.labelsPathLineEdit.currentPath = str(labels)
    assert (parameters.GetParameter("References"), parameters.GetParameter("TTest"),
            parameters.GetParameter("LabelsCSV")) == ("vendor=Siemens", "student", str(labels))
    request = widget.logic.stats_request(parameters)
    assert (request.references, request.t_test, request.labels_csv) == ({"vendor": "Siemens"}, "student", str(labels))

    age, vendor, table1 = run("chosen")
    student = _hand_t_test_p(*groups, True)
    assert age["test"] == "Student's t-test" and age["p"] == pytest.approx(student, rel=1e-9)
    assert abs(student - _hand_t_test_p(*groups, False)) > 1e-4  # the two tests differ on these groups
    assert vendor.loc[vendor["reference"] == "yes", "category"].tolist() == ["Siemens"]
    vendor_levels = table1.loc[table1["variable"] == "vendor", "value"].tolist()
    assert vendor_levels[1:] == ["Siemens (reference)", "GE", "Philips"]
    assert "Age at the procedure (years), mean ± SD" in set(table1["characteristic"])
    assert "Age (years), mean ± SD" not in set(table1["characteristic"])

    widget.updateGUIFromParameterNode()  # e.g. a saved scene reloaded: the panel shows the node's choices
    assert (ui.referencesLineEdit.text, ui.tTestComboBox.currentData, ui.labelsPathLineEdit.currentPath) == (
        "vendor=Siemens", "student", str(labels))

    ui.referencesLineEdit.text = "vendor Siemens"
    ui.referencesLineEdit.editingFinished.emit()
    ui.runButton.click()
    errors = _errors(caplog)
    assert len(errors) == 1 and "give it as COLUMN=LEVEL" in errors[0]


def slicer_qt():
    import qt

    return qt


@pytest.mark.parametrize("module", ["CTOPlaque", "CTOPlaqueStats"])
def test_module_self_test_passes_as_slicers_runner_calls_it(gui, module):
    """The ScriptedLoadableModuleTest that CMake registers with Slicer's test runner (runTest on a cleared
    scene), with files loaded through slicer.util.loadVolume / loadMarkups."""
    import importlib

    test_case = getattr(importlib.import_module(module), f"{module}Test")()
    test_case.runTest()


def _keep_library_modules(monkeypatch):
    """Have the test's end put back the Lib modules a reload drops, so later tests see the classes they import."""
    import sys

    for name in [n for n in sys.modules if n.split(".")[0] in ("CTOPlaqueLib", "CTOPlaqueStatsLib")]:
        monkeypatch.setitem(sys.modules, name, sys.modules[name])


@pytest.mark.parametrize("module, library", [("CTOPlaque", "CTOPlaqueLib"), ("CTOPlaqueStats", "CTOPlaqueStatsLib")])
def test_reload_button_reads_the_library_files_again(gui, monkeypatch, module, library):
    """Slicer's Reload re-executes the module file (slicer.util.reloadScriptedModule); the panel first drops its
    Lib from sys.modules, so the Lib's next import reads the edited files instead of the cached modules."""
    import importlib
    import sys

    _keep_library_modules(monkeypatch)
    loaded = importlib.import_module(f"{library}.settings" if library == "CTOPlaqueLib" else f"{library}.report")
    reloads = []

    def reload_scripted_module(name):
        reloads.append((name, [n for n in sys.modules if n.split(".")[0] == library]))

    monkeypatch.setattr(slicer.util, "reloadScriptedModule", reload_scripted_module)
    widget = getattr(importlib.import_module(module), f"{module}Widget")()
    widget.onReload()
    assert reloads == [(module, [])]
    again = importlib.import_module(loaded.__name__)
    assert again is not loaded and again.__file__ == loaded.__file__
    assert "CTOPlaqueLib.settings" in sys.modules  # the statistics panel leaves the lesion engine loaded


def _fake_slicer_packaging(monkeypatch, decline=False):
    import sys
    import types

    calls = []
    packaging = types.ModuleType("slicer.packaging")
    packaging.load_requirements = lambda path: calls.append(("load", path)) or ["parsed", path]

    def pip_ensure(requirements, requester=None):
        calls.append(("ensure", requirements, requester))
        if decline:
            raise RuntimeError("User declined package installation")

    packaging.pip_ensure = pip_ensure
    monkeypatch.setitem(sys.modules, "slicer.packaging", packaging)
    monkeypatch.setattr(slicer, "packaging", packaging, raising=False)
    return calls


@pytest.mark.parametrize("decline", [False, True])
def test_dependencies_go_through_slicer_packaging_where_slicer_has_it(gui, monkeypatch, decline):
    from CTOPlaque import ensure_python_dependencies
    from CTOPlaqueLib.requirements import REQUIREMENTS_FILE

    calls = _fake_slicer_packaging(monkeypatch, decline)
    monkeypatch.setattr(slicer.util, "pip_install", lambda *a: pytest.fail("the old installer was used"))
    assert ensure_python_dependencies() is not decline
    assert calls == [("load", REQUIREMENTS_FILE), ("ensure", ["parsed", REQUIREMENTS_FILE], "CTO Plaque")]


@pytest.mark.parametrize("agree", [True, False])
def test_older_slicer_asks_then_installs_what_the_requirements_file_misses(gui, monkeypatch, tmp_path, agree):
    """Without slicer.packaging (slicer-core has none), the panel checks requirements.txt itself and installs
    only the unsatisfied lines, with slicer.util.pip_install, after the user agrees."""
    import CTOPlaqueLib.requirements as requirements
    from CTOPlaque import ensure_python_dependencies

    assert not hasattr(slicer, "packaging")
    path = tmp_path / "requirements.txt"
    path.write_text("numpy>=1.0\nno-such-package-ctoplaque>=2.1\n")
    monkeypatch.setattr(requirements, "REQUIREMENTS_FILE", str(path))
    monkeypatch.setattr(requirements.unsatisfied_requirements, "__defaults__", (str(path),))
    asked, installed = [], []
    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", lambda text, *a, **k: asked.append(text) or agree)
    monkeypatch.setattr(slicer.util, "pip_install", installed.append)
    assert ensure_python_dependencies() is agree
    assert len(asked) == 1 and "no-such-package-ctoplaque>=2.1" in asked[0] and "numpy" not in asked[0]
    assert installed == ([["no-such-package-ctoplaque>=2.1"]] if agree else [])


def test_remeasure_button_measures_from_the_contours_node(analyzed_panel):
    """After Analyze the Re-measure button is enabled; pressed on the unedited contours node it measures the
    same lesion again from the segments (within 1% of the volume) and records no edit. A warning marked reviewed by
    the reader (after an edit, where it lies in an edited range) is ticked in the panel, the others keep their
    warning sign."""
    widget = analyzed_panel
    before = widget.result.document
    assert widget.ui.remeasureButton.enabled
    widget.ui.remeasureButton.click()
    after = widget.result.document
    assert after["contours"]["edited"] is False and after["contours"]["source"].endswith("contours")
    assert after["total_plaque_volume_mm3"] == pytest.approx(before["total_plaque_volume_mm3"], rel=0.01)
    parameters = widget.logic.getParameterNode()
    assert widget.ui.resultsTableView.mrmlTableNode() is parameters.GetNodeReference("ResultsTable")

    warnings = ["Reviewed by the reader (contours edited at 13.0-36.0 mm from the ostium): only 46% of the occluded "
                "wall has a fat edge", "the wall at S and E is at or below the scan's resolution"]
    parameters.SetParameter("QualityWarnings", "\n".join(warnings))
    widget.updateGUIFromParameterNode()
    assert widget.ui.qualityWarningsLabel.text == f"\u2713 {warnings[0]}\n\u26a0 {warnings[1]}"


def _slice_to_ras(scene):
    import numpy as np

    matrix = scene.GetSingletonNode("Red", "vtkMRMLSliceNode").GetSliceToRAS()
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _assert_slice_at_section(scene, centerline, distance_mm):
    """The Red view's plane: normal along the centerline (the chord of the neighbouring sections, not the
    analysis's tangents) within 1 degree, origin within 0.1 mm of the centerline point at ``distance_mm``
    (interpolated along the sampled points)."""
    import numpy as np

    matrix = _slice_to_ras(scene)
    index = int(np.argmin(np.abs(centerline.arc_mm - distance_mm)))
    chord = centerline.points_ras[index + 1] - centerline.points_ras[index - 1]
    angle_deg = np.degrees(np.arccos(np.clip(matrix[:3, 2] @ chord / np.linalg.norm(chord), -1.0, 1.0)))
    assert angle_deg < 1.0
    point = np.array([np.interp(distance_mm, centerline.arc_mm, centerline.points_ras[:, axis]) for axis in range(3)])
    assert np.linalg.norm(matrix[:3, 3] - point) < 0.1


def test_section_slider_and_jumps_put_the_red_view_at_the_section(analyzed_panel, gui):
    """After Analyze the slider spans the centerline and starts at P; moving it, choosing a landmark, or choosing
    a warning with a position (E moved into the occlusion, where no lumen is found) reformats the Red view to that
    section."""
    import numpy as np

    scene, _ = gui
    widget = analyzed_panel
    ui, centerline = widget.ui, widget.result.analysis.centerline
    landmarks_mm = widget.result.document["landmarks_mm"]
    assert ui.sectionSlider.enabled and ui.sectionSlider.maximum == pytest.approx(centerline.length_mm, abs=0.005)
    assert ui.sectionSlider.singleStep == 0.25
    assert ui.landmarkPositionsLabel.text == " \u00b7 ".join(
        f"{label} {landmarks_mm[label]:.1f}" for label in "SPDE") + " mm"
    assert ui.sectionSlider.value == pytest.approx(landmarks_mm["P"], abs=0.005)
    _assert_slice_at_section(scene, centerline, ui.sectionSlider.value)
    ui.sectionSlider.value = 12.25
    _assert_slice_at_section(scene, centerline, 12.25)
    box = ui.goToLandmarkComboBox
    assert [box.itemText(i)[0] for i in range(box.count)] == list("SPDE")
    box.activated.emit(2)
    assert ui.sectionSlider.value == pytest.approx(landmarks_mm["D"], abs=0.005)
    _assert_slice_at_section(scene, centerline, landmarks_mm["D"])
    assert ui.goToWarningComboBox.count == 0 and not ui.goToWarningComboBox.enabled

    landmarks = ui.landmarksSelector.currentNode()
    labels = [landmarks.GetNthControlPointLabel(i) for i in range(landmarks.GetNumberOfControlPoints())]
    inside_mm = {"D": landmarks_mm["P"] + 0.4 * (landmarks_mm["D"] - landmarks_mm["P"]),
                 "E": landmarks_mm["P"] + 0.7 * (landmarks_mm["D"] - landmarks_mm["P"])}
    for label, distance_mm in inside_mm.items():
        index = int(np.argmin(np.abs(centerline.arc_mm - distance_mm)))
        landmarks.SetNthControlPointPositionWorld(labels.index(label), *centerline.points_ras[index])
    ui.analyzeButton.click()
    box = ui.goToWarningComboBox
    texts = [box.itemText(i) for i in range(box.count)]
    assert box.enabled and any(text.startswith("no lumen found at E") for text in texts)
    box.activated.emit(next(i for i, text in enumerate(texts) if text.startswith("no lumen found at E")))
    assert ui.sectionSlider.value == pytest.approx(inside_mm["E"], abs=0.2)
    _assert_slice_at_section(scene, widget.result.analysis.centerline, ui.sectionSlider.value)


def test_vessel_segment_and_reading_reach_the_lesion_file(analyzed_panel, tmp_path, caplog):
    """Entered in the panel, the target vessel, SCCT segment and reading go through the parameter node into
    lesion.json as ``--vessel RCA --segment 2 --reading 2`` put them; a segment not on the vessel is an error."""
    widget = analyzed_panel
    ui, parameters = widget.ui, widget.logic.getParameterNode()
    ui.vesselComboBox.currentText = "RCA"
    ui.segmentSpinBox.value = 2
    ui.readingSpinBox.value = 2
    assert [parameters.GetParameter(key) for key in ("TargetVessel", "SCCTSegment", "Reading")] == ["RCA", "2", "2"]
    ui.analyzeButton.click()
    assert _errors(caplog) == []
    ui.outputDirectoryButton.directory = str(tmp_path)
    ui.exportButton.click()
    document = read_json(tmp_path / f"{widget.result.document['lesion_id']}.lesion.json")
    assert document["location"] == {"vessel": "RCA", "segment": 2, "segment_name": "mid RCA"}
    assert document["reading"] == 2
    ui.vesselComboBox.currentText = "LAD"
    ui.analyzeButton.click()
    assert any("SCCT segment 2 (mid RCA) is not on the LAD" in error for error in _errors(caplog))


def test_yellow_view_shows_the_straightened_vessel_with_a_line_at_the_slider(analyzed_panel, gui):
    """The straightened vessel (a volume node, as Slicer's Curved Planar Reformat makes one): 0.2 mm pixels, one
    slice per section, as long as the centerline curve (Slicer's own curve length) within a voxel; its centre row
    is the CT on the centerline (sampled independently, by scipy's RegularGridInterpolator, within 0.5 HU). The
    Yellow view cuts it through the axis, vessel left to right; the section line follows the slider to the
    section's voxel row (within 0.01 mm), shown in Yellow only, while the patient's contours stay out of Yellow."""
    import numpy as np
    from scipy.interpolate import RegularGridInterpolator

    from CTOPlaqueLib import mrml

    scene, _ = gui
    widget = analyzed_panel
    ui, parameters, centerline = widget.ui, widget.logic.getParameterNode(), widget.result.analysis.centerline
    straightened = parameters.GetNodeReference("Straightened")
    ijk_to_ras, shape = mrml.volume_geometry(straightened)
    assert np.allclose(np.linalg.norm(ijk_to_ras[:3, :3], axis=0), [0.2, 0.2, centerline.step_mm])
    curve_length_mm = ui.centerlineSelector.currentNode().GetCurveLengthWorld()
    assert (shape[0] - 1) * centerline.step_mm == pytest.approx(curve_length_mm, abs=centerline.step_mm)

    volume = mrml.volume_from_node(ui.volumeSelector.currentNode())
    ras_to_ijk = np.linalg.inv(volume.ijk_to_ras)
    ijk = centerline.points_ras @ ras_to_ijk[:3, :3].T + ras_to_ijk[:3, 3]
    grid = RegularGridInterpolator([np.arange(n) for n in volume.hu.shape], volume.hu)
    centre_row = mrml.volume_from_node(straightened).hu[:, shape[1] // 2, shape[2] // 2]
    assert np.abs(centre_row - grid(ijk[:, ::-1])).max() < 0.5

    yellow = scene.GetSingletonNode("Yellow", "vtkMRMLSliceNode")
    plane = np.array([[yellow.GetSliceToRAS().GetElement(r, c) for c in range(4)] for r in range(4)])
    along_ras = ijk_to_ras[:3, 2] / centerline.step_mm
    assert np.allclose(plane[:3, 0], along_ras) and abs(plane[:3, 2] @ ijk_to_ras[:3, 0]) == pytest.approx(0.2)
    centre_column_ras = ijk_to_ras @ [(shape[2] - 1) / 2, 0, 0, 1]
    assert (plane[:3, 3] - centre_column_ras[:3]) @ plane[:3, 2] == pytest.approx(0.0, abs=1e-6)

    line = parameters.GetNodeReference("SectionLine")
    for distance_mm in (ui.sectionSlider.value, 3.0, 17.75, 30.1):
        ui.sectionSlider.value = distance_mm
        ends = np.array([line.GetNthControlPointPositionWorld(i) for i in range(line.GetNumberOfControlPoints())])
        assert len(ends) == 2
        assert np.allclose((ends - ijk_to_ras[:3, 3]) @ along_ras, distance_mm, atol=0.01)
        assert np.linalg.norm(ends[1] - ends[0]) == pytest.approx(0.2 * (shape[1] - 1))
    display = line.GetDisplayNode()
    assert display.GetVisibility() and [display.GetNthViewNodeID(i) for i in range(
        display.GetNumberOfViewNodeIDs())] == [yellow.GetID()]
    contours = parameters.GetNodeReference("Contours").GetDisplayNode()
    views = [contours.GetNthViewNodeID(i) for i in range(contours.GetNumberOfViewNodeIDs())]
    assert scene.GetSingletonNode("Red", "vtkMRMLSliceNode").GetID() in views and yellow.GetID() not in views
    assert widget.logic.show_straightened(True, "NoSuchView") is None  # a layout without that view: nothing done

    # any other node (the reader's own) is kept out of Yellow while it shows the vessel, and shown where it was
    # after; another lesion's straightened vessel is hidden
    def view_ids(node):
        display = node.GetDisplayNode()
        return [display.GetNthViewNodeID(i) for i in range(display.GetNumberOfViewNodeIDs())]

    own, earlier = (scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name) for name in ("reader's", "L0 contours"))
    for node in (own, earlier):
        node.CreateDefaultDisplayNodes()
    earlier.SetAttribute(mrml.STRAIGHTENED_SPACE_ATTRIBUTE, "1")
    widget.logic.show_straightened(True)
    assert view_ids(own) and yellow.GetID() not in view_ids(own)
    assert not earlier.GetDisplayNode().GetVisibility()
    assert view_ids(parameters.GetNodeReference("StraightenedContours")) == [yellow.GetID()]
    widget.logic.show_straightened(False)
    assert view_ids(own) == [] and own.GetAttribute(mrml.VIEWS_BEFORE_ATTRIBUTE) is None
    for node in (own, earlier):
        scene.RemoveNode(node)
    widget.logic.show_straightened(True)  # as the panel left it


def test_ruler_under_the_slider_puts_s_p_d_e_under_their_positions(analyzed_panel):
    """Laid out 500 px wide (plus its 8 px margins), the ruler's S, P, D and E labels (20 px wide) are centred at
    their distance / centerline length of the slider's span within 2 px; a label closer than a label's width to
    its neighbour (D and E, 1.1 mm apart here) is moved aside by at most a label's width, without overlapping."""
    import numpy as np
    import qt

    widget = analyzed_panel
    ui, landmarks_mm = widget.ui, widget.result.document["landmarks_mm"]
    length_mm = widget.result.analysis.centerline.length_mm
    ui.sectionRulerWidget.layout().setGeometry(qt.QRect(0, 0, 516, 20))
    marks = [getattr(ui, f"sectionRuler{label}Label") for label in "SPDE"]
    assert not any(mark.isHidden() for mark in marks)
    centres_px = np.array([mark.geometry.center().x() + 0.5 - 8 for mark in marks])
    expected_px = np.array([500 * landmarks_mm[label] / length_mm for label in "SPDE"])
    crowded = np.diff(expected_px, prepend=-np.inf) < 20
    crowded |= np.append(crowded[1:], False)
    assert np.all(np.abs(centres_px - expected_px) <= np.where(crowded, 20, 2))
    assert crowded.tolist() == [False, False, True, True] and np.all(np.diff(centres_px) >= 20)
