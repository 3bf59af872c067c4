"""CTOPlaque: quantitative CCTA of coronary chronic total occlusions (Slicer scripted module).

The algorithms live in the Qt-free package CTOPlaqueLib beside this file; this module only wires
MRML nodes and the panel to them.
"""

import json
import logging
import os
import sys

import numpy as np
import slicer
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin

SEED_PAPER = ("Xing H, Zhang L, Zhang D, et al. Quantitative coronary computed tomography angiography assessment "
              "of chronic total occlusion percutaneous coronary intervention. Quant Imaging Med Surg "
              "2022;12(7):3625-3639. doi:10.21037/qims-21-1050")


def ensure_python_dependencies() -> bool:
    """Install the packages Slicer does not bundle (CTOPlaqueLib/requirements.txt) after the user agrees; True
    when they are all there. Slicer's own ``slicer.packaging.pip_ensure`` does it where Slicer has it (it checks,
    asks, installs with progress and offers a restart); older Slicers ask here and use ``slicer.util.pip_install``."""
    from CTOPlaqueLib.requirements import REQUIREMENTS_FILE, unsatisfied_requirements

    try:
        from slicer import packaging
    except ImportError:
        packaging = None
    if packaging is not None and hasattr(packaging, "pip_ensure"):
        try:
            packaging.pip_ensure(packaging.load_requirements(REQUIREMENTS_FILE), requester="CTO Plaque")
        except RuntimeError:  # the user declined
            return False
        return True
    missing = unsatisfied_requirements()
    if not missing:
        return True
    if not slicer.util.confirmOkCancelDisplay(
            "CTOPlaque needs these Python packages, which will be downloaded and installed now:\n"
            + "\n".join(missing)):
        return False
    slicer.util.pip_install(missing)
    return True


def forget_modules(package: str) -> list:
    """Drop ``package`` and its submodules from sys.modules, so that the next import reads their files again;
    returns the names dropped. Slicer's Reload re-executes only the module's own file, not its Lib."""
    names = sorted(name for name in sys.modules if name == package or name.startswith(package + "."))
    for name in names:
        del sys.modules[name]
    return names


SAMPLE_CASE_NAME = "CTOPlaqueSample"
# The sample case is the curved phantom (tapered proximal cap) on 0.5 mm isotropic voxels, as `make demo` writes it.
SAMPLE_CASE_SPACING_MM = (0.5, 0.5, 0.5)


def registerSampleData():
    """Add the sample CTO case to Slicer's Sample Data module (run once Slicer has started). The case is generated
    here when chosen, not downloaded: there is no hosted copy, and the phantom is what the tests measure against."""
    import SampleData

    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category="CTO Plaque", sampleName=SAMPLE_CASE_NAME, uris=[], fileNames=[], nodeNames=[],
        thumbnailFileName=os.path.join(os.path.dirname(os.path.abspath(__file__)), "Resources", "Icons",
                                       "CTOPlaque.png"),
        customDownloader=loadSampleCase)


def loadSampleCase(source=None):
    """Sample Data's downloader of the sample case: write the phantom (CT, seeds, and the true centerline, landmarks
    and truth.json beside them) into Slicer's temporary folder and load the CT and the two seeds (ostium, distal
    end), the inputs a user starts from. ``source``: the SampleDataSource (Slicer >= 5 passes it; unused).
    Returns [volume node, seeds node], or [] when the required Python packages were not installed."""
    import dataclasses
    import tempfile

    if not ensure_python_dependencies():
        return []
    from CTOPlaqueLib.phantom import PRESETS, generate_phantom, write_phantom

    spec = dataclasses.replace(PRESETS["curved"], spacing_mm=SAMPLE_CASE_SPACING_MM)
    folder = tempfile.mkdtemp(prefix=SAMPLE_CASE_NAME + "-", dir=slicer.app.temporaryPath)
    paths = write_phantom(generate_phantom(spec), folder)
    volume = slicer.util.loadVolume(paths["volume"], {"name": SAMPLE_CASE_NAME})
    seeds = slicer.util.loadMarkups(paths["seeds"])
    seeds.SetName("Seeds")
    return [volume, seeds]


