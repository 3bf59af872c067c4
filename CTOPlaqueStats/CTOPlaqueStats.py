"""CTOPlaqueStats: cohort statistics of CTO plaque measurements (Slicer scripted module).

Gathers per-lesion exports of the CTOPlaque module with clinical data, compares outcome groups,
fits univariable and adjusted logistic models and writes an offline HTML report. The statistics
live in the Qt-free package CTOPlaqueStatsLib beside this file; it is imported on first use, because
Slicer imports this file at start-up, before the packages it needs (pandas, scipy) may be installed.
"""

import json
import os

import slicer
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)

from CTOPlaque import ensure_python_dependencies, forget_modules


class CTOPlaqueStats(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = "CTO Plaque Statistics"
        parent.categories = ["Cardiac"]
        parent.dependencies = ["CTOPlaque"]
        parent.contributors = ["CTOPlaque developers"]
        parent.helpText = (
            "Cohort analysis of CTO lesion exports: group comparisons (t / Mann-Whitney, chi-square / Fisher), "
            "univariable and adjusted logistic regression (Firth's method under separation), forest and box "
            "plots, and an HTML report.")
        parent.acknowledgementText = (
            "Statistical design after Xing et al., Quant Imaging Med Surg 2022;12(7):3625-3639.")


# Parameter node: the columns picked for each role of the analysis (a JSON list each), the bootstrap count, the
# reference levels as typed ("vendor=GE, smoking=never"), the t-test ("welch" or "student") and the labels CSV path.
COLUMN_PARAMETERS = ("Outcomes", "Predictors", "Adjust", "PatientVars", "BaseModel", "Added")
BOOTSTRAP_PARAMETER = "Bootstrap"
REFERENCES_PARAMETER = "References"
T_TEST_PARAMETER = "TTest"
LABELS_PARAMETER = "LabelsCSV"


class CTOPlaqueStatsWidget(ScriptedLoadableModuleWidget):
    """Panel: exports folder, clinical CSV, the columns of each role (outcomes, predictors, adjustment, patient
    variables, base and added prediction models) picked from the cohort's columns, bootstrap resamples, reference
    levels, t-test, labels CSV, Run, results tables, Open report. Every choice lives in the parameter node, which
    the Logic reads."""

    COLUMN_BOXES = {"outcomesComboBox": "Outcomes", "predictorsComboBox": "Predictors", "adjustComboBox": "Adjust",
                    "patientVarsComboBox": "PatientVars", "baseModelComboBox": "BaseModel",
                    "addedComboBox": "Added"}
    # The kinds of column (cohort_columns) each box offers, where not only the numeric ones: a text column is
    # dummy-coded when adjusted for and compared per level as a patient variable (as a predictor it would only be
    # compared, not modelled).
    COLUMN_KINDS = {"outcomesComboBox": ("binary",), "adjustComboBox": ("numeric", "categorical"),
                    "patientVarsComboBox": ("numeric", "categorical")}
    DEFAULT_PREDICTORS = ("dense_calcium_pav", "fibrous_pav", "fibrofatty_pav", "necrotic_core_pav",
                          "occlusion_length_mm")

    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        ensure_python_dependencies()
        panel = slicer.util.loadUI(self.resourcePath("UI/CTOPlaqueStats.ui"))
        self.layout.addWidget(panel)
        self.ui = slicer.util.childWidgetVariables(panel)
        self.logic = CTOPlaqueStatsLogic()
        self.ui.comparisonTableView.setMRMLScene(slicer.mrmlScene)
        self.ui.logisticTableView.setMRMLScene(slicer.mrmlScene)
        self.ui.loadColumnsButton.connect("clicked(bool)", self.onLoadColumns)
        self.ui.runButton.connect("clicked(bool)", self.onRun)
        self.ui.openReportButton.connect("clicked(bool)", self.onOpenReport)
        for name in self.COLUMN_BOXES:
            getattr(self.ui, name).connect("checkedIndexesChanged()", self.updateParameterNodeFromGUI)
        self.ui.bootstrapSpinBox.connect("valueChanged(int)", self.updateParameterNodeFromGUI)
        self.ui.referencesLineEdit.connect("editingFinished()", self.updateParameterNodeFromGUI)
        self.ui.labelsPathLineEdit.connect("currentPathChanged(QString)", self.updateParameterNodeFromGUI)
        for key, text in self.logic.t_tests().items():
            self.ui.tTestComboBox.addItem(text, key)
        self.ui.tTestComboBox.connect("currentIndexChanged(int)", self.updateParameterNodeFromGUI)
        self.result = None
        self._updating_gui = False
        self.logic.setDefaultParameters(self.logic.getParameterNode())
        self.updateGUIFromParameterNode()

    def updateGUIFromParameterNode(self, *_):
        """Check the columns the parameter node names for each role (those the boxes offer); the bootstrap count,
        reference levels, t-test and labels CSV. Setting a widget emits its change signal;
        updateParameterNodeFromGUI ignores those meanwhile."""
        import qt

        parameters = self.logic.getParameterNode()
        self._updating_gui = True
        try:
            for name, key in self.COLUMN_BOXES.items():
                box, chosen = getattr(self.ui, name), set(self.logic.columns_of(parameters, key))
                for index in range(box.count):
                    state = qt.Qt.Checked if box.itemText(index) in chosen else qt.Qt.Unchecked
                    box.setCheckState(box.model().index(index, 0), state)
            self.ui.bootstrapSpinBox.value = int(parameters.GetParameter(BOOTSTRAP_PARAMETER))
            self.ui.referencesLineEdit.text = parameters.GetParameter(REFERENCES_PARAMETER)
            self.ui.tTestComboBox.setCurrentIndex(self.ui.tTestComboBox.findData(parameters.GetParameter(T_TEST_PARAMETER)))
            self.ui.labelsPathLineEdit.currentPath = parameters.GetParameter(LABELS_PARAMETER)
        finally:
            self._updating_gui = False

    def updateParameterNodeFromGUI(self, *_):
        if self._updating_gui:
            return
        parameters = self.logic.getParameterNode()
        for name, key in self.COLUMN_BOXES.items():
            parameters.SetParameter(key, json.dumps(self._checked(getattr(self.ui, name))))
        parameters.SetParameter(BOOTSTRAP_PARAMETER, str(self.ui.bootstrapSpinBox.value))
        parameters.SetParameter(REFERENCES_PARAMETER, self.ui.referencesLineEdit.text)
        parameters.SetParameter(T_TEST_PARAMETER, self.ui.tTestComboBox.currentData)
        parameters.SetParameter(LABELS_PARAMETER, self.ui.labelsPathLineEdit.currentPath)

    def onReload(self):
        """Reload re-reads CTOPlaqueStatsLib too; CTOPlaqueLib stays as the CTO Plaque module loaded it."""
        forget_modules("CTOPlaqueStatsLib")
        ScriptedLoadableModuleWidget.onReload(self)

    def onLoadColumns(self):
        """Fill the pickers (binary columns as outcomes; numeric columns for every other role, and categorical text
        columns too for adjustment and patient variables, where ``stats`` uses them) and check what the parameter
        node holds; predictors default to the plaque PAVs and the occlusion length."""
        with slicer.util.tryWithErrorDisplay("Could not read the cohort.", waitCursor=True):
            columns = self.logic.cohort_columns(self.ui.exportsDirectoryButton.directory,
                                                self.ui.clinicalPathLineEdit.currentPath or None)
            self._updating_gui = True
            try:
                for name in self.COLUMN_BOXES:
                    box = getattr(self.ui, name)
                    box.clear()
                    for column in [c for kind in self.COLUMN_KINDS.get(name, ("numeric",)) for c in columns[kind]]:
                        box.addItem(column)
            finally:
                self._updating_gui = False
            parameters = self.logic.getParameterNode()
            if not self.logic.columns_of(parameters, "Predictors"):
                defaults = [c for c in columns["numeric"] if c in self.DEFAULT_PREDICTORS]
                parameters.SetParameter("Predictors", json.dumps(defaults))
            self.updateGUIFromParameterNode()
            self.ui.runButton.enabled = True

    @staticmethod
    def _checked(box):
        return [box.itemText(index.row()) for index in box.checkedIndexes()]

    def onRun(self):
        with slicer.util.tryWithErrorDisplay("Statistics failed.", waitCursor=True):
            self.updateParameterNodeFromGUI()
            self.result = self.logic.run(
                self.ui.exportsDirectoryButton.directory, self.ui.clinicalPathLineEdit.currentPath or None,
                self.logic.stats_request(self.logic.getParameterNode()), self.ui.outputDirectoryButton.directory)
            self.ui.comparisonTableView.setMRMLTableNode(self.result.comparison_table)
            self.ui.logisticTableView.setMRMLTableNode(self.result.logistic_table)
            self.ui.openReportButton.enabled = True
            slicer.util.setSliceViewerLayers(background=self.result.forest_image, fit=True)

    def onOpenReport(self):
        import qt

        qt.QDesktopServices.openUrl(qt.QUrl.fromLocalFile(self.result.stats.paths["report"]))


class CTOPlaqueStatsResult:
    def __init__(self, stats, comparison_table, logistic_table, problems_table, forest_image):
        self.stats = stats
        self.comparison_table = comparison_table
        self.logistic_table = logistic_table
        self.problems_table = problems_table
        self.forest_image = forest_image


class CTOPlaqueStatsLogic(ScriptedLoadableModuleLogic):
    """Runs the cohort analysis of ``ctoplaque cohort`` + ``ctoplaque stats`` and shows tables in the scene."""

    def setDefaultParameters(self, parameterNode):
        """The defaults of ``ctoplaque stats`` where the node has none: the bootstrap count (its minimum, 200) and
        the t-test (StatsRequest's, Welch's)."""
        from CTOPlaqueStatsLib.analysis import StatsRequest
        from CTOPlaqueStatsLib.options import MIN_BOOTSTRAP

        defaults = {BOOTSTRAP_PARAMETER: str(MIN_BOOTSTRAP), T_TEST_PARAMETER: StatsRequest([], []).t_test}
        for key, value in defaults.items():
            if not parameterNode.GetParameter(key):
                parameterNode.SetParameter(key, value)

    @staticmethod
    def t_tests() -> dict:
        """The t-tests a run can use: {"welch": "Welch's t-test", "student": "Student's t-test"}."""
        from CTOPlaqueStatsLib.options import T_TESTS

        return dict(T_TESTS)

    @staticmethod
    def columns_of(parameterNode, key) -> list:
        """The columns a parameter (one of COLUMN_PARAMETERS) holds: a JSON list, [] when unset."""
        return json.loads(parameterNode.GetParameter(key) or "[]")

    def stats_request(self, parameterNode):
        """The StatsRequest of the parameter node: the columns of every role, the bootstrap count, the reference
        levels (comma-separated COLUMN=LEVEL; CTOPlaqueInputError for an item without '='), the t-test and the
        labels CSV, as ``ctoplaque stats`` takes them from --bootstrap, --reference, --t-test and --labels."""
        from CTOPlaqueStatsLib.analysis import StatsRequest, references_from_pairs

        outcomes, predictors, adjust, patient_vars, base, added = (self.columns_of(parameterNode, key)
                                                                   for key in COLUMN_PARAMETERS)
        pairs = [pair for pair in parameterNode.GetParameter(REFERENCES_PARAMETER).split(",") if pair.strip()]
        return StatsRequest(outcomes=outcomes, predictors=predictors, adjust=adjust, patient_vars=patient_vars,
                            base_model=base, added=added,
                            bootstrap_resamples=int(parameterNode.GetParameter(BOOTSTRAP_PARAMETER)),
                            references=references_from_pairs(pairs),
                            t_test=parameterNode.GetParameter(T_TEST_PARAMETER),
                            labels_csv=parameterNode.GetParameter(LABELS_PARAMETER))

    def cohort_columns(self, exports_folder, clinical_path) -> dict:
        """Columns of the cohort usable as outcomes ("binary"), as numbers ("numeric") and as categories of text
        ("categorical", e.g. a vendor or smoking never/former/current)."""
        from CTOPlaqueStatsLib.cohort import build_cohort
        from CTOPlaqueStatsLib.problems import ProblemLog
        from CTOPlaqueStatsLib.variables import binary_outcome, is_categorical_text, numeric_variable

        cohort = build_cohort([exports_folder], clinical_path, ProblemLog())
        quiet = ProblemLog()
        columns = [c for c in cohort.columns if c not in ("patient_id", "lesion_id", "observer", "source_file")]
        numeric = [c for c in columns if numeric_variable(cohort[c], c, quiet) is not None]
        binary = [c for c in numeric if binary_outcome(cohort[c], c, quiet) is not None]
        categorical = [c for c in columns if is_categorical_text(cohort[c])]
        return {"binary": binary, "numeric": numeric, "categorical": categorical}

    def run(self, exports_folder, clinical_path, request, out_dir):
        """Cohort, comparisons, logistic models, figures and report in ``out_dir`` (CTOPlaqueStatsLib.analysis);
        the comparison, logistic and problems tables as table nodes, the forest plot as an image node."""
        from CTOPlaqueLib import mrml
        from CTOPlaqueStatsLib.analysis import run_stats
        from CTOPlaqueStatsLib.cohort import build_cohort
        from CTOPlaqueStatsLib.problems import ProblemLog

        problems = ProblemLog()
        cohort = build_cohort([exports_folder], clinical_path, problems)
        stats = run_stats(cohort, request, out_dir, problems)
        scene = slicer.mrmlScene
        tables = [mrml.table_from_rows(scene, frame.to_dict("records") or [{"empty": ""}], name)
                  for frame, name in ((stats.comparison, "Cohort comparison"), (stats.logistic, "Logistic regression"),
                                      (stats.problems, "Cohort problems"))]
        forest = self._image_node(stats.paths["forest"], "Forest plot")
        return CTOPlaqueStatsResult(stats, *tables, forest)

    @staticmethod
    def _image_node(path, name):
        """A PNG figure as an RGB vector volume node, to show in a slice view.

        vtkPNGReader puts the picture's bottom row at j = 0; with I towards the patient's left and J
        anterior, the axial view (screen right = left, up = anterior) shows it upright, not mirrored."""
        import vtk

        reader = vtk.vtkPNGReader()
        reader.SetFileName(path)
        reader.Update()
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLVectorVolumeNode", name)
        node.SetAndObserveImageData(reader.GetOutput())
        node.SetIJKToRASDirections(-1, 0, 0, 0, 1, 0, 0, 0, 1)
        node.CreateDefaultDisplayNodes()
        return node


class CTOPlaqueStatsTest(ScriptedLoadableModuleTest):
    def runTest(self):
        slicer.mrmlScene.Clear(0)
        self.test_CTOPlaqueStats_synthetic_cohort()

    def write_synthetic_exports(self, folder):
        """40 lesion exports whose crossing success falls with the dense-calcium PAV, and a clinical CSV."""
        import json

        import numpy as np

        exports = os.path.join(folder, "exports")
        os.makedirs(exports)
        rng = np.random.default_rng(0)
        clinical = ["patient_id,lesion_id,success,age"]
        for index in range(40):
            calcium = float(rng.uniform(0, 60))
            volumes = {"necrotic_core": 100 - calcium, "fibrofatty": 20.0, "fibrous": 50.0, "dense_calcium": calcium}
            total = sum(volumes.values())
            document = {"schema": "ctoplaque.lesion/1", "lesion_id": f"L{index}", "patient_id": f"P{index}",
                        "observer": "", "occlusion_length_mm": float(rng.uniform(5, 40)),
                        "total_plaque_volume_mm3": total, "vessel_volume_mm3": total, "volumes_mm3": volumes,
                        "pav_percent": {k: 100 * v / total for k, v in volumes.items()},
                        "noncalcified_volume_mm3": total - calcium, "noncalcified_pav_percent": 0.0,
                        "unclassified_volume_mm3": 0.0, "reference": {}, "morphology": {},
                        "software": {"name": "CTOPlaque", "version": "test"}}
            with open(os.path.join(exports, f"L{index}.lesion.json"), "w") as handle:
                json.dump(document, handle)
            clinical.append(f"P{index},L{index},{int(rng.random() < 0.8 - calcium / 100)},{rng.normal(60, 8):.0f}")
        clinical_path = os.path.join(folder, "clinical.csv")
        with open(clinical_path, "w") as handle:
            handle.write("\n".join(clinical) + "\n")
        return exports, clinical_path

    def test_CTOPlaqueStats_synthetic_cohort(self):
        import tempfile

        from CTOPlaqueStatsLib.analysis import StatsRequest

        folder = tempfile.mkdtemp(prefix="ctoplaquestats_test_")
        exports, clinical_path = self.write_synthetic_exports(folder)
        request = StatsRequest(outcomes=["success"], predictors=["dense_calcium_pav"], adjust=["age"])
        result = CTOPlaqueStatsLogic().run(exports, clinical_path, request, os.path.join(folder, "out"))
        self.assertEqual(result.logistic_table.GetTable().GetNumberOfRows(), 2)
        self.assertTrue(os.path.isfile(result.stats.paths["report"]))
        self.delayDisplay("Test passed")
