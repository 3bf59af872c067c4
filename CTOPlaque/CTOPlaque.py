"""CTOPlaque: quantitative CCTA of coronary chronic total occlusions (Slicer scripted module).

The algorithms live in the Qt-free package CTOPlaqueLib beside this file; this module only wires
MRML nodes and the panel to them.
"""

import os

import numpy as np
import slicer
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)

from CTOPlaqueLib import mrml
from CTOPlaqueLib.analysis import AnalysisSettings, analyze_lesion
from CTOPlaqueLib.centerline_extraction import extract_centerline
from CTOPlaqueLib.composition import HuThresholds
from CTOPlaqueLib.export import array_provenance, check_identifier, lesion_document, profile_rows, results_rows
from CTOPlaqueLib.composition import COMPONENT_COLORS, COMPONENT_NAMES, COMPONENTS
from CTOPlaqueLib.labelmap import Labelmap, composition_labelmap
from CTOPlaqueLib.landmark_proposals import propose_landmarks
from CTOPlaqueLib.lesion_files import write_lesion_files
from CTOPlaqueLib.markups_io import landmarks_by_label
from CTOPlaqueLib.scores import parse_clinical_items
from CTOPlaqueLib.straightening import LUMEN_LABEL, WALL_LABEL, straighten

SEED_PAPER = ("Xing H, Zhang L, Zhang D, et al. Quantitative coronary computed tomography angiography assessment "
              "of chronic total occlusion percutaneous coronary intervention. Quant Imaging Med Surg "
              "2022;12(7):3625-3639. doi:10.21037/qims-21-1050")


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


class CTOPlaqueWidget(ScriptedLoadableModuleWidget):
    """Panel: inputs, Analyze, results table, Export. All state in the module's parameter node."""

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        panel = slicer.util.loadUI(self.resourcePath("UI/CTOPlaque.ui"))
        self.layout.addWidget(panel)
        self.ui = slicer.util.childWidgetVariables(panel)
        self.logic = CTOPlaqueLogic()
        self.ui.volumeSelector.setMRMLScene(slicer.mrmlScene)
        self.ui.centerlineSelector.setMRMLScene(slicer.mrmlScene)
        self.ui.landmarksSelector.setMRMLScene(slicer.mrmlScene)
        self.ui.resultsTableView.setMRMLScene(slicer.mrmlScene)
        self.ui.analyzeButton.connect("clicked(bool)", self.onAnalyze)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        for selector in (self.ui.volumeSelector, self.ui.centerlineSelector, self.ui.landmarksSelector):
            selector.connect("currentNodeChanged(vtkMRMLNode*)", self.updateParameterNodeFromGUI)
        self.result = None

    def updateParameterNodeFromGUI(self, *_):
        parameters = self.logic.getParameterNode()
        parameters.SetNodeReferenceID("InputVolume", self.ui.volumeSelector.currentNodeID)
        parameters.SetNodeReferenceID("Centerline", self.ui.centerlineSelector.currentNodeID)
        parameters.SetNodeReferenceID("Landmarks", self.ui.landmarksSelector.currentNodeID)
        self.ui.analyzeButton.enabled = all(
            s.currentNode() for s in (self.ui.volumeSelector, self.ui.centerlineSelector, self.ui.landmarksSelector))

    def onAnalyze(self):
        with slicer.util.tryWithErrorDisplay("Analysis failed.", waitCursor=True):
            self.result = self.logic.analyze(
                self.ui.volumeSelector.currentNode(), self.ui.centerlineSelector.currentNode(),
                self.ui.landmarksSelector.currentNode(), lesion_id=self.ui.lesionIdEdit.text or "lesion",
                patient_id=self.ui.patientIdEdit.text, observer=self.ui.observerEdit.text)
            self.ui.resultsTableView.setMRMLTableNode(self.result.nodes["ResultsTable"])
            self.ui.exportButton.enabled = True

    def onExport(self):
        with slicer.util.tryWithErrorDisplay("Export failed.", waitCursor=True):
            paths = self.logic.export(self.result, self.ui.outputDirectoryButton.directory)
            slicer.util.infoDisplay("Results written:\n" + "\n".join(
                v for k, v in paths.items() if k != "document"))