class CTOPlaque(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = "CTO Plaque"
        parent.categories = ["Cardiac"]
        parent.dependencies = []
        parent.contributors = ["CTOPlaque developers"]
        parent.helpText = (
            "Quantitative CCTA of a chronic total occlusion: from a centerline and the landmarks P, D "
            "(occlusion caps) and S, E (reference sections), measures occlusion length, total plaque volume, "
            "the volume and percent atheroma volume of necrotic core, fibrofatty, fibrous and dense calcium "
            "tissue, and the lumen and vessel areas along the vessel.")
        parent.acknowledgementText = "Method after " + SEED_PAPER
        slicer.app.connect("startupCompleted()", registerSampleData)


# Parameter-node name prefix of each entered J-CTO / CASTLE item ("yes", "no" or "unknown").
CLINICAL_ITEM_PARAMETER = "ClinicalItem."
# Parameter-node name of the export's patient details switch ("true" or "false"; unset is false).
INCLUDE_PHI_PARAMETER = "IncludePHI"


class CTOPlaqueWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """The clinician's panel. It only wires the .ui to CTOPlaqueLogic; all state is in the parameter node."""

    SELECTORS = {"volumeSelector": "InputVolume", "seedsSelector": "Seeds", "centerlineSelector": "Centerline",
                 "landmarksSelector": "Landmarks"}
    LINE_EDITS = {"lesionIdEdit": "LesionID", "patientIdEdit": "PatientID", "observerEdit": "Observer"}
    THRESHOLD_BOXES = ("necroticCoreSpinBox", "fibrofattySpinBox", "fibrousSpinBox", "denseCalciumSpinBox")
    CLINICAL_ITEM_BOXES = {"retryComboBox": "retry", "previousFailedAttemptComboBox": "previous_failed_attempt",
                           "durationGe12MonthsOrUnknownComboBox": "duration_ge_12_months_or_unknown",
                           "multipleOcclusionsComboBox": "multiple_occlusions",
                           "proximalSideBranchComboBox": "proximal_side_branch",
                           "wholeLuminalCalcificationComboBox": "whole_luminal_calcification"}
    NUMBER_BOXES = {"segmentSpinBox": "SCCTSegment", "readingSpinBox": "Reading"}  # 0: not given (empty)

    def __init__(self, parent=None):
        self._updating_gui = False
        # ScriptedLoadableModuleWidget.__init__ calls super().__init__(), which initializes the mixin.
        ScriptedLoadableModuleWidget.__init__(self, parent)

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        ensure_python_dependencies()
        panel = slicer.util.loadUI(self.resourcePath("UI/CTOPlaque.ui"))
        self.layout.addWidget(panel)
        self.ui = slicer.util.childWidgetVariables(panel)
        panel.setMRMLScene(slicer.mrmlScene)
        for name in list(self.SELECTORS) + ["resultsTableView"]:
            getattr(self.ui, name).setMRMLScene(slicer.mrmlScene)
        self.ui.seedsPlaceWidget.setMRMLScene(slicer.mrmlScene)
        self.ui.analysisProgressBar.hide()
        self.logic = CTOPlaqueLogic()
        self.result = None
        self._section_centerline = None  # the analysed centerline the section slider moves along
        from CTOPlaqueLib.lesion_location import VESSEL_SEGMENTS

        self.ui.vesselComboBox.addItems(["", *VESSEL_SEGMENTS])
        for name in self.SELECTORS:
            getattr(self.ui, name).connect("currentNodeChanged(vtkMRMLNode*)", self.updateParameterNodeFromGUI)
        for name in self.LINE_EDITS:
            getattr(self.ui, name).connect("editingFinished()", self.updateParameterNodeFromGUI)
        for name in self.THRESHOLD_BOXES + ("stepSpinBox",):
            getattr(self.ui, name).connect("valueChanged(double)", self.updateParameterNodeFromGUI)
        for name in (*self.CLINICAL_ITEM_BOXES, "vesselComboBox"):
            getattr(self.ui, name).connect("currentIndexChanged(int)", self.updateParameterNodeFromGUI)
        for name in self.NUMBER_BOXES:
            getattr(self.ui, name).connect("valueChanged(int)", self.updateParameterNodeFromGUI)
        self.ui.sectionSlider.connect("valueChanged(double)", self.onSectionChanged)
        for name in ("goToLandmarkComboBox", "goToWarningComboBox"):
            getattr(self.ui, name).connect("activated(int)",
                                           lambda index, box=getattr(self.ui, name): self.onGoTo(box, index))
        self.ui.outputDirectoryButton.connect("directoryChanged(QString)", self.updateParameterNodeFromGUI)
        self.ui.includePhiCheckBox.connect("toggled(bool)", self.updateParameterNodeFromGUI)
        self.ui.seedsSelector.connect("currentNodeChanged(vtkMRMLNode*)", self.ui.seedsPlaceWidget.setCurrentNode)
        self.ui.extractCenterlineButton.connect("clicked(bool)", self.onExtractCenterline)
        self.ui.proposeLandmarksButton.connect("clicked(bool)", self.onProposeLandmarks)
        for label in "PDSE":
            getattr(self.ui, f"place{label}Button").connect("clicked(bool)",
                                                            lambda _, name=label: self.onPlaceLandmark(name))
        self.ui.analyzeButton.connect("clicked(bool)", self.onAnalyze)
        self.ui.remeasureButton.connect("clicked(bool)", self.onRemeasure)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.overlayCheckBox.connect("toggled(bool)", self.logic.set_overlay_visible)
        self.ui.showPlotsButton.connect("clicked(bool)", self.onShowPlots)
        self.ui.showStraightenedButton.connect("clicked(bool)", self.onShowStraightened)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndImportEvent, self.updateGUIFromParameterNode)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneClosed)
        self.onSceneClosed()

    def cleanup(self):
        self.removeObservers()

    def onReload(self):
        """Reload re-reads CTOPlaqueLib too (as SlicerHeart reloads its Lib), so a developer sees an edited Lib."""
        forget_modules("CTOPlaqueLib")
        ScriptedLoadableModuleWidget.onReload(self)

    def onSceneClosed(self, *_):
        """A new (or just closed) scene: its parameter node gets the panel's settings, the panel its inputs."""
        self.result = None
        self._section_centerline = None
        self.ui.showStraightenedButton.checked = False
        self.logic.setDefaultParameters(self.logic.getParameterNode())
        self.updateGUIFromParameterNode()
        self.updateParameterNodeFromGUI()  # what the defaults leave open (items "unknown", the folder) from the panel

    def updateGUIFromParameterNode(self, *_):
        """Inputs, settings and the results table from the parameter node (e.g. after loading a scene).

        Setting a widget emits its change signal; updateParameterNodeFromGUI ignores those, so that the
        first widget set does not write the other widgets' stale values back into the parameter node."""
        parameters = self.logic.getParameterNode()
        self._updating_gui = True
        try:
            for name, role in self.SELECTORS.items():
                getattr(self.ui, name).setCurrentNode(parameters.GetNodeReference(role))
            for name, key in self.LINE_EDITS.items():
                getattr(self.ui, name).text = parameters.GetParameter(key)
            thresholds = parameters.GetParameter("ThresholdsHU")
            if thresholds:
                for name, value in zip(self.THRESHOLD_BOXES, thresholds.split(",")):
                    getattr(self.ui, name).value = float(value)
            if parameters.GetParameter("StepMM"):
                self.ui.stepSpinBox.value = float(parameters.GetParameter("StepMM"))
            for name, item in self.CLINICAL_ITEM_BOXES.items():
                box = getattr(self.ui, name)
                box.setCurrentIndex(max(box.findText(parameters.GetParameter(CLINICAL_ITEM_PARAMETER + item)), 0))
            self.ui.vesselComboBox.setCurrentIndex(max(self.ui.vesselComboBox.findText(
                parameters.GetParameter("TargetVessel")), 0))
            for name, key in self.NUMBER_BOXES.items():
                getattr(self.ui, name).value = int(parameters.GetParameter(key) or 0)
            if parameters.GetParameter("OutputFolder"):
                self.ui.outputDirectoryButton.directory = parameters.GetParameter("OutputFolder")
            self.ui.includePhiCheckBox.checked = parameters.GetParameter(INCLUDE_PHI_PARAMETER) == "true"
            self.ui.resultsTableView.setMRMLTableNode(parameters.GetNodeReference("ResultsTable"))
            warnings = parameters.GetParameter("QualityWarnings")
            reviewed = _library().is_reviewed  # a warning where the reader edited the contours: ticked
            self.ui.qualityWarningsLabel.text = "\n".join(("\u2713 " if reviewed(w) else "\u26a0 ") + w
                                                          for w in warnings.splitlines())
            self.ui.qualityWarningsLabel.visible = bool(warnings)
            composition = parameters.GetNodeReference("Composition")
            if composition is not None and composition.GetDisplayNode() is not None:
                self.ui.overlayCheckBox.checked = bool(composition.GetDisplayNode().GetVisibility())
        finally:
            self._updating_gui = False
        self._update_sections()
        self._update_buttons()

    def _update_sections(self):
        """The section slider over the analysed centerline, the landmark positions and the positions to jump to
        (from the parameter node, so a reloaded scene has them); the slider starts at P, and stays where the
        reader left it on a re-measure or a re-analysis."""
        has_results = self.logic.getParameterNode().GetNodeReference("ResultsTable") is not None
        reviewing = self._section_centerline is not None
        self._section_centerline = None
        if has_results:
            self._section_centerline = (self.result.analysis.centerline if self.result is not None
                                        else self.logic.section_centerline())
        marks = self.logic.section_marks()
        self.ui.landmarkPositionsLabel.text = marks["landmarks_text"]
        ruler = self.ui.sectionRulerWidget.layout()
        for index, stretch in enumerate(marks["ruler"]):
            ruler.setStretch(index, stretch)
            ruler.itemAt(index).widget().setVisible(stretch > 0)
        for box, items in ((self.ui.goToLandmarkComboBox, marks["landmarks"]),
                           (self.ui.goToWarningComboBox, marks["warnings"])):
            box.clear()
            for text, distance_mm in items:
                box.addItem(f"{text} ({distance_mm:.1f} mm)", distance_mm)
            box.enabled = bool(items)
        self.ui.sectionSlider.enabled = has_results
        if has_results:
            self.ui.sectionSlider.maximum = self._section_centerline.length_mm
            self.ui.sectionSlider.singleStep = float(self.logic.getParameterNode().GetParameter("StepMM"))
            if not reviewing:
                self.ui.sectionSlider.value = dict(marks["landmarks"]).get("P", 0.0)
                self.ui.showStraightenedButton.checked = True
            if self.ui.showStraightenedButton.checked:  # this lesion's straightened vessel (new after an analysis)
                self.logic.show_straightened(True)
            self.onSectionChanged(self.ui.sectionSlider.value)

    def onSectionChanged(self, distance_mm):
        """Show the section at ``distance_mm`` from the ostium in the section view and on the straightened
        vessel."""
        self.ui.sectionPositionLabel.text = f"{distance_mm:.2f} mm"
        if self._section_centerline is not None:
            self.logic.show_section(self._section_centerline, distance_mm)

    def onGoTo(self, box, index):
        """Move the section slider to the position of the landmark or warning chosen in ``box``."""
        self.ui.sectionSlider.value = box.itemData(index)

    def updateParameterNodeFromGUI(self, *_):
        if self._updating_gui:
            return
        parameters = self.logic.getParameterNode()
        for name, role in self.SELECTORS.items():
            parameters.SetNodeReferenceID(role, getattr(self.ui, name).currentNodeID)
        for name, key in self.LINE_EDITS.items():
            parameters.SetParameter(key, getattr(self.ui, name).text)
        thresholds = [getattr(self.ui, name).value for name in self.THRESHOLD_BOXES]
        parameters.SetParameter("ThresholdsHU", ",".join(f"{value:g}" for value in thresholds))
        parameters.SetParameter("StepMM", f"{self.ui.stepSpinBox.value:g}")
        for name, item in self.CLINICAL_ITEM_BOXES.items():
            parameters.SetParameter(CLINICAL_ITEM_PARAMETER + item, getattr(self.ui, name).currentText)
        parameters.SetParameter("OutputFolder", self.ui.outputDirectoryButton.directory)
        parameters.SetParameter(INCLUDE_PHI_PARAMETER, "true" if self.ui.includePhiCheckBox.checked else "false")
        parameters.SetParameter("TargetVessel", self.ui.vesselComboBox.currentText)
        for name, key in self.NUMBER_BOXES.items():
            parameters.SetParameter(key, str(getattr(self.ui, name).value or ""))
        self._update_buttons()

    def _update_buttons(self):
        volume, seeds = self.ui.volumeSelector.currentNode(), self.ui.seedsSelector.currentNode()
        centerline, landmarks = self.ui.centerlineSelector.currentNode(), self.ui.landmarksSelector.currentNode()
        self.ui.extractCenterlineButton.enabled = bool(volume and seeds)
        self.ui.proposeLandmarksButton.enabled = bool(volume and centerline)
        for label in "PDSE":
            getattr(self.ui, f"place{label}Button").enabled = True
        self.ui.analyzeButton.enabled = bool(volume and centerline and landmarks)
        has_results = self.logic.getParameterNode().GetNodeReference("ResultsTable") is not None
        for name in ("exportButton", "showPlotsButton", "showStraightenedButton"):
            getattr(self.ui, name).enabled = has_results
        self.ui.remeasureButton.enabled = self.logic.getParameterNode().GetNodeReference("Contours") is not None

    def onExtractCenterline(self):
        with slicer.util.tryWithErrorDisplay("Centerline extraction failed.", waitCursor=True):
            curve = self.logic.extract_centerline(self.ui.volumeSelector.currentNode(),
                                                  self.ui.seedsSelector.currentNode(),
                                                  self.ui.centerlineSelector.currentNode())
            self.ui.centerlineSelector.setCurrentNode(curve)

    def onProposeLandmarks(self):
        with slicer.util.tryWithErrorDisplay("Landmark proposal failed.", waitCursor=True):
            landmarks = self.logic.propose_landmarks(self.ui.volumeSelector.currentNode(),
                                                     self.ui.centerlineSelector.currentNode(),
                                                     self.ui.landmarksSelector.currentNode())
            self.ui.landmarksSelector.setCurrentNode(landmarks)

    def onPlaceLandmark(self, label):
        """Place (or replace) the landmark ``label`` with one click in a view."""
        landmarks = self.ui.landmarksSelector.currentNode()
        if landmarks is None:
            landmarks = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Landmarks")
            self.ui.landmarksSelector.setCurrentNode(landmarks)
        for index in reversed(range(landmarks.GetNumberOfControlPoints())):
            if landmarks.GetNthControlPointLabel(index).upper() == label:
                landmarks.RemoveNthControlPoint(index)
        landmarks.SetControlPointLabelFormat(label)
        markups_logic = slicer.modules.markups.logic()
        markups_logic.SetActiveList(landmarks)
        markups_logic.StartPlaceMode(False)

    def onAnalyze(self):
        parameters = self.logic.getParameterNode()
        self.result = None  # its copy of the volume need not live through the next analysis
        self.ui.analysisProgressBar.show()
        try:
            with slicer.util.tryWithErrorDisplay("Analysis failed.", waitCursor=True):
                self.result = self.logic.analyze(
                    self.ui.volumeSelector.currentNode(), self.ui.centerlineSelector.currentNode(),
                    self.ui.landmarksSelector.currentNode(), lesion_id=self.ui.lesionIdEdit.text or "lesion",
                    patient_id=self.ui.patientIdEdit.text, observer=self.ui.observerEdit.text,
                    thresholds_hu=[float(v) for v in parameters.GetParameter("ThresholdsHU").split(",")],
                    step_mm=float(parameters.GetParameter("StepMM")),
                    clinical_items=self._clinical_items(), progress=self._show_progress,
                    **self.logic.location_parameters())
                self.logic.set_overlay_visible(self.ui.overlayCheckBox.checked)
        finally:
            self.ui.analysisProgressBar.hide()
        self.updateGUIFromParameterNode()

    def onRemeasure(self):
        """Measure again from the lesion's contours segmentation as the reader edited it (Logic.remeasure)."""
        self.ui.analysisProgressBar.show()
        try:
            with slicer.util.tryWithErrorDisplay("Re-measuring failed.", waitCursor=True):
                self.result = self.logic.remeasure(self.result, clinical_items=self._clinical_items(),
                                                   progress=self._show_progress)
                self.logic.set_overlay_visible(self.ui.overlayCheckBox.checked)
        finally:
            self.ui.analysisProgressBar.hide()
        self.updateGUIFromParameterNode()

    def _show_progress(self, fraction, message):
        self.ui.analysisProgressBar.value = int(round(100 * fraction))
        self.ui.analysisProgressBar.format = f"{message}  %p%"
        slicer.app.processEvents()

    def _clinical_items(self) -> dict:
        """Entered score items, as the parameter node holds them: "yes" -> True, "no" -> False, else None."""
        parameters, answers = self.logic.getParameterNode(), {"yes": True, "no": False}
        return {item: answers.get(parameters.GetParameter(CLINICAL_ITEM_PARAMETER + item))
                for item in self.CLINICAL_ITEM_BOXES.values()}

    def onExport(self):
        if self.result is None:  # results loaded with a saved scene: analyze its inputs again for the files
            self.onAnalyze()
        with slicer.util.tryWithErrorDisplay("Export failed.", waitCursor=True):
            parameters = self.logic.getParameterNode()
            paths = self.logic.export(self.result, parameters.GetParameter("OutputFolder"),
                                      include_phi=parameters.GetParameter(INCLUDE_PHI_PARAMETER) == "true")
            slicer.util.infoDisplay("Results written:\n" + "\n".join(v for k, v in paths.items() if k != "document"))

    def onShowPlots(self):
        """The plots layout: the Red slice view (the section of the section slider), the Yellow slice view (the
        straightened vessel) and 3D above, area chart and composition chart side by side below."""
        outputs = self.logic.results_in_scene()
        layout_manager = slicer.app.layoutManager()
        layout_node = layout_manager.layoutLogic().GetLayoutNode()
        if not layout_node.IsLayoutDescription(PLOTS_LAYOUT_ID):
            layout_node.AddLayoutDescription(PLOTS_LAYOUT_ID, PLOTS_LAYOUT)
        layout_manager.setLayout(PLOTS_LAYOUT_ID)
        for role, view_tag in PLOT_VIEWS.items():
            view = slicer.mrmlScene.GetSingletonNode(view_tag, "vtkMRMLPlotViewNode")
            view.SetPlotChartNodeID(outputs[role].GetID())

    def onShowStraightened(self, show):
        """The second slice view: the straightened vessel with its contours and the section line, or (button
        released) the CT again."""
        self.logic.show_straightened(show)
        self.onSectionChanged(self.ui.sectionSlider.value)


