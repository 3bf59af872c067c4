"""CTOPlaqueStatsLogic headless on real MRML table nodes, checked against statsmodels."""

import numpy as np
import pytest
import statsmodels.api as sm


def test_stats_logic_tables_hold_the_statsmodels_odds_ratio(mrml_scene, tmp_path):
    from CTOPlaqueStats import CTOPlaqueStatsLogic, CTOPlaqueStatsTest
    from CTOPlaqueStatsLib.analysis import StatsRequest
    from CTOPlaqueStatsLib.cohort import build_cohort
    from CTOPlaqueStatsLib.problems import ProblemLog

    exports, clinical = CTOPlaqueStatsTest().write_synthetic_exports(str(tmp_path))
    request = StatsRequest(outcomes=["success"], predictors=["dense_calcium_pav"], adjust=["age"])
    result = CTOPlaqueStatsLogic().run(exports, clinical, request, str(tmp_path / "out"))
    table = result.logistic_table.GetTable()
    columns = [table.GetColumnName(i) for i in range(table.GetNumberOfColumns())]
    assert columns[:4] == ["outcome", "predictor", "model", "or"]
    univariate = table.GetValue(0, columns.index("or")).ToDouble()

    cohort = build_cohort([exports], clinical, ProblemLog())
    design = sm.add_constant(cohort[["dense_calcium_pav"]].astype(float))
    reference = sm.GLM(cohort["success"].astype(float), design, family=sm.families.Binomial()).fit(tol=1e-13)
    assert univariate == pytest.approx(np.exp(reference.params["dense_calcium_pav"]), rel=1e-6)
    assert result.comparison_table.GetTable().GetNumberOfRows() >= 1
    width, height, _ = result.forest_image.GetImageData().GetDimensions()
    assert width > 100 and height > 50 and result.forest_image.GetImageData().GetNumberOfScalarComponents() >= 3


def test_stats_module_self_test_passes_headless(mrml_scene):
    from CTOPlaqueStats import CTOPlaqueStatsTest

    CTOPlaqueStatsTest().test_CTOPlaqueStats_synthetic_cohort()


def test_logic_offers_binary_outcomes_and_numeric_predictors(mrml_scene, tmp_path):
    from CTOPlaqueStats import CTOPlaqueStatsLogic, CTOPlaqueStatsTest

    exports, clinical = CTOPlaqueStatsTest().write_synthetic_exports(str(tmp_path))
    columns = CTOPlaqueStatsLogic().cohort_columns(exports, clinical)
    assert columns["binary"] == ["success"]
    assert {"dense_calcium_pav", "occlusion_length_mm", "age", "success"} <= set(columns["numeric"])
    assert "lesion_id" not in columns["numeric"]


def test_figure_reads_upright_and_unmirrored_in_the_axial_view(mrml_scene, tmp_path):
    """A PNG's top-left pixel must be at the top left of Slicer's axial (Red) view, whose screen x axis
    points to the patient's left and y axis anteriorly (vtkMRMLSliceNode's axial SliceToRAS)."""
    import matplotlib.pyplot as plt
    import slicer
    import vtk
    from vtk.util import numpy_support

    from CTOPlaqueStats import CTOPlaqueStatsLogic

    picture = np.zeros((20, 30, 3), np.uint8)
    picture[0, 0] = [255, 0, 0]  # top left, red
    path = str(tmp_path / "figure.png")
    plt.imsave(path, picture)
    node = CTOPlaqueStatsLogic._image_node(path, "figure")
    image = node.GetImageData()
    columns, rows, _ = image.GetDimensions()
    pixels = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(rows, columns, -1)
    (j, i), = np.argwhere((pixels[..., 0] == 255) & (pixels[..., 1] == 0))
    ijk_to_ras = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(ijk_to_ras)
    axial = vtk.vtkMatrix3x3()
    slicer.vtkMRMLSliceNode.GetAxialSliceToRASMatrix(axial)
    slice_to_ras = np.array([[axial.GetElement(r, c) for c in range(3)] for r in range(3)])

    def screen(i, j):
        ras = np.array(ijk_to_ras.MultiplyPoint((i, j, 0, 1))[:3])
        return slice_to_ras.T @ ras  # orthonormal: RAS -> screen x, y

    corners = np.array([screen(a, b) for a in (0, columns - 1) for b in (0, rows - 1)])
    red = screen(i, j)
    assert red[0] == corners[:, 0].min() and red[1] == corners[:, 1].max()
