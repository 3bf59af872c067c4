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