PLOTS_LAYOUT_ID = 5601  # a custom layout ID, above Slicer's own
PLOT_VIEWS = {"AreaChart": "CTOPlaqueAreas", "CompositionChart": "CTOPlaqueComposition"}
PLOTS_LAYOUT = (
    '<layout type="vertical" split="true">'
    '<item><layout type="horizontal">'
    '<item><view class="vtkMRMLSliceNode" singletontag="Red">'
    '<property name="orientation" action="default">Axial</property>'
    '<property name="viewlabel" action="default">R</property>'
    '<property name="viewcolor" action="default">#F34A33</property></view></item>'
    '<item><view class="vtkMRMLSliceNode" singletontag="Yellow">'
    '<property name="orientation" action="default">Sagittal</property>'
    '<property name="viewlabel" action="default">Y</property>'
    '<property name="viewcolor" action="default">#EDD54C</property></view></item>'
    '<item><view class="vtkMRMLViewNode" singletontag="1">'
    '<property name="viewlabel" action="default">1</property></view></item>'
    '</layout></item>'
    '<item><layout type="horizontal">'
    + "".join(f'<item><view class="vtkMRMLPlotViewNode" singletontag="{tag}">'
              f'<property name="viewlabel" action="default">{label}</property></view></item>'
              for tag, label in zip(PLOT_VIEWS.values(), "PQ")) +
    '</layout></item>'
    '</layout>')