class CTOPlaqueResult:
    """One analyzed lesion: the measurements, the lesion document and the scene nodes made for it."""

    def __init__(self, volume, analysis, document, nodes):
        self.volume = volume
        self.analysis = analysis
        self.document = document
        self.nodes = nodes


AREA_SERIES = [("lumen_area_mm2", "Lumen area (mm²)", (1.0, 0.85, 0.0)),
               ("vessel_area_mm2", "Vessel area (mm²)", (1.0, 0.5, 0.0))]
COMPOSITION_SERIES = [(f"{name}_area_mm2", f"{COMPONENT_NAMES[name]} area (mm²)", COMPONENT_COLORS[name])
                      for name in COMPONENTS]
CONTOUR_SEGMENTS = {LUMEN_LABEL: ("Lumen", (1.0, 0.85, 0.0)), WALL_LABEL: ("Vessel wall", (1.0, 0.5, 0.0))}
OUTPUT_ROLES = ("ResultsTable", "ProfileTable", "Composition", "AreaChart", "CompositionChart", "Straightened",
                "StraightenedContours")


class CTOPlaqueLogic(ScriptedLoadableModuleLogic):
    """Runs the lesion analysis on MRML nodes and puts the results in the scene.

    Numbers are those of ``ctoplaque analyze`` on the same data: both call CTOPlaqueLib.analysis.
    Inputs, settings and every output node are referenced from the module's parameter node, so a
    saved scene brings the whole analysis back.
    """

    def analyze(self, volume_node, centerline_node, landmarks_node, lesion_id="lesion", patient_id="",
                observer="", thresholds_hu=(-30.0, 76.0, 131.0, 351.0), step_mm=0.25, clinical_items=None):
        """Analyze one lesion; returns a CTOPlaqueResult whose nodes are the results and profile tables, the
        area and composition charts, the composition segmentation and the straightened vessel with its
        contours, all in one subject-hierarchy folder. Raises CTOPlaqueInputError on unusable input."""
        lesion_id = check_identifier(lesion_id, "lesion ID")
        patient_id = check_identifier(patient_id or lesion_id, "patient ID")
        volume = mrml.volume_from_node(volume_node)
        centerline = mrml.markups_from_node(centerline_node)
        landmarks = landmarks_by_label(mrml.markups_from_node(landmarks_node), source=landmarks_node.GetName())
        settings = AnalysisSettings(step_mm=step_mm, thresholds=HuThresholds(tuple(thresholds_hu)))
        analysis = analyze_lesion(volume, centerline.points_ras, landmarks, settings)
        inputs = {"volume": array_provenance(volume_node.GetName(), volume.hu),
                  "centerline": array_provenance(centerline_node.GetName(), centerline.points_ras),
                  "landmarks": array_provenance(landmarks_node.GetName(), _landmark_array(landmarks))}
        document = lesion_document(analysis, lesion_id, patient_id, inputs, observer,
                                   parse_clinical_items(clinical_items or {}))
        nodes = self._scene_outputs(volume, analysis, document, volume_node)
        self._remember(volume_node, centerline_node, landmarks_node, nodes, document, thresholds_hu, step_mm)
        return CTOPlaqueResult(volume, analysis, document, nodes)

    def _scene_outputs(self, volume, analysis, document, volume_node) -> dict:
        scene = slicer.mrmlScene
        lesion_id = document["lesion_id"]
        results = mrml.table_from_rows(scene, results_rows(document), f"{lesion_id} results")
        profile = mrml.table_from_rows(scene, profile_rows(analysis), f"{lesion_id} profile")
        composition = mrml.segmentation_from_labelmap(scene, composition_labelmap(volume, analysis),
                                                      f"{lesion_id} composition")
        composition.SetReferenceImageGeometryParameterFromVolumeNode(volume_node)
        straight = straighten(volume, analysis)
        straightened = mrml.volume_node_from_array(scene, f"{lesion_id} straightened", straight.hu,
                                                   straight.ijk_to_ras)
        contours = mrml.segmentation_from_labelmap(scene, Labelmap(straight.labels, straight.ijk_to_ras),
                                                   f"{lesion_id} straightened contours", CONTOUR_SEGMENTS)
        contours.GetDisplayNode().SetVisibility2DFill(False)
        areas = mrml.plot_chart(scene, profile, "distance_mm", AREA_SERIES, f"{lesion_id} lumen and vessel area",
                                "Area (mm²)")
        composition_chart = mrml.plot_chart(scene, profile, "distance_mm", COMPOSITION_SERIES,
                                            f"{lesion_id} plaque composition", "Plaque area (mm²)")
        nodes = {"ResultsTable": results, "ProfileTable": profile, "Composition": composition,
                 "AreaChart": areas, "CompositionChart": composition_chart, "Straightened": straightened,
                 "StraightenedContours": contours}
        mrml.group_in_folder(scene, f"CTO lesion {lesion_id}", nodes.values())
        return nodes

    def _remember(self, volume_node, centerline_node, landmarks_node, nodes, document, thresholds_hu, step_mm):
        parameters = self.getParameterNode()
        for role, node in (("InputVolume", volume_node), ("Centerline", centerline_node),
                           ("Landmarks", landmarks_node), *nodes.items()):
            parameters.SetNodeReferenceID(role, node.GetID())
        parameters.SetParameter("LesionID", document["lesion_id"])
        parameters.SetParameter("PatientID", document["patient_id"])
        parameters.SetParameter("Observer", document["observer"])
        parameters.SetParameter("ThresholdsHU", ",".join(f"{t:g}" for t in thresholds_hu))
        parameters.SetParameter("StepMM", f"{step_mm:g}")

    def results_in_scene(self) -> dict:
        """Output role -> node, as referenced by the parameter node (e.g. after loading a saved scene)."""
        parameters = self.getParameterNode()
        return {role: parameters.GetNodeReference(role) for role in OUTPUT_ROLES}

    def set_overlay_visible(self, visible: bool) -> None:
        """Show or hide the composition overlay of the current lesion."""
        composition = self.getParameterNode().GetNodeReference("Composition")
        if composition is not None:
            composition.GetDisplayNode().SetVisibility(bool(visible))

    def extract_centerline(self, volume_node, seeds_node, curve_node=None):
        """Centerline curve node (created, or ``curve_node`` replaced) through the seeds of a point list.

        The curve stays an ordinary markups curve: the user can move its points, and ``analyze`` uses
        the edited curve.
        """
        volume = mrml.volume_from_node(volume_node)
        points = extract_centerline(volume, mrml.markups_from_node(seeds_node).points_ras)
        if curve_node is None:
            curve_node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsCurveNode", "Centerline")
        mrml.set_control_points(curve_node, points)
        self.getParameterNode().SetNodeReferenceID("Centerline", curve_node.GetID())
        return curve_node

    def propose_landmarks(self, volume_node, centerline_node, landmarks_node=None):
        """Point list with proposed P, D (and S, E where found) on the centerline, for the user to confirm."""
        volume = mrml.volume_from_node(volume_node)
        proposal = propose_landmarks(volume, mrml.markups_from_node(centerline_node).points_ras)
        if landmarks_node is None:
            landmarks_node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "Landmarks")
        labels = [label for label in ("S", "P", "D", "E") if label in proposal]
        mrml.set_control_points(landmarks_node, np.array([proposal[label] for label in labels]), labels)
        self.getParameterNode().SetNodeReferenceID("Landmarks", landmarks_node.GetID())
        return landmarks_node

    def export(self, result, out_dir):
        """Write the per-lesion files of ``ctoplaque analyze`` for an analyzed lesion into ``out_dir``."""
        document = result.document
        return write_lesion_files(out_dir, result.volume, result.analysis, document["lesion_id"],
                                  document["patient_id"], document["inputs"], document["observer"],
                                  clinical_items=document["clinical_items"])


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
        truth = json.load(open(paths["truth"]))
        self.delayDisplay("Analyzing")
        result = CTOPlaqueLogic().analyze(volume, centerline, landmarks, lesion_id="sample")
        self.assertAlmostEqual(result.document["occlusion_length_mm"], truth["occlusion_length_mm"], delta=0.5)
        self.assertAlmostEqual(result.document["total_plaque_volume_mm3"], truth["total_plaque_volume_mm3"],
                               delta=0.1 * truth["total_plaque_volume_mm3"])
        written = CTOPlaqueLogic().export(result, os.path.join(folder, "results"))
        self.assertTrue(os.path.isfile(written["lesion_json"]))
        self.delayDisplay("Test passed")