class CTOPlaqueResult:
    """One analyzed lesion: the measurements, the lesion document, the scene nodes made for it and the images
    they were made from (lesion_files.LesionImages, which export writes without building them again)."""

    def __init__(self, volume, analysis, document, nodes, images=None, automatic=None, automatic_radii=None):
        self.volume = volume
        self.analysis = analysis
        self.document = document
        self.nodes = nodes
        self.images = images
        # the analysis with the automatic contours (the same as ``analysis`` until the contours are edited), and
        # their radii after the round trip through segments, which re-measuring compares an edit with (computed
        # at the first re-measure)
        self.automatic = automatic or analysis
        self.automatic_radii = automatic_radii


AREA_SERIES = [("lumen_area_mm2", "Lumen area (mm²)", (1.0, 0.85, 0.0)),
               ("vessel_area_mm2", "Vessel area (mm²)", (1.0, 0.5, 0.0))]
OUTPUT_ROLES = ("ResultsTable", "ProfileTable", "Composition", "AreaChart", "CompositionChart", "Straightened",
                "StraightenedContours", "StraightenedComposition", "Contours", "SectionLine")
OVERLAY_FILL_OPACITY = 0.5  # the composition overlay over the CT and the straightened vessel
SECTION_VIEW = "Red"  # the slice view the section slider reformats
STRAIGHTENED_VIEW = "Yellow"  # the second slice view: the straightened vessel with a line at the section
# Nodes in the straightened vessel's space (tagged with mrml.STRAIGHTENED_SPACE_ATTRIBUTE), shown only in
# STRAIGHTENED_VIEW; while it shows the current lesion's vessel every other node is kept out of it (the two spaces
# overlap in RAS), and the straightened nodes of other lesions are hidden.
STRAIGHTENED_ROLES = ("StraightenedContours", "StraightenedComposition", "SectionLine")


def _library():
    """CTOPlaqueLib modules, imported on first use so that missing packages can be installed first."""
    import types

    from CTOPlaqueLib import mrml
    from CTOPlaqueLib.analysis import analyze_lesion
    from CTOPlaqueLib.centerline import sample_centerline
    from CTOPlaqueLib.centerline_extraction import extract_centerline
    from CTOPlaqueLib.composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS, HuThresholds
    from CTOPlaqueLib.contour_masks import CONTOUR_SEGMENTS, contour_masks_from_segments
    from CTOPlaqueLib.contour_review import (automatic_contours_record, automatic_round_trip_radii,
                                             measure_with_contours)
    from CTOPlaqueLib.errors import CTOPlaqueInputError
    from CTOPlaqueLib.export import (array_provenance, check_identifier, check_reader, lesion_document,
                                     profile_rows, results_rows)
    from CTOPlaqueLib.labelmap import Labelmap
    from CTOPlaqueLib.landmark_proposals import propose_landmarks
    from CTOPlaqueLib.lesion_files import lesion_images, write_lesion_files
    from CTOPlaqueLib.lesion_location import parse_location
    from CTOPlaqueLib.markups_io import landmarks_by_label
    from CTOPlaqueLib.quality import is_reviewed
    from CTOPlaqueLib.scores import parse_clinical_items
    from CTOPlaqueLib.section_view import (landmark_marks, landmarks_text, lesion_warning_marks, section_to_ras,
                                           slider_ruler, straightened_section_line_ras, straightened_view_to_ras)
    from CTOPlaqueLib.settings import AnalysisSettings

    return types.SimpleNamespace(
        mrml=mrml, AnalysisSettings=AnalysisSettings, analyze_lesion=analyze_lesion,
        extract_centerline=extract_centerline, COMPONENT_COLORS=COMPONENT_COLORS, COMPONENT_NAMES=COMPONENT_NAMES,
        COMPONENTS=COMPONENTS, HuThresholds=HuThresholds, array_provenance=array_provenance,
        check_identifier=check_identifier, check_reader=check_reader, lesion_document=lesion_document,
        profile_rows=profile_rows, results_rows=results_rows, Labelmap=Labelmap, lesion_images=lesion_images,
        propose_landmarks=propose_landmarks, write_lesion_files=write_lesion_files,
        landmarks_by_label=landmarks_by_label, parse_clinical_items=parse_clinical_items, is_reviewed=is_reviewed,
        CONTOUR_SEGMENTS=CONTOUR_SEGMENTS,
        contour_masks_from_segments=contour_masks_from_segments, automatic_contours_record=automatic_contours_record,
        measure_with_contours=measure_with_contours, automatic_round_trip_radii=automatic_round_trip_radii,
        CTOPlaqueInputError=CTOPlaqueInputError, sample_centerline=sample_centerline, parse_location=parse_location,
        landmark_marks=landmark_marks, landmarks_text=landmarks_text, section_to_ras=section_to_ras,
        lesion_warning_marks=lesion_warning_marks, slider_ruler=slider_ruler,
        straightened_view_to_ras=straightened_view_to_ras,
        straightened_section_line_ras=straightened_section_line_ras)


class CTOPlaqueLogic(ScriptedLoadableModuleLogic):
    """Runs the lesion analysis on MRML nodes and puts the results in the scene.

    Numbers are those of ``ctoplaque analyze`` on the same data: both call CTOPlaqueLib.analysis.
    Inputs, settings and every output node are referenced from the module's parameter node, so a
    saved scene brings the whole analysis back.
    """

    def analyze(self, volume_node, centerline_node, landmarks_node, lesion_id="lesion", patient_id="",
                observer="", thresholds_hu=None, step_mm=None, clinical_items=None,
                progress=None, vessel="", segment=None, reading=None):
        """Analyze one lesion; returns a CTOPlaqueResult whose nodes are the results and profile tables, the
        area and composition charts, the composition segmentation and the straightened vessel with its
        contours and composition, all in the subject-hierarchy folder "CTO lesion <lesion_id>". Analyzing
        the same lesion ID again replaces that folder; other lesions' folders stay. Raises
        CTOPlaqueInputError on unusable input (the scene is then unchanged).

        vessel, segment, reading: the target vessel, SCCT segment and the observer's reading number, as
        ``ctoplaque analyze --vessel --segment --reading`` takes them (empty or None: not given); they go into
        lesion.json's ``location`` and ``reading``.

        progress: optional callable(fraction 0..1, message) called as each stage starts and at the end.
        """
        report = progress or (lambda fraction, message: None)
        lib = _library()
        lesion_id = lib.check_identifier(lesion_id, "lesion ID")
        patient_id = lib.check_identifier(patient_id or lesion_id, "patient ID")
        lib.check_reader(observer, reading)
        location = lib.parse_location(vessel, segment)
        report(0.0, "Reading the volume and markups")
        volume = lib.mrml.volume_from_node(volume_node)
        centerline = lib.mrml.markups_from_node(centerline_node)
        landmarks = lib.landmarks_by_label(lib.mrml.markups_from_node(landmarks_node),
                                           source=landmarks_node.GetName())
        settings = lib.AnalysisSettings().with_overrides(
            step_mm, ",".join(f"{v:g}" for v in thresholds_hu) if thresholds_hu is not None else "")
        report(0.15, "Measuring lumen, wall and plaque along the vessel")
        analysis = lib.analyze_lesion(volume, centerline.points_ras, landmarks, settings,
                                      lib.parse_clinical_items(clinical_items or {}))
        inputs = {"volume": lib.array_provenance(volume_node.GetName(), volume.hu, np.float32),
                  "centerline": lib.array_provenance(centerline_node.GetName(), centerline.points_ras),
                  "landmarks": lib.array_provenance(landmarks_node.GetName(), _landmark_array(landmarks))}
        document = lib.lesion_document(analysis, lesion_id, patient_id, inputs, observer)
        document.update(contours=lib.automatic_contours_record(), reading=reading, location=location)
        images = lib.lesion_images(volume, analysis)  # composition labelmap, straightened vessel, contour segments
        nodes = self._scene_outputs(analysis, images, document, volume_node, report)
        self._remember(volume_node, centerline_node, landmarks_node, nodes, document, settings)
        report(1.0, "Done")
        return CTOPlaqueResult(volume, analysis, document, nodes, images)

    def remeasure(self, result=None, clinical_items=None, progress=None):
        """Measure the lesion again from its "ID contours" segmentation as the reader left it (edited in the
        Segment Editor or not): volumes, PAV, areas, profile, overlay, morphology, scores and quality, with the
        centerline and landmarks kept; lesion.json's ``contours`` block records the edit. Replaces the lesion's
        outputs like ``analyze`` and returns the new CTOPlaqueResult.

        result: the lesion's last CTOPlaqueResult, whose automatic analysis is reused; without it (a reloaded
        scene) the automatic analysis is run again from the parameter node's inputs and settings, with
        ``clinical_items``. CTOPlaqueInputError when there are no contours, or they lack a segment or do not fit
        the volume and centerline."""
        report = progress or (lambda fraction, message: None)
        lib = _library()
        parameters = self.getParameterNode()
        contours_node = parameters.GetNodeReference("Contours")
        if contours_node is None:
            raise lib.CTOPlaqueInputError("there are no contours to re-measure: analyze the lesion first")
        report(0.0, "Reading the contours")
        segments, ijk_to_ras = lib.mrml.segment_masks(slicer.mrmlScene, contours_node)
        masks = lib.contour_masks_from_segments(segments, ijk_to_ras, contours_node.GetName())
        if result is None:
            result = self.analyze(*(parameters.GetNodeReference(role) for role in
                                    ("InputVolume", "Centerline", "Landmarks")),
                                  lesion_id=parameters.GetParameter("LesionID"),
                                  patient_id=parameters.GetParameter("PatientID"),
                                  observer=parameters.GetParameter("Observer"),
                                  thresholds_hu=[float(v) for v in parameters.GetParameter("ThresholdsHU").split(",")],
                                  step_mm=float(parameters.GetParameter("StepMM")), clinical_items=clinical_items,
                                  **self.location_parameters())
        report(0.3, "Measuring from the contours")
        volume_node = parameters.GetNodeReference("InputVolume")
        if result.automatic_radii is None:  # the analysis's own segments: images.contours
            result.automatic_radii = lib.automatic_round_trip_radii(result.volume, result.automatic,
                                                                    result.images.contours)
        analysis, record = lib.measure_with_contours(
            result.volume, result.automatic, masks, contours_node.GetName(),
            lib.array_provenance(contours_node.GetName(), masks.labels)["sha256_values"], result.automatic_radii)
        document = lib.lesion_document(analysis, result.document["lesion_id"], result.document["patient_id"],
                                       result.document["inputs"], result.document["observer"])
        document.update(contours=record, reading=result.document.get("reading"),
                        location=result.document.get("location", {}))
        images = lib.lesion_images(result.volume, analysis, masks)
        nodes = self._scene_outputs(analysis, images, document, volume_node, report)
        self._remember(volume_node, parameters.GetNodeReference("Centerline"),
                       parameters.GetNodeReference("Landmarks"), nodes, document, analysis.settings)
        report(1.0, "Done")
        return CTOPlaqueResult(result.volume, analysis, document, nodes, images, result.automatic,
                               result.automatic_radii)

    def _scene_outputs(self, analysis, images, document, volume_node, report) -> dict:
        lib = _library()
        scene, lesion_id = slicer.mrmlScene, document["lesion_id"]
        lib.mrml.remove_folder(scene, f"CTO lesion {lesion_id}")  # a re-analysis replaces the lesion's outputs
        results = lib.mrml.table_from_rows(scene, lib.results_rows(document), f"{lesion_id} results")
        profile = lib.mrml.table_from_rows(scene, lib.profile_rows(analysis), f"{lesion_id} profile")
        report(0.6, "Composition overlay")
        composition = lib.mrml.segmentation_from_labelmap(scene, images.composition, f"{lesion_id} composition")
        composition.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
        lib.mrml.show_as_overlay(composition, OVERLAY_FILL_OPACITY)
        report(0.75, "Straightened vessel")
        straight = images.straightened
        straightened = lib.mrml.volume_node_from_array(scene, f"{lesion_id} straightened", straight.hu,
                                                       straight.ijk_to_ras)
        # the lumen and wall in the colours of the "ID contours" (straightening's labels are contour_masks')
        contour_segments = {label: (name, color) for _, name, label, color in lib.CONTOUR_SEGMENTS}
        contours = lib.mrml.segmentation_from_labelmap(scene, lib.Labelmap(straight.labels, straight.ijk_to_ras),
                                                       f"{lesion_id} straightened contours", contour_segments)
        lib.mrml.show_as_outlines(contours)
        straight_composition = lib.mrml.segmentation_from_labelmap(
            scene, lib.Labelmap(straight.composition, straight.ijk_to_ras), f"{lesion_id} straightened composition")
        lib.mrml.show_as_overlay(straight_composition, OVERLAY_FILL_OPACITY)
        contours_editable = lib.mrml.segmentation_from_labelmap(
            scene, lib.Labelmap(images.contours.labels, images.contours.ijk_to_ras), f"{lesion_id} contours",
            contour_segments, edit_on_labelmap_grid=True)
        lib.mrml.show_as_outlines(contours_editable)
        section_line = lib.mrml.section_line_node(scene, f"{lesion_id} section")
        for node in (straightened, contours, straight_composition, section_line):
            node.SetAttribute(lib.mrml.STRAIGHTENED_SPACE_ATTRIBUTE, "1")
        for node in (contours, straight_composition, section_line):  # until show_straightened shows them in its view
            node.GetDisplayNode().SetVisibility(False)
        report(0.9, "Charts")
        composition_series = [(f"{name}_area_mm2", f"{lib.COMPONENT_NAMES[name]} area (mm²)",
                               lib.COMPONENT_COLORS[name]) for name in lib.COMPONENTS]
        areas = lib.mrml.plot_chart(scene, profile, "distance_mm", AREA_SERIES,
                                    f"{lesion_id} lumen and vessel area", "Area (mm²)")
        composition_chart = lib.mrml.plot_chart(scene, profile, "distance_mm", composition_series,
                                                f"{lesion_id} plaque composition", "Plaque area (mm²)")
        nodes = {"ResultsTable": results, "ProfileTable": profile, "Composition": composition,
                 "AreaChart": areas, "CompositionChart": composition_chart, "Straightened": straightened,
                 "StraightenedContours": contours, "StraightenedComposition": straight_composition,
                 "Contours": contours_editable, "SectionLine": section_line}
        series = [chart.GetNthPlotSeriesNode(i) for chart in (areas, composition_chart)
                  for i in range(chart.GetNumberOfPlotSeriesNodes())]
        lib.mrml.group_in_folder(scene, f"CTO lesion {lesion_id}", [*nodes.values(), *series])
        return nodes

    def setDefaultParameters(self, parameterNode):
        """Start the panel's settings from AnalysisSettings' defaults (the .ui's values are placeholders)."""
        defaults = _library().AnalysisSettings()
        if not parameterNode.GetParameter("ThresholdsHU"):
            parameterNode.SetParameter("ThresholdsHU",
                                       ",".join(f"{v:g}" for v in defaults.thresholds.lower_bounds_hu))
        if not parameterNode.GetParameter("StepMM"):
            parameterNode.SetParameter("StepMM", f"{defaults.step_mm:g}")

    def _remember(self, volume_node, centerline_node, landmarks_node, nodes, document, settings):
        parameters = self.getParameterNode()
        for role, node in (("InputVolume", volume_node), ("Centerline", centerline_node),
                           ("Landmarks", landmarks_node), *nodes.items()):
            parameters.SetNodeReferenceID(role, node.GetID())
        parameters.SetParameter("LesionID", document["lesion_id"])
        parameters.SetParameter("PatientID", document["patient_id"])
        parameters.SetParameter("Observer", document["observer"])
        parameters.SetParameter("ThresholdsHU", ",".join(f"{t:g}" for t in settings.thresholds.lower_bounds_hu))
        parameters.SetParameter("StepMM", f"{settings.step_mm:g}")
        parameters.SetParameter("QualityWarnings", "\n".join(document["warnings"]))
        location = document["location"]
        parameters.SetParameter("TargetVessel", location.get("vessel", ""))
        parameters.SetParameter("SCCTSegment", str(location.get("segment") or ""))
        parameters.SetParameter("Reading", "" if document["reading"] is None else str(document["reading"]))
        lib, landmarks_mm = _library(), document["landmarks_mm"]
        marks = {"landmarks": lib.landmark_marks(landmarks_mm), "landmarks_text": lib.landmarks_text(landmarks_mm),
                 "warnings": lib.lesion_warning_marks(document),
                 "ruler": lib.slider_ruler(landmarks_mm, document["centerline_length_mm"])}
        parameters.SetParameter("SectionMarks", json.dumps(marks))

    def location_parameters(self) -> dict:
        """The parameter node's target vessel, SCCT segment and reading as ``analyze`` takes them."""
        parameters = self.getParameterNode()
        reading = parameters.GetParameter("Reading")
        return {"vessel": parameters.GetParameter("TargetVessel"), "segment": parameters.GetParameter("SCCTSegment"),
                "reading": int(reading) if reading else None}

    def section_marks(self) -> dict:
        """The current lesion's positions to jump to (mm from the ostium): {"landmarks": [[label, mm]] in the
        order S, P, D, E, "landmarks_text": "S 8.0 · P 14.0 ... mm", "warnings": [[description, mm]], "ruler":
        the stretches of the ruler under the slider (section_view.slider_ruler)}, or empty before an analysis
        (and in a scene saved before the ruler, no marks on it)."""
        marks = self.getParameterNode().GetParameter("SectionMarks")
        empty = {"landmarks": [], "landmarks_text": "", "warnings": [], "ruler": _library().slider_ruler({}, 1.0)}
        return {**empty, **json.loads(marks)} if marks else empty

    def section_centerline(self):
        """The analysed centerline (CTOPlaqueLib.centerline.Centerline) as the analysis sampled it: the parameter
        node's centerline curve at its section step, so that a reloaded scene reviews the same sections."""
        lib = _library()
        parameters = self.getParameterNode()
        points = lib.mrml.markups_from_node(parameters.GetNodeReference("Centerline")).points_ras
        return lib.sample_centerline(points, float(parameters.GetParameter("StepMM")))

    def show_section(self, centerline, distance_mm: float, view_name: str = SECTION_VIEW):
        """Reformat the slice view ``view_name`` (its vtkMRMLSliceNode) perpendicular to ``centerline``
        (CTOPlaqueLib.centerline.Centerline) at ``distance_mm`` from the ostium, centred on the centerline
        (section_view.section_to_ras), and move the lesion's section line on the straightened vessel to that
        section (section_view.straightened_section_line_ras). Returns the slice node."""
        lib = _library()
        slice_node = slicer.mrmlScene.GetSingletonNode(view_name, "vtkMRMLSliceNode")
        lib.mrml.set_slice_to_ras(slice_node, lib.section_to_ras(centerline, distance_mm))
        parameters = self.getParameterNode()
        line, straightened = (parameters.GetNodeReference(role) for role in ("SectionLine", "Straightened"))
        if line is not None and straightened is not None:
            lib.mrml.set_control_points(line, lib.straightened_section_line_ras(
                *lib.mrml.volume_geometry(straightened), distance_mm))
        return slice_node

    def show_straightened(self, show: bool, view_name: str = STRAIGHTENED_VIEW):
        """Show the lesion's straightened vessel in the slice view ``view_name``: its longitudinal section through
        the axis (section_view.straightened_view_to_ras), fitted to the view, with its contours, the composition
        overlay (if on) and the section line shown there only, and the patient's segmentations and markups kept
        out of that view. ``show`` False (or no straightened vessel): that view shows the CT again, sagittal, and
        every node may show in it. Returns the slice node, or None when the scene has no such slice view."""
        lib, scene, parameters = _library(), slicer.mrmlScene, self.getParameterNode()
        slice_node = scene.GetSingletonNode(view_name, "vtkMRMLSliceNode")
        composite = lib.mrml.slice_composite_node(scene, view_name)
        if slice_node is None or composite is None:
            return None
        straightened = parameters.GetNodeReference("Straightened")
        show = bool(show) and straightened is not None
        background = straightened if show else parameters.GetNodeReference("InputVolume")
        composite.SetBackgroundVolumeID(background.GetID() if background is not None else None)
        composite.SetForegroundVolumeID(None)
        current = {node.GetID() for node in filter(None, (parameters.GetNodeReference(role)
                                                          for role in STRAIGHTENED_ROLES + ("Straightened",)))}
        other_views = lib.mrml.view_node_ids(scene, exclude=[slice_node.GetID()])
        for node in lib.mrml.displayable_nodes(scene):
            if node.GetID() in current:
                lib.mrml.show_in_views(node, [slice_node.GetID()])
            elif node.GetAttribute(lib.mrml.STRAIGHTENED_SPACE_ATTRIBUTE):
                node.GetDisplayNode().SetVisibility(False)  # another lesion's straightened vessel
            elif show:
                lib.mrml.keep_out_of_view(node, slice_node.GetID(), other_views)
            else:
                lib.mrml.restore_views(node)
        for role in ("StraightenedContours", "SectionLine"):
            if parameters.GetNodeReference(role) is not None:
                parameters.GetNodeReference(role).GetDisplayNode().SetVisibility(show)
        composition = parameters.GetNodeReference("Composition")
        self.set_overlay_visible(composition is not None and bool(composition.GetDisplayNode().GetVisibility()))
        if show:
            lib.mrml.set_slice_to_ras(slice_node, lib.straightened_view_to_ras(*lib.mrml.volume_geometry(straightened)))
        else:
            slice_node.SetOrientation("Sagittal")
        _fit_slice_view(slice_node)
        return slice_node

    def straightened_shown(self, view_name: str = STRAIGHTENED_VIEW) -> bool:
        """Whether the slice view ``view_name`` shows the lesion's straightened vessel."""
        straightened = self.getParameterNode().GetNodeReference("Straightened")
        composite = _library().mrml.slice_composite_node(slicer.mrmlScene, view_name)
        return straightened is not None and composite is not None and \
            composite.GetBackgroundVolumeID() == straightened.GetID()

    def results_in_scene(self) -> dict:
        """Output role -> node, as referenced by the parameter node (e.g. after loading a saved scene)."""
        parameters = self.getParameterNode()
        return {role: parameters.GetNodeReference(role) for role in OUTPUT_ROLES}

    def set_overlay_visible(self, visible: bool) -> None:
        """Show or hide the composition overlay of the current lesion, on the CT and (where the straightened
        vessel is shown) on the straightened vessel."""
        parameters, on_straightened = self.getParameterNode(), visible and self.straightened_shown()
        for role, shown in (("Composition", visible), ("StraightenedComposition", on_straightened)):
            composition = parameters.GetNodeReference(role)
            if composition is not None:
                composition.GetDisplayNode().SetVisibility(bool(shown))

    def extract_centerline(self, volume_node, seeds_node, curve_node=None):
        """Centerline curve node (created, or ``curve_node`` replaced) through the seeds of a point list.

        The curve stays an ordinary markups curve: the user can move its points, and ``analyze`` uses
        the edited curve. What the extraction did with the seeds (e.g. reversed them) goes to the log.
        """
        lib = _library()
        volume = lib.mrml.volume_from_node(volume_node)
        notes = []
        points = lib.extract_centerline(volume, lib.mrml.markups_from_node(seeds_node).points_ras, notes=notes)
        for note in notes:
            logging.warning(note)
        if curve_node is None:
            curve_node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsCurveNode", "Centerline")
        lib.mrml.set_control_points(curve_node, points)
        self.getParameterNode().SetNodeReferenceID("Centerline", curve_node.GetID())
        return curve_node

    def propose_landmarks(self, volume_node, centerline_node, landmarks_node=None):
        """Point list with proposed P, D (and S, E where found) on the centerline, for the user to confirm."""
        lib = _library()
        volume = lib.mrml.volume_from_node(volume_node)
        proposal = lib.propose_landmarks(volume, lib.mrml.markups_from_node(centerline_node).points_ras)
        if landmarks_node is None:
            landmarks_node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Landmarks")
        labels = [label for label in ("S", "P", "D", "E") if label in proposal]
        lib.mrml.set_control_points(landmarks_node, np.array([proposal[label] for label in labels]), labels)
        self.getParameterNode().SetNodeReferenceID("Landmarks", landmarks_node.GetID())
        return landmarks_node

    def export(self, result, out_dir, include_phi=False):
        """Write the per-lesion files of ``ctoplaque analyze`` for an analyzed lesion into ``out_dir``, and the
        DICOM SEG and SR beside them when the analysed volume was loaded from DICOM (Slicer's DICOM module
        records its instance UIDs; the DICOM database knows their files). ``include_phi`` is ``ctoplaque analyze
        --include-phi``: the series' patient, study and series attributes go into lesion.json and lesion.csv
        (``source_dicom``) and the report; without it these files are de-identified (the SEG and SR carry the
        series' patient module, as DICOM requires). Raises CTOPlaqueInputError when ``include_phi`` is asked for
        a volume not loaded from the DICOM database. ``result.document`` is left as the analysis made it."""
        lib = _library()
        volume_node = self.getParameterNode().GetNodeReference("InputVolume")
        sources = _dicom_source_files(volume_node)
        if include_phi and not sources:
            from CTOPlaqueLib.errors import CTOPlaqueInputError

            name = volume_node.GetName() if volume_node is not None else "the volume"
            raise CTOPlaqueInputError(f"patient details come from the DICOM database, and {name} was not loaded "
                                      "from it: load the series from the DICOM database, or export without them")
        document = dict(result.document)
        extra_files = {}
        if sources:
            from CTOPlaqueLib.dicom_results import dicom_writers
            from CTOPlaqueLib.dicom_series import (source_datasets_by_slice, source_dicom_attributes,
                                                   sources_for_derived_objects)

            datasets, notes = sources_for_derived_objects(source_datasets_by_slice(sources, result.volume),
                                                          result.volume)
            if include_phi:
                document["source_dicom"] = source_dicom_attributes(datasets[0])
            document["notes"] = document["notes"] + notes  # in the copy: an export again does not repeat them
            extra_files = dicom_writers(datasets, result.volume, result.analysis, document, result.images)
        return lib.write_lesion_files(out_dir, result.volume, result.analysis, document, extra_files, result.images)


def _fit_slice_view(slice_node) -> None:
    """Fit the slice view of ``slice_node`` to its background volume, through its slice logic, as Slicer's
    "reset field of view" does."""
    logics = slicer.app.layoutManager().mrmlSliceLogics()
    for index in range(logics.GetNumberOfItems()):
        logic = logics.GetItemAsObject(index)
        if logic.GetSliceNode() is slice_node:
            logic.FitSliceToBackground()


def _dicom_source_files(volume_node) -> list:
    """Files of the DICOM series a volume node was loaded from, or [] (not from DICOM, or no database)."""
    uids = (volume_node.GetAttribute("DICOM.instanceUIDs") or "").split() if volume_node else []
    database = getattr(slicer, "dicomDatabase", None)
    if not uids or database is None:
        return []
    return [database.fileForInstance(uid) for uid in uids]


def _landmark_array(landmarks):
    """Landmark positions in a fixed label order, for hashing."""
    return np.array([landmarks[label] for label in sorted(landmarks)], float)


class CTOPlaqueTest(ScriptedLoadableModuleTest):
    """Whole workflow on the bundled sample case (phantom with known truth), for Slicer's test runner."""

    def setUp(self):
        slicer.mrmlScene.Clear(0)

    def runTest(self):
        self.setUp()
        self.test_CTOPlaque_sample_case()

    def test_CTOPlaque_sample_case(self):
        import json
        import tempfile

        from CTOPlaqueLib.phantom import generate_phantom, write_phantom

        self.delayDisplay("Writing the sample case")
        folder = tempfile.mkdtemp(prefix="ctoplaque_test_")
        paths = write_phantom(generate_phantom(), os.path.join(folder, "case"))
        volume = slicer.util.loadVolume(paths["volume"])
        centerline = slicer.util.loadMarkups(paths["centerline"])
        landmarks = slicer.util.loadMarkups(paths["landmarks"])
        with open(paths["truth"]) as handle:
            truth = json.load(handle)
        self.delayDisplay("Analyzing")
        result = CTOPlaqueLogic().analyze(volume, centerline, landmarks, lesion_id="sample")
        self.assertAlmostEqual(result.document["occlusion_length_mm"], truth["occlusion_length_mm"], delta=0.5)
        self.assertAlmostEqual(result.document["total_plaque_volume_mm3"], truth["total_plaque_volume_mm3"],
                               delta=0.1 * truth["total_plaque_volume_mm3"])
        written = CTOPlaqueLogic().export(result, os.path.join(folder, "results"))
        self.assertTrue(os.path.isfile(written["lesion_json"]))
        self.delayDisplay("Test passed")
